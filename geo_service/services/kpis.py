"""The station's numbers (issue 12 §5): one call of station_kpis (sql/functions/74_kpis.sql)
for a period and the previous one of the same length, and the same answer as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from geo_service.schemas.kpis import KpiAnswer, KpiArea, KpiFigures, KpiRules
from geo_service.services.incidents import MAX_WINDOW_DAYS, incident_window
from geo_service.settings import Settings

MAX_DAYS = MAX_WINDOW_DAYS
# The CSV's columns after the area's: every figure of KpiFigures, hours spread over 24 columns.
FIGURE_COLUMNS = [name for name in KpiFigures.model_fields if name not in ("hours",)]
HOUR_COLUMNS = [f"h{h:02d}" for h in range(24)]


@dataclass(frozen=True)
class Period:
    """A period [start, end) asked about; the previous one is as long and ends at start."""

    start: datetime
    end: datetime

    @property
    def previous_start(self) -> datetime:
        return self.start - (self.end - self.start)


def rules_of(settings: Settings) -> KpiRules:
    """The limits of the figures, from the service's settings."""
    return KpiRules(
        on_scene_minutes_community=settings.on_scene_minutes_community,
        on_scene_minutes_village=settings.on_scene_minutes_village,
        diversion_target_minutes=settings.diversion_target_minutes,
        repeat_days=settings.repeat_days,
        repeat_metres=settings.repeat_metres,
    )


async def period_of(
    conn: psycopg.AsyncConnection, *, start: str | None, end: str | None, days: int | None
) -> Period:
    """The period asked: [from, to); with one of them, ``days`` (30) from or up to it; with
    neither, the last ``days`` whole station days up to the day of the latest incident."""
    first, last = await incident_window(
        conn, start=start, end=end, days=days, names=("from", "to"), noun="period"
    )
    return Period(first, last)


async def station_numbers(
    conn: psycopg.AsyncConnection,
    *,
    period: Period,
    rules: KpiRules,
    village: str | None = None,
    beat: str | None = None,
) -> KpiAnswer:
    """The numbers of the period and the previous one, per station, village and beat, as the
    user's row-level security lets them see incidents; an unknown village or beat code is a
    NotFound naming it."""
    cur = await conn.execute(
        """SELECT k.level, k.code, k.name, k.kind, k.current::text, k.previous::text,
                  k.repeat_rate_change
           FROM incident_filter_ids(%(beat)s, %(village)s) AS f,
                station_kpis(%(t0)s, %(t1)s, %(community)s, %(village_min)s, %(diversion)s,
                             %(repeat_days)s, %(repeat_metres)s, f.village_id, f.beat_ids) AS k""",
        {
            "beat": beat,
            "village": village,
            "t0": period.start,
            "t1": period.end,
            "community": rules.on_scene_minutes_community,
            "village_min": rules.on_scene_minutes_village,
            "diversion": rules.diversion_target_minutes,
            "repeat_days": rules.repeat_days,
            "repeat_metres": rules.repeat_metres,
        },
    )
    areas = [
        KpiArea(
            level=level,
            code=code,
            name=name,
            kind=kind,
            current=KpiFigures.model_validate(orjson.loads(current)),
            previous=KpiFigures.model_validate(orjson.loads(previous)),
            repeat_rate_change=change,
        )
        for level, code, name, kind, current, previous, change in await cur.fetchall()
    ]
    return KpiAnswer.model_validate(
        {
            "from": period.start,
            "to": period.end,
            "previous_from": period.previous_start,
            "previous_to": period.start,
            "village": village,
            "beat": beat,
            "rules": rules,
            "areas": areas,
        }
    )


def _cell(value: Any) -> Any:
    """A figure as a CSV cell: lists joined with ';', None empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(map(str, value))
    return value


def csv_text(answer: KpiAnswer) -> str:
    """The answer as CSV: one line per area and period (current, previous), every figure a
    column, hours of day as h00..h23, with a byte-order mark for spreadsheets."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "level",
            "code",
            "name",
            "kind",
            "period",
            "from",
            "to",
            *FIGURE_COLUMNS,
            *HOUR_COLUMNS,
            "repeat_rate_change",
        ]
    )
    spans = {
        "current": (answer.from_, answer.to),
        "previous": (answer.previous_from, answer.previous_to),
    }
    for area in answer.areas:
        for period, figures in (("current", area.current), ("previous", area.previous)):
            values = figures.model_dump()
            start, end = spans[period]
            writer.writerow(
                [
                    area.level,
                    _cell(area.code),
                    _cell(area.name),
                    _cell(area.kind),
                    period,
                    start.isoformat(),
                    end.isoformat(),
                    *(_cell(values[c]) for c in FIGURE_COLUMNS),
                    *values["hours"],
                    _cell(area.repeat_rate_change if period == "current" else None),
                ]
            )
    return out.getvalue()
