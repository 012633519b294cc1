"""Requests and answers of the beat plans' endpoints (drafts, edits, diff, publication)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Version = Annotated[int, Field(ge=1, description="The plan's version the change is based on")]


class PlanCreate(BaseModel):
    """A new draft, copied from a plan."""

    code: Code
    name: Name
    source: Code | None = Field(
        default=None, description="Plan to copy. Default: the plan in force now"
    )


class PlanSummary(BaseModel):
    """A beat plan without its beats."""

    code: str
    name: str
    status: Literal["draft", "published"]
    effective_from: datetime | None
    version: int
    based_on: str | None
    created_at: datetime
    created_by: str | None
    published_by: str | None
    published_at: datetime | None
    in_force: bool = Field(description="Whether it is the published plan in force now")
    beats: int = Field(description="Number of beats")


class PersonRef(BaseModel):
    """A person named by a plan."""

    code: str
    name: str


class PlanOfficer(BaseModel):
    """A community officer a beat of the plan may be given."""

    code: str
    name: str
    beats: list[str] = Field(description="The plan's beats this person is the officer of")


class PlanBeat(BaseModel):
    """One beat of a plan and the grids it is made of."""

    code: str
    name: str
    locked: bool
    officer: PersonRef | None = Field(description="The beat's community officer for the plan")
    grids: list[str]


class PlanDocument(BaseModel):
    """A beat plan, its beats and their grids."""

    code: str
    name: str
    status: Literal["draft", "published"]
    effective_from: datetime | None
    version: int
    based_on: str | None
    created_at: datetime
    created_by: str | None
    published_by: str | None
    published_at: datetime | None
    in_force: bool
    beats: list[PlanBeat]
    locked_grids: list[str]
    grids_without_beat: list[str]


class Move(BaseModel):
    """A grid to a beat of the plan (null: out of every beat)."""

    grid: Code
    beat: Code | None


class GridMoves(BaseModel):
    """Moves applied together, all or none, to the version they were based on."""

    version: Version
    moves: list[Move] = Field(max_length=100_000)


class MoveDone(BaseModel):
    """A move made: the grid, its beat before and after."""

    grid: str
    from_: str | None = Field(alias="from")
    to: str | None


class Edited(BaseModel):
    """A draft after an edit: its new version."""

    code: str
    version: int


class MovesDone(Edited):
    """Moves made (grids already in the beat asked for are left out)."""

    moved: list[MoveDone]


class AddBeat(BaseModel):
    op: Literal["add"]
    beat: Code
    name: Name


class RemoveBeat(BaseModel):
    op: Literal["remove"]
    beat: Code


class RenameBeat(BaseModel):
    op: Literal["rename"]
    beat: Code
    name: Name


class BeatOfficer(BaseModel):
    op: Literal["officer"]
    beat: Code
    person: Code | None = Field(description="A community officer's person code; null: none")


BeatChange = Annotated[AddBeat | RemoveBeat | RenameBeat | BeatOfficer, Field(discriminator="op")]


class BeatChanges(BaseModel):
    """Beat changes applied in order, all or none."""

    version: Version
    changes: list[BeatChange] = Field(min_length=1, max_length=1000)


class Locks(BaseModel):
    """Grids and whole beats to lock (true) or unlock (false)."""

    version: Version
    grids: dict[str, bool] = Field(default_factory=dict, max_length=100_000)
    beats: dict[str, bool] = Field(default_factory=dict, max_length=10_000)


class Publication(BaseModel):
    """When the plan comes into force."""

    effective_from: str = Field(
        min_length=1,
        description="ISO 8601 moment; without an offset, station time (UTC+8)",
        examples=["2027-01-01T00:00:00+08:00"],
    )
    version: int | None = Field(
        default=None, ge=1, description="The version approved; refused if the plan changed since"
    )
    dry_run: bool = Field(default=False, description="Only list the problems; change nothing")


class PublishCheck(BaseModel):
    """A dry run: what would stop the plan's publication from that moment."""

    code: str
    version: int
    effective_from: datetime
    publishable: bool
    problems: list[dict[str, Any]]


class Published(Edited):
    """A published plan: from when, until when (the next plan), and what was stamped again."""

    effective_from: datetime
    until: datetime | None
    previous: str | None = Field(description="The plan in force at effective_from before")
    assignments: dict[str, int] = Field(description="Beat assignments made and ended")
    restamped: dict[str, int] = Field(description="Incidents and position fixes stamped again")


class MovedGrid(BaseModel):
    grid: str
    from_: str | None = Field(alias="from")
    to: str | None


class BeatChanged(BaseModel):
    beat: str
    in_a: bool
    in_b: bool
    gained: list[str]
    lost: list[str]


class OfficerChange(BaseModel):
    person: str
    name: str
    from_: list[str] | None = Field(alias="from")
    to: list[str] | None


class WorkerChange(BaseModel):
    person: str
    name: str
    grid: str
    from_: str | None = Field(alias="from")
    to: str | None


class PlanDiff(BaseModel):
    """What changes from plan a to plan b."""

    a: PlanSummary
    b: PlanSummary
    moved: list[MovedGrid]
    beats_changed: list[BeatChanged]
    officers: list[OfficerChange] = Field(description="Community officers whose beats change")
    grid_workers: list[WorkerChange] = Field(
        description="Grid workers (in force now) whose grid moves to another beat"
    )
    workload: dict[str, dict[str, dict[str, float] | None]] | None = Field(
        default=None,
        description="Each beat's workload index and deviation (%) in a and b, default weights "
        "(null while the service computes no workload)",
    )
