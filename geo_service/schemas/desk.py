"""Bodies and answers of the command room's desk: calls in, timeline steps, unit positions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_service.crs import InputCRS
from geo_service.moments import MOMENT_DOC, MOMENT_PATTERN
from geo_service.schemas.lookup import CodeName, LookupAnswer, LookupVillage

Category = Literal[
    "theft",
    "fraud",
    "dispute",
    "traffic",
    "public_order",
    "assistance",
    "drowning",
    "non_police",
]
CALL_NO = r"^[A-Za-z0-9_\-]{1,40}$"
CALL_SIGN = r"^[A-Za-z0-9_\-]{1,32}$"
PHONE = r"^[0-9+\-]{3,20}$"
PERSON_CODE = r"^[A-Za-z0-9_\-]{1,64}$"
TEXT = r"^[^\x00]*$"  # PostgreSQL text holds no NUL character
CallbackAnswer = Literal["satisfied", "basically_satisfied", "unsatisfied"]
Moment = Annotated[str, Field(pattern=MOMENT_PATTERN, description=MOMENT_DOC)]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude in the CRS given")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude in the CRS given")]
CrsField = Annotated[InputCRS, Field(description="CRS of lon/lat (default EPSG:4326)")]
Note = Annotated[str, Field(max_length=4000, pattern=TEXT)]


class Strict(BaseModel):
    """A body that names only the fields it has (a typo is refused, not ignored)."""

    model_config = ConfigDict(extra="forbid")


class CallIn(Strict):
    """A call as the call-taker types it (110接警)."""

    call_no: str = Field(pattern=CALL_NO, description="The call's number (unique)")
    received_at: Moment | None = Field(default=None, description="When received; default now")
    caller_phone: str | None = Field(default=None, pattern=PHONE)
    address: str | None = Field(default=None, max_length=500, pattern=TEXT)
    lon: Lon
    lat: Lat
    crs: CrsField = InputCRS.WGS84
    category: Category
    description: str | None = Field(default=None, max_length=4000, pattern=TEXT)
    divert: bool | None = Field(
        default=None,
        description=(
            "Whether a non_police call goes to the response team (民情110) at intake; default "
            "true for non_police; false keeps it with the police (dispatched like any call); "
            "true for another category is refused. Read when the call is first stored."
        ),
    )


class Where(Strict):
    """Where a unit was (for an arrival)."""

    lon: Lon
    lat: Lat
    crs: CrsField = InputCRS.WGS84


class _Step(Strict):
    at: Moment | None = Field(default=None, description="When; default now")
    note: Note | None = None


class DispatchStep(_Step):
    """Send a unit (by call sign) to the incident (处警/派警)."""

    kind: Literal["dispatch"]
    call_sign: str = Field(pattern=CALL_SIGN)


class ArriveStep(_Step):
    """A unit reports it is on scene (到场); where it was, or its last fix."""

    kind: Literal["arrive"]
    call_sign: str | None = Field(default=None, pattern=CALL_SIGN)
    where: Where | None = None


class CloseStep(_Step):
    """The incident is dealt with: its result."""

    kind: Literal["close"]
    result: str = Field(min_length=1, max_length=200, pattern=TEXT)


class CallbackStep(_Step):
    """The caller is called back (回访) and answers."""

    kind: Literal["callback"]
    result: CallbackAnswer


class NoteStep(_Step):
    """A note on the timeline."""

    kind: Literal["note"]
    note: Note


class PlainStep(_Step):
    """Divert to the response team (分流), its acceptance, or a cancelled call."""

    kind: Literal["divert", "accept", "cancel"]


StepIn = Annotated[
    DispatchStep | ArriveStep | CloseStep | CallbackStep | NoteStep | PlainStep,
    Field(discriminator="kind"),
]


class FixByPerson(Strict):
    """A position fix of a person (their unit is the shift they are on then)."""

    person: str = Field(pattern=PERSON_CODE, description="Person code")
    at: Moment
    lon: Lon
    lat: Lat
    crs: CrsField = InputCRS.WGS84


class FixByCallSign(Strict):
    """A position fix of a unit by its call sign."""

    call_sign: str = Field(pattern=CALL_SIGN)
    at: Moment
    lon: Lon
    lat: Lat
    crs: CrsField = InputCRS.WGS84


class PositionsIn(Strict):
    """A batch of fixes from devices."""

    fixes: list[FixByPerson | FixByCallSign] = Field(min_length=1, max_length=5000)


# ------------------------------------------------------------------------------- answers


class RepeatLink(BaseModel):
    """An earlier incident this call repeats (same caller phone, or near with the same
    category, within the repeat window)."""

    call_no: str
    received_at: datetime
    category: str
    status: str
    same_phone: bool
    distance_m: float


class Repeats(BaseModel):
    """Earlier incidents linked when the call was taken, and their count."""

    count: int
    incidents: list[RepeatLink]


class UnitRef(BaseModel):
    """A unit working on the incident."""

    call_sign: str
    status: str


class Arrival(BaseModel):
    """First arrival on scene as reported and as stamped from fixes (both when they differ)."""

    reported_at: datetime | None
    automatic_at: datetime | None


class TimelineStep(BaseModel):
    """One step of the timeline."""

    kind: str
    at: datetime
    actor: str
    source: Literal["reported", "automatic"]
    call_sign: str | None
    result: str | None
    note: str | None
    lon: float | None
    lat: float | None
    recorded_at: datetime


class Incident(BaseModel):
    """An incident with its areas, repeats, units and whole timeline."""

    call_no: str
    received_at: datetime
    category: str
    status: str
    lon: float
    lat: float
    caller_phone: str | None = Field(description="Masked unless command_room or leader")
    address: str | None
    description: str | None
    taken_by: str | None
    village: LookupVillage | None
    grid: CodeName | None
    beat: CodeName | None
    diversion_due_at: datetime | None
    repeat: Repeats
    units: list[UnitRef]
    arrival: Arrival
    next_steps: list[str]
    timeline: list[TimelineStep]


class CallTaken(BaseModel):
    """A call stored (201) or found stored (200), with the lookup's answer for its point."""

    created: bool
    incident: Incident
    lookup: LookupAnswer


class IncidentRow(BaseModel):
    """An incident in the desk's list."""

    call_no: str
    received_at: datetime
    category: str
    status: str
    lon: float
    lat: float
    address: str | None
    caller_phone: str | None
    village: str | None
    grid: str | None
    beat: str | None
    repeat_count: int
    diversion_due_at: datetime | None
    units: list[str]


class Arrived(BaseModel):
    """An automatic arrival stamped from a fix."""

    call_no: str
    call_sign: str
    at: datetime


class PositionsStored(BaseModel):
    """What a batch of fixes did."""

    stored: int
    duplicates: int = Field(description="Fixes already stored (a batch sent again): not stored")
    units: list[str]
    arrivals: list[Arrived]


class UnitPerson(BaseModel):
    """The person of a unit."""

    code: str
    name: str


class Unit(BaseModel):
    """A unit on duty: its shift, status and last position."""

    call_sign: str
    unit_kind: Literal["car", "motorbike", "ebike", "foot"]
    person: UnitPerson
    starts_at: datetime
    ends_at: datetime
    status: Literal["available", "dispatched", "on_scene", "off_duty"]
    call_no: str | None
    lon: float | None
    lat: float | None
    fixed_at: datetime | None
    grid: str | None
