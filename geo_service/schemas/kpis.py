"""Answers of the station's numbers (issue 12 §5): figures per period, per area."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AreaLevel = Literal["station", "village", "beat"]


class KpiFigures(BaseModel):
    """One area's figures for one period. Shares are None when there is nothing to share
    (no police incident, no non-police call, ...); medians None when nothing was timed."""

    incidents: int = Field(description="Incidents received in the period (every category)")
    police: int = Field(
        description="Police incidents: category other than non_police, not cancelled"
    )
    on_scene: int = Field(
        description="Police incidents with a unit on scene within the limit of their village's kind"
    )
    on_scene_share: float | None
    dispatch_median_min: float | None = Field(
        description="Median minutes from the call to the first dispatch (police incidents)"
    )
    arrival_median_min: float | None = Field(
        description="Median minutes from the call to the first arrival (police incidents)"
    )
    repeats: int = Field(
        description="Repeat calls (same caller phone, or same category "
        "nearby, within the repeat rule's days)"
    )
    repeat_rate: float | None
    non_police: int
    diverted: int = Field(description="Non-police calls diverted to the response team")
    diverted_share: float | None
    on_time: int = Field(description="Diverted calls the team accepted within the target")
    on_time_share: float | None
    callbacks: int = Field(description="Incidents with a callback answer (the last one counts)")
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    satisfied_share: float | None = Field(
        description="(satisfied + basically satisfied) / callbacks"
    )
    hours: list[int] = Field(
        min_length=24, max_length=24, description="Incidents by hour of day received (station time)"
    )
    busiest_hours: list[int] = Field(max_length=3, description="The busiest hours, busiest first")


class KpiArea(BaseModel):
    """An area's figures in the period and the previous one."""

    level: AreaLevel
    code: str | None
    name: str | None
    kind: Literal["village", "community"] | None = Field(
        description="A village's kind (its on-scene limit); None for the station and beats"
    )
    current: KpiFigures
    previous: KpiFigures
    repeat_rate_change: float | None = Field(
        description="Relative change of the repeat rate against the previous period "
        "((current - previous) / previous); -0.65 is 'down 65 %'"
    )


class KpiRules(BaseModel):
    """The limits the figures were computed with (the service's settings)."""

    on_scene_minutes_community: int
    on_scene_minutes_village: int
    diversion_target_minutes: int
    repeat_days: int
    repeat_metres: float


class KpiAnswer(BaseModel):
    """The station's numbers for a period [from, to) against the previous period of the same
    length, for what the user may see: the station, each village and each beat (by code)."""

    from_: datetime = Field(alias="from")
    to: datetime
    previous_from: datetime
    previous_to: datetime
    village: str | None = Field(description="Only this village, when asked")
    beat: str | None = Field(description="Only this beat code, when asked")
    rules: KpiRules
    areas: list[KpiArea]

    model_config = {"populate_by_name": True}
