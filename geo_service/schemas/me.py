"""Answers of "my area" (/api/v1/me): the user's areas, the people covering them, the lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class MyAreaPart(BaseModel):
    """One of the user's areas: a grid (grid worker, community officer) or a village
    (volunteer)."""

    kind: Literal["grid", "village"]
    code: str
    name: str
    village: str | None = None
    village_name: str | None = None
    beat: str | None = Field(default=None, description="Its beat in the plan in force")


class CoveringPerson(BaseModel):
    """A person covering the user's areas now, with their phone as the user may see it."""

    code: str
    name: str
    role: str
    phone: str | None = Field(default=None, description="Masked (138****5678) unless allowed")
    area_kind: str
    area_code: str


class DueList(BaseModel):
    """One list: how many items, how many urgent (overdue, missing, offline), the first
    ``list_limit`` items (each with its ``kind``, ``code``, ``lon`` and ``lat``)."""

    count: int
    urgent: int
    items: list[dict[str, Any]]


class MyLists(BaseModel):
    """The lists of what is due in the user's areas."""

    rentals_due: DueList = Field(description="Rental houses whose fire-safety check is due")
    markers_due: DueList = Field(description="Water markers whose inspection is due")
    markers_broken: DueList = Field(description="Missing or damaged water markers")
    cameras_out: DueList = Field(description="Cameras out of order (faulty or offline)")
    incidents_recent: DueList = Field(description="Recent incidents, without caller details")
    sweep_targets_open: DueList = Field(
        description="Targets of the sweeps open now in the areas, not yet inspected in the "
        "sweep's period (urgent: the sweep ends within due_within_days)"
    )
    reports_mine: DueList = Field(
        description="Your own reports not closed, newest first, with their status, department "
        "and last step (urgent: not yet accepted)"
    )


class MyArea(BaseModel):
    """What the signed-in grid worker, community officer or volunteer covers and what is due
    there."""

    at: datetime
    role: str | None
    user: str | None
    plan: str | None
    due_within_days: int
    marker_due_days: int
    rental_due_days: int
    recent_days: int
    list_limit: int
    areas: list[MyAreaPart]
    people: list[CoveringPerson]
    lists: MyLists


class MyAreaFeature(BaseModel):
    """The basemap around the areas (layer basemap_village, basemap_water, basemap_road), an
    area (layer area), a water marker in the areas (layer water_marker) or an item of a list
    (layer: the list's name)."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: dict[str, Any]


class MyAreaMap(BaseModel):
    """The user's areas and every item of their lists as GeoJSON, with the areas' bbox."""

    type: Literal["FeatureCollection"]
    at: datetime
    bbox: list[float] | None
    features: list[MyAreaFeature]
