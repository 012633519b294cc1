"""The station's numbers as charts a leader puts in a report: SVG drawn by the service with
pygal (no script, no font or file from another host), inlined in the /kpis page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

from geo_service.schemas.kpis import KpiArea, KpiFigures

# The page's fonts first (Chinese labels), the station's blue for the period, grey for before.
STYLE = Style(
    font_family='"Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", sans-serif',
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2733",
    foreground_strong="#12355b",
    foreground_subtle="#8a949e",
    colors=("#12355b", "#a9b8c8", "#c0392b", "#e0a030", "#3c8d5a"),
    title_font_size=15,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    value_font_size=10,
    tooltip_font_size=12,
)
ANSWER_COLOURS = ("#3c8d5a", "#e0a030", "#c0392b")
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
MAX_AREAS = 30  # villages in a chart: the busiest ones


def _config(**extra: Any) -> dict[str, Any]:
    """What every chart shares: no script from anywhere, no XML declaration (inlined)."""
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 2,
        "print_values": False,
        "width": 760,
        "height": 360,
        **extra,
    }


def _svg(chart: Any) -> Markup:
    """The chart as inline SVG, safe to put in a template (pygal escapes its labels), without
    the script pygal writes for its tooltips library (not loaded: it comes from a CDN)."""
    return Markup(SCRIPT.sub("", chart.render(is_unicode=True)))


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def busiest(areas: Sequence[KpiArea], level: str) -> list[KpiArea]:
    """The areas of a level with the most incidents in the period, at most MAX_AREAS."""
    mine = [a for a in areas if a.level == level]
    return sorted(mine, key=lambda a: (-a.current.incidents, a.code or ""))[:MAX_AREAS]


def share_by_area(
    areas: Sequence[KpiArea], *, field: str, title: str, labels: tuple[str, str]
) -> Markup:
    """A share (percent) per area, this period against the previous one."""
    chart = pygal.HorizontalBar(
        **_config(title=title, height=max(320, 26 * len(areas) + 120), range=(0, 100))
    )
    chart.x_labels = [a.name or a.code or "" for a in areas]
    chart.add(labels[0], [_pct(getattr(a.current, field)) for a in areas])
    chart.add(labels[1], [_pct(getattr(a.previous, field)) for a in areas])
    chart.value_formatter = lambda v: "" if v is None else f"{v:.1f}%"
    return _svg(chart)


def hours(station: KpiArea, *, title: str, labels: tuple[str, str]) -> Markup:
    """Incidents by hour of day received, this period against the previous one."""
    chart = pygal.Bar(**_config(title=title))
    chart.x_labels = [f"{h:02d}" for h in range(24)]
    chart.add(labels[0], station.current.hours)
    chart.add(labels[1], station.previous.hours)
    return _svg(chart)


def callbacks(figures: KpiFigures, *, title: str, answers: tuple[str, str, str]) -> Markup:
    """The callback answers of the period (counts)."""
    style = Style(**{**STYLE.to_dict(), "colors": ANSWER_COLOURS})
    chart = pygal.Pie(**_config(title=title, style=style, inner_radius=0.45, height=320))
    for label, count in zip(
        answers,
        (figures.satisfied, figures.basically_satisfied, figures.unsatisfied),
        strict=True,
    ):
        chart.add(label, count)
    return _svg(chart)


def medians(areas: Sequence[KpiArea], *, title: str, labels: tuple[str, str]) -> Markup:
    """Median minutes to dispatch and to arrival per area, this period."""
    chart = pygal.HorizontalBar(**_config(title=title, height=max(320, 26 * len(areas) + 120)))
    chart.x_labels = [a.name or a.code or "" for a in areas]
    chart.add(labels[0], [_round(a.current.dispatch_median_min) for a in areas])
    chart.add(labels[1], [_round(a.current.arrival_median_min) for a in areas])
    chart.value_formatter = lambda v: "" if v is None else f"{v:.1f}"
    return _svg(chart)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
