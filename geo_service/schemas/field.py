"""Requests and answers of the field's endpoints: inspections, dusk patrol check-ins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

ThingKind = Literal["water_marker", "rental_house", "camera", "water_body"]
MarkerResult = Literal["ok", "damaged", "missing", "replaced"]
ItemResult = Literal["ok", "problem"]
# What each kind of thing may be found in.
RESULTS: dict[str, tuple[str, ...]] = {
    "water_marker": ("ok", "damaged", "missing", "replaced"),
    "rental_house": ("pass", "fail"),
    "camera": ("working", "faulty", "offline"),
    "water_body": ("patrolled", "hazard"),
}
Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")


class FireSafetyItems(BaseModel):
    """A rental house's fire-safety items (消防安全检查): ok, or a problem to fix."""

    model_config = ConfigDict(extra="forbid")

    extinguisher: ItemResult = Field(description="灭火器: present and in date")
    escape_route: ItemResult = Field(description="逃生通道: clear")
    wiring: ItemResult = Field(description="电线: no loose or overloaded wiring")
    ebike_indoor_charging: ItemResult = Field(
        description="电动车室内充电: ok when no e-bike is charged indoors, problem when one is"
    )


class PoleSeen(BaseModel):
    """A rescue pole (or other marker) seen on the way of a dusk patrol check-in."""

    model_config = ConfigDict(extra="forbid")

    code: str = Code
    result: MarkerResult
    note: str | None = Field(default=None, max_length=4000)


class InspectionIn(BaseModel):
    """An inspection as the phone sends it (the ``inspection`` part of the multipart form)."""

    model_config = ConfigDict(extra="forbid")

    client_id: UUID = Field(
        description="Made by the client (a UUID): sending the same inspection again stores it once"
    )
    kind: ThingKind
    code: str = Code
    inspected_at: AwareDatetime = Field(
        description="When it was checked, with an offset (2026-07-01T18:30:00+08:00)"
    )
    result: str = Field(
        description="water_marker: ok, damaged, missing, replaced; rental_house: pass, fail; "
        "camera: working, faulty, offline; water_body: patrolled, hazard"
    )
    items: FireSafetyItems | None = Field(
        default=None, description="rental_house only, and required there"
    )
    fix_what: str | None = Field(
        default=None, max_length=2000, description="What must be fixed (required on fail)"
    )
    fix_by: date | None = Field(default=None, description="By when (required on fail)")
    note: str | None = Field(default=None, max_length=4000)
    lon: float | None = Field(default=None, ge=-180, le=180, description="Inspector, WGS 84")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Inspector, WGS 84")
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    poles: list[PoleSeen] = Field(
        default_factory=list,
        max_length=50,
        description="water_body only: the markers seen on the way, each recorded too",
    )

    @model_validator(mode="after")
    def _consistent(self) -> InspectionIn:
        """Results, items, fixes and poles that fit the kind of thing."""
        allowed = RESULTS[self.kind]
        if self.result not in allowed:
            raise ValueError(
                f"result {self.result!r} is not one of a {self.kind}'s: {', '.join(allowed)}"
            )
        if self.kind == "rental_house":
            if self.items is None:
                raise ValueError("a rental house's inspection gives its fire-safety items")
            problems = [k for k, v in self.items.model_dump().items() if v == "problem"]
            if self.result == "pass" and problems:
                raise ValueError(f"result pass with items found a problem: {', '.join(problems)}")
        elif self.items is not None:
            raise ValueError("items are the fire-safety items of a rental house only")
        if self.result == "fail" and (not self.fix_what or self.fix_by is None):
            raise ValueError("a failed check says what must be fixed (fix_what) by when (fix_by)")
        if self.poles and self.kind != "water_body":
            raise ValueError("poles are seen on a water body's check-in only")
        if (self.lon is None) != (self.lat is None):
            raise ValueError("the inspector's position is lon and lat together")
        return self


class InspectorPosition(BaseModel):
    """Where the inspector was (WGS 84)."""

    lon: float
    lat: float
    accuracy_m: float | None


class PhotoOut(BaseModel):
    """A stored photo: its URL, type, size and the SHA-256 of the stored bytes."""

    n: int
    media_type: Literal["image/jpeg", "image/png"]
    width: int
    height: int
    bytes: int
    sha256: str
    url: str


class PoleOut(BaseModel):
    """A marker inspected on the way of a check-in."""

    id: int
    code: str
    result: str


class InspectionOut(BaseModel):
    """A stored inspection."""

    id: int
    client_id: UUID
    kind: ThingKind
    code: str
    inspected_at: datetime
    recorded_at: datetime
    inspector: str
    result: str
    items: FireSafetyItems | None
    fix_what: str | None
    fix_by: date | None
    note: str | None
    position: InspectorPosition | None
    check_in_id: int | None
    photos: list[PhotoOut]
    poles: list[PoleOut] | None


class ThingState(BaseModel):
    """A thing's current state as its inspections left it."""

    model_config = ConfigDict(extra="allow")

    status: str | None
    last_inspected_at: datetime | None


class InspectionHistory(BaseModel):
    """A thing's current state and its inspections, newest first."""

    kind: ThingKind
    code: str
    state: ThingState
    inspections: list[InspectionOut]
