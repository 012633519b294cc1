"""Answers of the workload and rebalance endpoints (issue 13)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PlanRef(BaseModel):
    """The plan asked about."""

    code: str
    name: str
    status: str
    version: int
    effective_from: str | None


class Officer(BaseModel):
    code: str
    name: str


class BeatParts(BaseModel):
    """A beat's workload parts."""

    incidents: int
    incidents_weighted: float
    rentals: int
    markers: int
    road_km: float
    area_km2: float
    cells: int


class BeatWorkload(BaseModel):
    """One beat: parts, index (mean beat 100), deviation, shape, officer."""

    code: str
    name: str
    locked: bool
    officer: Officer | None
    grids: int
    parts: BeatParts
    index: float
    deviation_pct: float
    contiguous: bool
    pieces: int
    compactness: float = Field(description="Polsby-Popper 4πA/P² of the outline (metres)")
    perimeter_km: float
    villages_split: int


class WeightsUsed(BaseModel):
    parts: dict[str, float]
    categories: dict[str, float]


class WorkloadAnswer(BaseModel):
    """Each beat's workload in a plan over a period."""

    model_config = ConfigDict(populate_by_name=True)

    plan: PlanRef
    from_: str = Field(alias="from")
    to: str
    weights: WeightsUsed
    mean_index: float
    max_deviation_pct: float
    beats: list[BeatWorkload]
    unassigned_grids: list[str]


class Move(BaseModel):
    """A proposed move and why: the beat it relieves, both beats' deviations before/after."""

    grid: str
    village: str
    from_: str = Field(alias="from")
    to: str
    workload: float = Field(description="The grid's index (the mean beat is 100)")
    relieves: str
    from_deviation_pct: list[float]
    to_deviation_pct: list[float]


class BeatBeforeAfter(BaseModel):
    before: BeatWorkload
    after: BeatWorkload


class PatchMove(BaseModel):
    grid: str
    beat: str


class Patch(BaseModel):
    version: int | None
    moves: list[PatchMove]


class BalanceAnswer(BaseModel):
    """A proposed rebalance of a plan (nothing is changed)."""

    model_config = ConfigDict(populate_by_name=True)

    plan: PlanRef
    from_: str = Field(alias="from")
    to: str
    weights: WeightsUsed
    tolerance: float
    max_moves: int | None
    met: bool
    optimal: bool = Field(description="Whether the fewest moves are proven")
    method: str = Field(description="exact (integer program) or local (neighbourhoods)")
    seconds: float
    max_deviation_pct_before: float
    max_deviation_pct_after: float
    floor_pct: float = Field(description="No plan can bring the largest deviation below this")
    pinned_beats: list[str]
    moved_grids: int
    note: str
    moves: list[Move]
    beats: list[BeatBeforeAfter]
    patch: Patch
