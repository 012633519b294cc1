"""Answer of the overview map's data endpoint: one FeatureCollection per layer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from geo_service.schemas.areas import AreaPerson
from geo_service.schemas.geojson import Geometry


class OverviewProperties(BaseModel):
    """A feature's code, name and layer details; areas (villages, grids, beats) add people."""

    code: str
    name: str | None
    details: dict[str, Any]
    people: list[AreaPerson] | None = Field(
        default=None, description="Areas only: the people assigned at the moment"
    )


class OverviewFeature(BaseModel):
    """One feature of a layer."""

    type: Literal["Feature"]
    geometry: Geometry
    properties: OverviewProperties


class OverviewLayer(BaseModel):
    """One layer: its features in the bbox, first by code, cut at ``limit``."""

    type: Literal["FeatureCollection"]
    total: int = Field(ge=0, description="Features of the layer in the bbox")
    truncated: bool = Field(description="True when limit cut the layer")
    features: list[OverviewFeature]


class OverviewLayers(BaseModel):
    """The layers asked for (every layer by default), keyed by name."""

    villages: OverviewLayer | None = None
    grids: OverviewLayer | None = None
    beats: OverviewLayer | None = None
    water_markers: OverviewLayer | None = None
    rental_houses: OverviewLayer | None = None
    cameras: OverviewLayer | None = None
    work_points: OverviewLayer | None = None
