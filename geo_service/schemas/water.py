"""Answers of the water-safety endpoints: shore gaps and markers by inspection age."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class WaterBodyGaps(BaseModel):
    """One water body's shore and the part of it out of reach (metres, EPSG:4549)."""

    code: str
    name: str
    kind: str
    poles_in_reach: int
    shore_length_m: float
    gap_length_m: float
    gap_share: float | None


class GapTotals(BaseModel):
    """Shore and gap lengths over every water body."""

    shore_length_m: float
    gap_length_m: float


class GapProperties(BaseModel):
    """The water body a gap belongs to."""

    code: str
    name: str
    kind: str
    shore_length_m: float
    gap_length_m: float


class GapFeature(BaseModel):
    """The gaps of one water body as GeoJSON lines."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: GapProperties


class ShoreGaps(BaseModel):
    """Shore farther than ``distance_m`` from every working rescue pole."""

    type: Literal["FeatureCollection"]
    distance_m: float
    water_bodies: list[WaterBodyGaps]
    totals: GapTotals
    features: list[GapFeature]


class MarkerProperties(BaseModel):
    """A water marker with its inspection age at the moment."""

    code: str
    kind: str = Field(description="rescue_pole, lifebuoy, warning_sign or danger_spot")
    status: str = Field(description="ok, damaged or missing")
    water_body: str | None
    water_body_name: str | None
    last_inspected_at: datetime | None
    inspection_age_days: float | None
    inspection_due: bool


class MarkerFeature(BaseModel):
    """One water marker as a GeoJSON point."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: MarkerProperties


class MarkerStatus(BaseModel):
    """Every water marker with status and inspection age."""

    type: Literal["FeatureCollection"]
    at: datetime
    due_days: int
    features: list[MarkerFeature]
