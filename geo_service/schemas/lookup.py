"""Answers of the lookup endpoints: who covers a point, and a batch of points."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Point


class Position(BaseModel):
    """A point in WGS 84 (converted from the input CRS)."""

    lon: float
    lat: float


class CodeName(BaseModel):
    """An area or plan named by code."""

    code: str
    name: str


class LookupVillage(CodeName):
    """The village or community the point lies in."""

    kind: str = Field(description="village or community")


class LookupPlan(CodeName):
    """The beat plan in force at the moment asked about."""

    effective_from: datetime | None


class LookupPerson(BaseModel):
    """A person covering the point: community officer, auxiliary officer, grid worker, ..."""

    code: str
    name: str
    role: str
    phone: str | None
    area_kind: str = Field(description="The area the assignment names: village, grid or beat")
    valid_from: datetime


class LookupCamera(BaseModel):
    """A camera whose view sector contains the point."""

    code: str
    name: str
    kind: str = Field(description="skynet, xueliang or other")
    status: str = Field(description="working, faulty or offline")
    heading: float
    distance_m: float


class LookupMarker(BaseModel):
    """A working rescue marker (rescue pole or lifebuoy) in reach."""

    code: str
    kind: str
    status: str
    water_body: str | None
    distance_m: float


class LookupWaterBody(BaseModel):
    """A water body near the point."""

    code: str
    name: str
    kind: str
    distance_m: float


class LookupAnswer(BaseModel):
    """Who covers a point at a moment (one SQL call, sql/functions/20_lookup.sql)."""

    outside: bool = Field(description="Always false here: a point outside answers 404")
    point: Position
    at: datetime
    village: LookupVillage
    grid: CodeName
    beat: CodeName | None = Field(description="None when no plan in force places the grid")
    plan: LookupPlan | None = Field(description="None when no published plan is in force")
    people: list[LookupPerson]
    cameras: list[LookupCamera] = Field(description="Nearest first")
    rescue_markers: list[LookupMarker] = Field(description="At most 5, nearest first")
    water_bodies: list[LookupWaterBody] = Field(description="Nearest first")


class BatchPointCodes(BaseModel):
    """The codes of one point of a GeoJSON batch (null outside the jurisdiction)."""

    index: int = Field(ge=0, description="Position of the point in the input")
    village_code: str | None
    grid_code: str | None
    beat_code: str | None


class BatchFeature(BaseModel):
    """One located point, in input order, with the input's id (or its index)."""

    type: Literal["Feature"]
    id: object = Field(description="The input feature's id, or its index")
    geometry: Point
    properties: BatchPointCodes


class BatchFeatureCollection(BaseModel):
    """The located points of a GeoJSON batch."""

    type: Literal["FeatureCollection"]
    features: list[BatchFeature]


BATCH_CSV_DOC = (
    "CSV with the header index,id,lon,lat,village_code,grid_code,beat_code; one row per input "
    "point in input order (coordinates as sent); empty codes outside the jurisdiction."
)
