"""Incident heatmap: weighted H3 cell centres aggregated in PostGIS (at most ~50,000 points)."""

from __future__ import annotations

import html
from datetime import timedelta

import folium
import orjson
import psycopg
from folium.plugins import HeatMap
from folium.template import Template

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import DataInPage, add_html, add_title, finish
from geo_service.maps.words import Lang, add_words, words
from geo_service.moments import STATION_TZ
from geo_service.services.incidents import CATEGORIES, Heat, IncidentFilter, heat
from geo_service.settings import Settings

add_words(
    zh={
        "heatmap": "警情热力图",
        "incidents": "警情",
        "points": "热力点",
        "h3_cell": "H3 网格",
        "resolution": "分辨率",
        "categories": "警情类别",
        "start": "开始",
        "end": "结束（不含）",
        "days": "天数",
        "beat": "警格",
        "hours": "时段（时，如 0-6,22）",
        "weekdays": "星期（1=周一，如 6-7）",
        "apply": "应用",
        "filters": "筛选",
        "all": "全部",
        "per_cell": "每格警情",
        "theft": "盗窃",
        "fraud": "诈骗",
        "dispute": "纠纷",
        "traffic": "交通",
        "public_order": "治安",
        "assistance": "求助",
        "drowning": "溺水",
        "non_police": "非警务",
        "shown": "显示",
        "low": "少",
        "high": "多",
    },
    en={
        "heatmap": "Incident heatmap",
        "incidents": "incidents",
        "points": "weighted points",
        "h3_cell": "H3 cell",
        "resolution": "resolution",
        "categories": "Categories",
        "start": "Start",
        "end": "End (exclusive)",
        "days": "Days",
        "beat": "Beat",
        "hours": "Hours (e.g. 0-6,22)",
        "weekdays": "Weekdays (1=Mon, e.g. 6-7)",
        "apply": "Apply",
        "filters": "Filters",
        "all": "all",
        "per_cell": "Incidents per cell",
        "theft": "theft",
        "fraud": "fraud",
        "dispute": "dispute",
        "traffic": "traffic",
        "public_order": "public order",
        "assistance": "assistance",
        "drowning": "drowning",
        "non_police": "non-police",
        "shown": "shown",
        "low": "few",
        "high": "many",
    },
)

GRADIENT = {0.2: "#2c7bb6", 0.45: "#abd9e9", 0.65: "#ffffbf", 0.85: "#fdae61", 1.0: "#d7191c"}


def window_text(flt: IncidentFilter, lang: Lang) -> str:
    """'2026-10-02 – 2026-10-31 (30 days)' in station dates (end shown inclusive)."""
    first = flt.start.astimezone(STATION_TZ)
    last = (flt.end - timedelta(microseconds=1)).astimezone(STATION_TZ)
    days = (flt.end - flt.start) / timedelta(days=1)
    unit = "天" if lang == "zh" else "days"
    return f"{first:%Y-%m-%d} – {last:%Y-%m-%d} ({days:g} {unit})"


def filter_note(flt: IncidentFilter, lang: Lang) -> str:
    """The window and the filters in words, for the title panel."""
    w = words(lang)
    parts = [f"{w['window']}: {window_text(flt, lang)}"]
    if flt.categories:
        parts.append(f"{w['categories']}: {', '.join(w[c] for c in flt.categories)}")
    if flt.beat:
        parts.append(f"{w['beat']}: {flt.beat}")
    if flt.village:
        parts.append(f"{w['village']}: {flt.village}")
    if flt.hours:
        parts.append(f"{w['hours'].split(' ')[0].split('（')[0]}: {_ranges(flt.hours)}")
    if flt.weekdays:
        parts.append(f"{w['weekdays'].split(' ')[0].split('（')[0]}: {_ranges(flt.weekdays)}")
    return " · ".join(parts)


def _ranges(values: tuple[int, ...]) -> str:
    """(0, 1, 2, 5) → '0-2,5'."""
    out: list[str] = []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
        if v is not None:
            start = prev = v
    return ",".join(out)


