"""Answers of the live map: the board at a moment, and the events the stream sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

IncidentStatus = Literal["received", "dispatched", "arrived", "diverted", "accepted"]
UnitStatus = Literal["available", "dispatched", "on_scene", "off_duty"]


class BoardIncident(BaseModel):
    """An incident open at the moment: its status, age and target."""

    call_no: str
    status: IncidentStatus
    category: str
    received_at: datetime
    age_seconds: float = Field(description="Seconds from the call to the board's moment")
    due_at: datetime = Field(
        description="On scene by then (5 minutes in a community, 10 in a village: settable), "
        "or accepted by the response team for a diverted call"
    )
    arrived_at: datetime | None = Field(description="First arrival, if any by then")
    accepted_at: datetime | None = Field(description="Accepted by the response team, if by then")
    call_signs: list[str] = Field(description="Units sent to it by then")
    lon: float
    lat: float
    grid: str | None
    beat: str | None


class BoardUnit(BaseModel):
    """A unit on duty at the moment (or seen in the log), at its last known position."""

    call_sign: str
    status: UnitStatus
    unit_kind: str | None = Field(description="car, motorbike, ebike or foot; null off duty")
    call_no: str | None = Field(description="The incident it is sent to or on scene of")
    lon: float | None
    lat: float | None
    fixed_at: datetime | None


class AwaitingCallback(BaseModel):
    """A police incident closed in the last CALLBACK_WINDOW_DAYS with no callback (回访) yet."""

    call_no: str
    category: str
    received_at: datetime
    closed_at: datetime
    waiting_seconds: float = Field(description="Seconds from the close to the board's moment")
    call_signs: list[str] = Field(description="Units sent to it")
    lon: float
    lat: float
    grid: str | None
    beat: str | None


class Board(BaseModel):
    """The command room's board as it stood at a moment (from the event log)."""

    at: datetime
    last_event_id: int = Field(
        description="Newest event of the log by then: a stream opened with ?after= this id "
        "continues the board live"
    )
    incidents: list[BoardIncident]
    awaiting_callback: list[AwaitingCallback] = Field(
        description="Police incidents closed in the last CALLBACK_WINDOW_DAYS (3) before the "
        "moment with no callback by then, the longest waiting first"
    )
    units: list[BoardUnit]


class StreamEvent(BaseModel):
    """The data of one event of GET /api/v1/stream (its SSE id is ``id``)."""

    id: int
    at: datetime = Field(description="When it was logged")
    kind: str = Field(description="incident, step, unit, …")
    call_sign: str | None
    grid_id: int | None
    payload: dict[str, Any] = Field(
        description="incident: call_no, status, category, received_at, lon, lat, op; step: "
        "call_no, step, at, actor, source, call_sign, result; unit: call_sign, status, call_no, "
        "lon, lat, fixed_at"
    )
