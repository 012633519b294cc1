"""Answers of the camera endpoints: view sectors and blind road stretches."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class SectorProperties(BaseModel):
    """A camera and the sector it sees."""

    code: str
    name: str
    kind: str = Field(description="skynet, xueliang or other")
    status: str = Field(description="working, faulty or offline")
    heading: float = Field(description="Degrees clockwise from north")
    fov_deg: float
    range_m: float
    lon: float
    lat: float


class SectorFeature(BaseModel):
    """One camera's view sector as a GeoJSON polygon."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: SectorProperties


class CameraSectors(BaseModel):
    """Every camera's view sector."""

    type: Literal["FeatureCollection"]
    features: list[SectorFeature]


class BeatBlindRoads(BaseModel):
    """Road and blind lengths of one beat (metres, EPSG:4549)."""

    code: str
    name: str
    working_cameras: int
    road_length_m: float
    blind_length_m: float
    blind_share: float | None = Field(description="null for a beat without roads")


class BlindRoadProperties(BaseModel):
    """A stretch of road no working camera sees."""

    beat: str
    road: str
    road_name: str | None
    road_kind: str
    road_length_m: float
    blind_length_m: float


class BlindRoadFeature(BaseModel):
    """One blind stretch as GeoJSON lines."""

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: BlindRoadProperties


class BlindRoads(BaseModel):
    """Blind road stretches of a beat (or every beat) and per-beat totals."""

    type: Literal["FeatureCollection"]
    plan: str
    beats: list[BeatBlindRoads]
    features: list[BlindRoadFeature]