def filter_form(flt: IncidentFilter, lang: Lang, extra: str = "") -> str:
    """A collapsible GET form with the window and filters (trusted HTML; values escaped)."""
    w = words(lang)
    e = html.escape
    start = flt.start.astimezone(STATION_TZ).date().isoformat()
    end = flt.end.astimezone(STATION_TZ).date().isoformat()
    cats = "".join(
        f'<label><input type="checkbox" name="categories" value="{c}"'
        f"{' checked' if flt.categories and c in flt.categories else ''}> {e(w[c])}</label> "
        for c in CATEGORIES
    )
    hours = e(_ranges(flt.hours)) if flt.hours else ""
    weekdays = e(_ranges(flt.weekdays)) if flt.weekdays else ""
    return (
        f'<details class="gs-filters"><summary>{e(w["filters"])}</summary>'
        f'<form method="get">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label>{e(w["start"])} <input type="date" name="start" value="{start}"></label> '
        f'<label>{e(w["end"])} <input type="date" name="end" value="{end}"></label><br>'
        f"<div>{e(w['categories'])}: {cats}</div>"
        f'<label>{e(w["beat"])} <input name="beat" size="6" value="{e(flt.beat or "")}"></label> '
        f'<label>{e(w["village"])} <input name="village" size="12" '
        f'value="{e(flt.village or "")}"></label><br>'
        f'<label>{e(w["hours"])} <input name="hours" size="8" value="{hours}"></label> '
        f'<label>{e(w["weekdays"])} <input name="weekdays" size="5" value="{weekdays}"></label>'
        f"{extra} <button>{e(w['apply'])}</button></form></details>"
    )


def heat_legend(m: folium.Map, data: Heat, lang: Lang) -> None:
    """Legend: the colour ramp from few to many incidents per cell, and the counts shown."""
    w = words(lang)
    top = max((p[2] for pts in data.frames.values() for p in pts), default=0)
    stops = ", ".join(f"{c} {int(k * 100)}%" for k, c in GRADIENT.items())
    res = data.resolution if data.resolution is not None else "–"
    body = (
        f"<h2>{html.escape(w['per_cell'])}</h2>"
        f'<div class="gs-ramp" style="background: linear-gradient(to right, {stops})"></div>'
        f'<div class="gs-ramp-labels"><span>{html.escape(w["low"])} (1)</span>'
        f"<span>{html.escape(w['high'])} ({top:,})</span></div>"
        f"<div>{html.escape(w['incidents'])}: <b>{data.total:,}</b></div>"
        f"<div>{html.escape(w['points'])}: {data.points:,} "
        f"({html.escape(w['h3_cell'])} {html.escape(w['resolution'])} {res})</div>"
    )
    if not data.total:
        body += f"<div><b>{html.escape(w['no_data'])}</b></div>"
    add_html(m, f'<div class="gs-panel gs-legend gs-heat-legend">{body}</div>')


class _Heat(DataInPage, HeatMap):
    """leaflet.heat over points already validated and serialised (orjson): 50,000 points cost
    no per-point work in Folium."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.heatLayer({{ this.get_name() }}_data,"
        " {{ this.options|tojavascript }});"
        "{% endmacro %}"
    )


def heat_layer(points: list[tuple[float, float, int]], *, name: str) -> HeatMap:
    """A leaflet.heat layer over (lat, lon, weight) points."""
    layer = _Heat([], name=name, radius=18, blur=14, min_opacity=0.35, gradient=GRADIENT)
    layer.data = []
    layer.data_json = orjson.dumps(points).decode()
    return layer


async def heatmap_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    flt: IncidentFilter,
    links: str = "",
) -> tuple[folium.Map, Heat]:
    """The heatmap page's map and the data it shows (weights summing to the incidents)."""
    data = await heat(conn, flt=flt)
    m = await base_map(conn, settings=settings, lang=lang)
    w = words(lang)
    heat_layer(data.frames.get(0, []), name=w["heatmap"]).add_to(m)
    add_title(m, w["heatmap"], filter_note(flt, lang), links + filter_form(flt, lang))
    heat_legend(m, data, lang)
    finish(m)
    return m, data
