"""Answers of the area endpoints: one area as a GeoJSON Feature, what a person covers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class AreaPerson(BaseModel):
    """A person assigned to the area at the moment."""

    code: str
    name: str
    role: str
    phone: str | None
    valid_from: datetime
    valid_to: datetime | None


class AreaCounts(BaseModel):
    """What lies in an area (points placed by the boundary rule)."""

    grids: int | None = Field(description="Grids the area is made of (null when none)")
    rental_houses: int
    cameras: int
    water_markers: int
    incidents_last_30_days: int


class Neighbour(BaseModel):
    """An area of the same kind sharing a border."""

    code: str
    name: str
    shared_border_m: float


class AreaProperties(BaseModel):
    """Details of one area at a moment."""

    kind: Literal["station", "village", "grid", "beat"]
    code: str
    name: str
    at: datetime
    area_km2: float
    details: dict[str, Any] = Field(
        description="By kind: village {kind}; grid {village, beat}; beat {plan, plan_status, "
        "effective_from}; station {}"
    )
    people: list[AreaPerson]
    counts: AreaCounts
    neighbours: list[Neighbour]


class AreaFeature(BaseModel):
    """One area as a GeoJSON Feature (sql/functions/30_coverage.sql, area_details)."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: AreaProperties


class PersonSummary(BaseModel):
    """The person asked about."""

    code: str
    name: str
    role: str
    phone: str | None


class Assignment(BaseModel):
    """An assignment of the person to an area, with its validity period."""

    area_kind: Literal["station", "village", "grid", "beat"]
    code: str
    name: str
    plan: str | None = Field(description="The beat's plan (beats only)")
    role: str
    valid_from: datetime
    valid_to: datetime | None


class CoveredArea(Assignment):
    """An area the person covers at the moment, with counts of what lies in it."""

    counts: AreaCounts


class PersonCoverage(BaseModel):
    """The areas a person covers at a moment, and their whole assignment history."""

    person: PersonSummary
    at: datetime
    areas: list[CoveredArea]
    history: list[Assignment]


class PhoneReveal(BaseModel):
    """Why a masked phone number is asked for in full (written to the audit trail)."""

    reason: str = Field(min_length=4, max_length=500, description="Why the number is needed")


class RevealedPhone(BaseModel):
    """A person's phone number in full."""

    code: str
    name: str
    phone: str | None
