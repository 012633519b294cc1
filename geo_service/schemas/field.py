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


SweepKind = Literal["rental_house", "water_marker", "camera"]


class SweepIn(BaseModel):
    """A sweep to open (梳网清格): a period, its grids or villages, what must be visited."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    grids: list[str] = Field(default_factory=list, max_length=5000, description="Grid codes")
    villages: list[str] = Field(
        default_factory=list, max_length=500, description="Village codes: every grid of them"
    )
    target_kinds: list[SweepKind] = Field(
        min_length=1, max_length=3, description="rental_house, water_marker, camera"
    )
    note: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _consistent(self) -> SweepIn:
        """A period that ends after it starts; grids or villages, one of them."""
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        if bool(self.grids) == bool(self.villages):
            raise ValueError("give grids or villages (one of them, not empty)")
        if (self.ends_at - self.starts_at).days > 366:
            raise ValueError("a sweep's period is at most a year long")
        return self


class SweepSummary(BaseModel):
    """A sweep with the counts of its targets the user sees."""

    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    target_kinds: list[SweepKind]
    opened_by: str
    opened_at: datetime
    note: str | None
    status: Literal["upcoming", "open", "finished"]
    grids: list[str]
    targets: int
    done: int
    overdue: int = Field(description="Targets not done when the period ended")
    done_share: float | None


class GridProgress(BaseModel):
    """A grid's targets, done and overdue."""

    grid: str
    name: str
    targets: int
    done: int
    overdue: int


class PersonProgress(BaseModel):
    """A grid worker's grids in the sweep and their targets done."""

    person: str
    name: str
    grids: list[str]
    targets: int
    done: int


class InspectorDone(BaseModel):
    """How many targets an inspector did (the first inspection of each within the period)."""

    inspector: str
    done: int


class OverdueTarget(BaseModel):
    """A target not done when the period ended."""

    kind: SweepKind
    code: str
    grid: str


class TargetProperties(BaseModel):
    """A target on the map: done or not."""

    kind: SweepKind
    code: str
    grid: str
    done: bool
    done_at: datetime | None
    done_by: str | None
    overdue: bool


class TargetFeature(BaseModel):
    """A target as a GeoJSON point."""

    type: Literal["Feature"]
    id: str
    geometry: dict
    properties: TargetProperties


class TargetMap(BaseModel):
    """The targets done and not done (GeoJSON)."""

    type: Literal["FeatureCollection"]
    features: list[TargetFeature]


class SweepDetail(BaseModel):
    """A sweep's progress per grid and person, overdue targets and a map."""

    sweep: SweepSummary
    by_grid: list[GridProgress]
    by_person: list[PersonProgress]
    done_by: list[InspectorDone]
    overdue: list[OverdueTarget]
    map: TargetMap


class WaterPatrolDays(BaseModel):
    """A water marked for patrol on some day of the table: the days it was marked (its mark
    met the day's evening) and, of those, the days it was walked."""

    code: str
    name: str
    days: int = Field(description="Days of the table the water was marked")
    days_walked: int = Field(description="Days it was marked and walked")


class WalkedWater(BaseModel):
    """A water walked on a day: its evening check-ins and who made them."""

    code: str
    check_ins: int
    by: list[str]


class PatrolDay(BaseModel):
    """One day: the waters marked for patrol walked that evening, and those not."""

    date: date
    walked: list[WalkedWater]
    not_walked: list[str]


class PatrolTotals(BaseModel):
    """Water-days in the table and how many were walked."""

    water_days: int
    walked: int


class PatrolTable(BaseModel):
    """Dusk shore patrols (傍晚巡河) per day of the summer months."""

    from_: date = Field(alias="from")
    to: date
    waters: list[WaterPatrolDays]
    days: list[PatrolDay]
    totals: PatrolTotals


class PatrolMark(BaseModel):
    """A water marked for dusk patrol (傍晚巡河)."""

    code: str
    name: str
    marked: bool
    marked_at: datetime


class ReportIn(BaseModel):
    """A report (网格吹哨) as the phone sends it (the ``report`` part of the multipart form)."""

    model_config = ConfigDict(extra="forbid")

    client_id: UUID = Field(description="Made by the client: sending it again stores it once")
    category: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9_]+$",
        description="fire_hazard, water_hazard, road_hazard, environment, dispute, "
        "public_order, help or other (GET /api/v1/departments lists them)",
    )
    note: str = Field(min_length=1, max_length=4000, description="What is wrong, where")
    reported_at: AwareDatetime = Field(description="When it was seen, with an offset")
    lon: float = Field(ge=-180, le=180, description="The place, WGS 84")
    lat: float = Field(ge=-90, le=90, description="The place, WGS 84")


class StepIn(BaseModel):
    """A department's answer to a report (部门报到)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["accept", "close", "note"]
    note: str | None = Field(default=None, max_length=4000)
    at: AwareDatetime | None = Field(default=None, description="Default: now")
    client_id: UUID | None = Field(
        default=None,
        description="Made by the client, one per step: sending it again stores the step once "
        "(the report as it is then answers); one used for another report's step is a 409",
    )


class DepartmentRef(BaseModel):
    """The department a report is routed to."""

    code: str
    name: str
    name_en: str
    kind: Literal["station", "town", "response_team"]


class ReportStep(BaseModel):
    """A step of a report's timeline: route, accept, close or note."""

    kind: Literal["route", "accept", "close", "note"]
    at: datetime
    actor: str
    note: str | None
    department: str | None


class Place(BaseModel):
    """A place, WGS 84."""

    lon: float
    lat: float


class ReportOut(BaseModel):
    """A report with its department, status and timeline."""

    id: int
    client_id: UUID
    category: str
    category_name: str
    category_name_en: str
    department: DepartmentRef
    status: Literal["open", "accepted", "closed"]
    note: str
    place: Place
    grid: str | None
    village: str | None
    reporter: str
    reported_at: datetime
    recorded_at: datetime
    steps: list[ReportStep]
    photos: list[PhotoOut]


class Category(BaseModel):
    """A category of report."""

    code: str
    name: str
    name_en: str


class Department(BaseModel):
    """A department and the categories of report routed to it."""

    code: str
    name: str
    name_en: str
    kind: Literal["station", "town", "response_team"]
    categories: list[Category]
