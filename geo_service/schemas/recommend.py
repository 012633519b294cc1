"""Answer of the recommended units: an incident and the units that could go, fastest first."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RecommendedIncident(BaseModel):
    """The incident the units would go to."""

    call_no: str
    category: str
    status: str
    received_at: datetime
    beat: str | None = Field(
        description="Code of the incident's beat (plan in force when received)"
    )
    lon: float
    lat: float


class RecommendedUnit(BaseModel):
    """A unit on duty and available, with its way to the incident."""

    call_sign: str
    unit_kind: Literal["car", "motorbike", "ebike", "foot"]
    person: str = Field(description="Code of the person on duty under the call sign")
    person_name: str
    lon: float | None = Field(description="Last position (WGS 84); null when none is known")
    lat: float | None
    fixed_at: datetime | None = Field(description="Time of the last position")
    road_seconds: float | None = Field(
        description="Travel time by road in seconds (speeds by road kind and unit kind); null "
        "when the unit has no position or no road it may use joins it to the incident"
    )
    road_minutes: float | None
    distance_m: float | None = Field(description="Straight-line distance in metres")
    own_beat: bool = Field(description="The unit's person is assigned to the incident's beat")


class Recommendation(BaseModel):
    """The incident and its recommended units, fastest by road first."""

    incident: RecommendedIncident
    units: list[RecommendedUnit]
