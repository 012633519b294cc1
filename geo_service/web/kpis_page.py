"""What the /kpis page shows of an answer: the station's headline figures against the previous
period, the charts (geo_service/web/charts.py) and a table row per village and beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from geo_service.moments import STATION_TZ
from geo_service.schemas.kpis import KpiAnswer, KpiArea, KpiFigures
from geo_service.web import charts

SHARES = (
    "on_scene_share",
    "repeat_rate",
    "diverted_share",
    "on_time_share",
    "satisfied_share",
)
MINUTES = ("dispatch_median_min", "arrival_median_min")
# A change is good when the figure goes up (shares of work done well) or down (times, repeats).
LOWER_IS_BETTER = frozenset({"dispatch_median_min", "arrival_median_min", "repeat_rate"})
CARDS = (
    "incidents",
    "on_scene_share",
    "dispatch_median_min",
    "arrival_median_min",
    "repeat_rate",
    "diverted_share",
    "on_time_share",
    "satisfied_share",
)
COLUMNS = ("incidents", *CARDS[1:])


@dataclass(frozen=True)
class Card:
    """A headline figure: its name, this period's and the previous period's value, the change
    and whether the change is for the better."""

    field: str
    label: str
    value: str
    previous: str
    change: str
    better: bool | None


def show(field: str, figures: KpiFigures) -> str:
    """A figure as the page writes it: shares in percent, minutes with one decimal."""
    value = getattr(figures, field)
    if value is None:
        return "–"
    if field in SHARES:
        return f"{value * 100:.1f}%"
    if field in MINUTES:
        return f"{value:.1f}"
    return f"{value:,}"


def _change(field: str, now: KpiFigures, before: KpiFigures) -> tuple[str, bool | None]:
    """The change of a figure against the previous period: points for shares, percent for
    counts and times; and whether it is for the better (None: no change or nothing to say)."""
    a, b = getattr(now, field), getattr(before, field)
    if a is None or b is None:
        return "", None
    if field in SHARES and field != "repeat_rate":
        diff = (a - b) * 100
        text = f"{diff:+.1f} pt"
    elif b == 0:
        return "", None
    else:
        diff = (a - b) / b * 100
        text = f"{diff:+.1f}%"
    if abs(diff) < 0.05:
        return text, None
    up = diff > 0
    return text, (not up) if field in LOWER_IS_BETTER else up


def cards(station: KpiArea, words: dict[str, Any]) -> list[Card]:
    """The station's headline figures."""
    out = []
    for field in CARDS:
        change, better = _change(field, station.current, station.previous)
        if field == "incidents":
            better = None  # neither good nor bad
        out.append(
            Card(
                field=field,
                label=words["figures"][field],
                value=show(field, station.current),
                previous=show(field, station.previous),
                change=change,
                better=better,
            )
        )
    return out


def rows(areas: list[KpiArea], level: str) -> list[dict[str, Any]]:
    """A table row per area of a level, in code order: its figures now and before."""
    mine = sorted((a for a in areas if a.level == level), key=lambda a: a.code or "")
    return [
        {
            "code": a.code or "",
            "name": a.name or "",
            "kind": a.kind or "",
            "cells": [(show(f, a.current), show(f, a.previous)) for f in COLUMNS],
        }
        for a in mine
    ]


def kpi_page(answer: KpiAnswer, words: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows of the answer."""
    station = next((a for a in answer.areas if a.level == "station"), None)
    periods = (words["this_period"], words["previous_period"])
    villages = charts.busiest(answer.areas, "village")
    shown: dict[str, Markup] = {}
    if station is not None:
        shown["hours"] = charts.hours(station, title=words["chart_hours"], labels=periods)
        shown["callbacks"] = charts.callbacks(
            station.current,
            title=words["chart_callbacks"],
            answers=tuple(words["answers"][a] for a in ANSWERS),
        )
    if villages:
        shown["on_scene"] = charts.share_by_area(
            villages, field="on_scene_share", title=words["chart_on_scene"], labels=periods
        )
        shown["medians"] = charts.medians(
            villages,
            title=words["chart_medians"],
            labels=(
                words["figures"]["dispatch_median_min"],
                words["figures"]["arrival_median_min"],
            ),
        )
        shown["repeats"] = charts.share_by_area(
            villages, field="repeat_rate", title=words["chart_repeats"], labels=periods
        )

    def day(moment: Any) -> str:
        return moment.astimezone(STATION_TZ).strftime("%Y-%m-%d %H:%M")

    return {
        "period": words["period_line"].format(
            start=day(answer.from_),
            end=day(answer.to),
            previous_start=day(answer.previous_from),
            previous_end=day(answer.previous_to),
        ),
        "rules": words["rules_line"].format(**answer.rules.model_dump()),
        "busiest": words["busiest_line"].format(
            hours="、".join(f"{h:02d}:00" for h in station.current.busiest_hours)
            if station and station.current.busiest_hours
            else "–"
        ),
        "station": station,
        "cards": cards(station, words) if station else [],
        "charts": shown,
        "columns": [words["figures"][f] for f in COLUMNS],
        "villages": rows(answer.areas, "village"),
        "beats": rows(answer.areas, "beat"),
        "callbacks": [
            (words["answers"][a], getattr(station.current, a) if station else 0) for a in ANSWERS
        ],
    }


ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
