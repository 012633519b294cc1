"""Patrol coverage map: each beat's H3 cells by time since the last visit, and a per-beat table."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import folium
import psycopg

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import add_html, add_legend, add_title, finish
from geo_service.maps.words import Lang, add_words, words
from geo_service.services.patrol import beat_outlines, patrol_cells, patrol_coverage
from geo_service.settings import Settings

add_words(
    zh={
        "pc_title": "巡逻覆盖",
        "pc_period": "统计时段",
        "pc_plan": "警格方案",
        "pc_beats": "警格覆盖率",
        "pc_beat": "警格",
        "pc_cells": "网格单元（H3）",
        "pc_visited": "已巡单元",
        "pc_never": "从未巡到",
        "pc_share": "覆盖率",
        "pc_median": "距上次巡逻中位数（小时）",
        "pc_since": "距上次巡逻",
        "pc_hours": "小时",
        "pc_h3": "H3 单元",
        "pc_grid": "网格",
        "pc_fixes": "定位点数",
        "pc_last_visit": "最后巡逻",
        "pc_hours_since": "距上次巡逻（小时）",
        "pc_cells_layer": "已巡单元（按距上次巡逻时间）",
        "pc_never_layer": "从未巡到的单元",
        "pc_table": "各警格巡逻覆盖",
        "pc_all_beats": "全部警格",
        "pc_total": "合计",
        "pc_note_all": "灰色底色为从未巡到；选择警格可查看其全部单元",
        "pc_show": "查看",
    },
    en={
        "pc_title": "Patrol coverage",
        "pc_period": "Period",
        "pc_plan": "Beat plan",
        "pc_beats": "Beat coverage",
        "pc_beat": "Beat",
        "pc_cells": "H3 cells",
        "pc_visited": "Visited cells",
        "pc_never": "Never visited",
        "pc_share": "Share",
        "pc_median": "Median hours since a visit",
        "pc_since": "Since the last visit",
        "pc_hours": "h",
        "pc_h3": "H3 cell",
        "pc_grid": "Grid",
        "pc_fixes": "Position fixes",
        "pc_last_visit": "Last visit",
        "pc_hours_since": "Hours since the last visit",
        "pc_cells_layer": "Visited cells (time since the last visit)",
        "pc_never_layer": "Cells never visited",
        "pc_table": "Patrol coverage per beat",
        "pc_all_beats": "All beats",
        "pc_total": "Total",
        "pc_note_all": "Grey ground: never visited; pick a beat to see all its cells",
        "pc_show": "show",
    },
)

# Time since the last visit (upper bound in hours, colour); never visited is grey.
RAMP: list[tuple[float, str]] = [
    (6, "#1a9850"),
    (24, "#91cf60"),
    (72, "#fee08b"),
    (168, "#fc8d59"),
    (float("inf"), "#d73027"),
]
NEVER = "#9e9e9e"


def ramp_colour(hours: float | None) -> str:
    """Colour of a cell by hours since its last visit (grey when never visited)."""
    if hours is None:
        return NEVER
    return next(colour for bound, colour in RAMP if hours <= bound)


def _ramp_rows(w: dict[str, str]) -> list[tuple[str, str]]:
    """Legend rows of the colour ramp."""
    rows, low = [], 0.0
    for bound, colour in RAMP:
        label = (
            f"> {low:g} {w['pc_hours']}"
            if bound == float("inf")
            else (f"{low:g}–{bound:g} {w['pc_hours']}")
        )
        rows.append((colour, label))
        low = bound
    rows.append((NEVER, w["pc_never"]))
    return rows


def _table(data: dict[str, Any], w: dict[str, str], link: dict[str, str], lang: Lang) -> str:
    """The per-beat table as an HTML panel (escaped), each beat linking to its own view."""
    head = "".join(
        f"<th>{html.escape(w[k])}</th>"
        for k in ("pc_beat", "pc_cells", "pc_visited", "pc_never", "pc_share", "pc_median")
    )
    rows = []
    for b in data["beats"]:
        query = urlencode({**link, "beat": b["code"], "lang": lang})
        share = "" if b["share"] is None else f"{b['share'] * 100:.1f}%"
        median = "" if b["median_hours_since_visit"] is None else b["median_hours_since_visit"]
        rows.append(
            f'<tr><td><a href="/maps/patrol?{html.escape(query)}">{html.escape(b["code"])}</a> '
            f"{html.escape(b['name'])}</td><td>{b['cells']}</td><td>{b['visited_cells']}</td>"
            f"<td>{b['never_visited_cells']}</td><td>{share}</td><td>{median}</td></tr>"
        )
    t = data["totals"]
    share = "" if t["share"] is None else f"{t['share'] * 100:.1f}%"
    rows.append(
        f"<tr><th>{html.escape(w['pc_total'])}</th><th>{t['cells']}</th>"
        f"<th>{t['visited_cells']}</th><th>{t['cells'] - t['visited_cells']}</th>"
        f"<th>{share}</th><th></th></tr>"
    )
    return (
        '<div class="gs-panel" id="patrol-table" style="bottom:30px;right:10px;max-height:45%;'
        'overflow-y:auto;font-size:12px">'
        f'<h2 style="font-size:14px;margin:0 0 4px 0">{html.escape(w["pc_table"])}</h2>'
        f'<table style="border-collapse:collapse" cellpadding="2"><tr>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


async def patrol_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    start: datetime | None,
    end: datetime | None,
    plan: str | None,
    beat: str | None,
    links: str = "",
) -> tuple[folium.Map, dict[str, Any]]:
    """The patrol coverage map (beats, visited cells coloured by time since the last visit, all
    cells with never visited ones grey when a beat is chosen, the per-beat table) and the
    coverage it shows; ``links`` (trusted HTML) go into the title panel."""
    w = words(lang)
    data = await patrol_coverage(conn, start=start, end=end, plan=plan)
    plan_code = data["plan"]["code"]
    period_end = datetime.fromisoformat(data["to"])
    cells = await patrol_cells(
        conn,
        beat=beat,
        start=datetime.fromisoformat(data["from"]),
        end=period_end,
        plan=plan_code,
        only_visited=beat is None,
    )
    outlines = await beat_outlines(conn, plan=plan_code, at=period_end)
    m = await base_map(conn, settings=settings, lang=lang)
    shares = {b["code"]: b for b in data["beats"]}
    for f in outlines["features"]:
        b = shares.get(f["properties"]["code"], {})
        share = b.get("share")
        f["properties"]["share"] = "" if share is None else f"{share * 100:.1f}%"
        f["properties"]["visited"] = f"{b.get('visited_cells', 0)} / {b.get('cells', 0)}"
    folium.GeoJson(
        outlines,
        name=w["pc_beats"],
        style_function=lambda f: {
            "color": "#283593",
            "weight": 3 if f["properties"]["code"] == beat else 1.5,
            "fillColor": NEVER,
            "fillOpacity": 0.35 if beat is None else 0.05,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "visited", "share"],
            aliases=[w["pc_beat"], w["name"], w["pc_visited"], w["pc_share"]],
        ),
    ).add_to(m)
    visited = [f for f in cells["features"] if f["properties"]["visited"]]
    never = [f for f in cells["features"] if not f["properties"]["visited"]]
    fields = ["h3", "grid", "fixes", "last_visit", "hours_since_visit"]
    aliases = [w["pc_h3"], w["pc_grid"], w["pc_fixes"], w["pc_last_visit"], w["pc_hours_since"]]
    if never:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": never},
            name=w["pc_never_layer"],
            style_function=lambda _f: {
                "color": "#616161",
                "weight": 0.5,
                "fillColor": NEVER,
                "fillOpacity": 0.45,
            },
            tooltip=folium.GeoJsonTooltip(fields=["h3", "grid"], aliases=aliases[:2]),
        ).add_to(m)
    if visited:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": visited},
            name=w["pc_cells_layer"],
            style_function=lambda f: {
                "color": "#424242",
                "weight": 0.4,
                "fillColor": ramp_colour(f["properties"]["hours_since_visit"]),
                "fillOpacity": 0.8,
            },
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        ).add_to(m)
    if beat and cells["features"]:
        ring = [xy for f in cells["features"] for xy in f["geometry"]["coordinates"][0]]
        lons, lats = [x for x, _ in ring], [y for _, y in ring]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    period = f"{data['from'][:16]} – {data['to'][:16]}".replace("T", " ")
    note = f"{w['pc_period']}: {period} · {w['pc_plan']}: {plan_code}"
    note += f" · {w['pc_beat']}: {beat}" if beat else f" · {w['pc_note_all']}"
    link = {"from": data["from"], "to": data["to"], "plan": plan_code}
    all_link = html.escape(urlencode({**link, "lang": lang}))
    links += f'<a href="/maps/patrol?{all_link}">{html.escape(w["pc_all_beats"])}</a>'
    add_title(m, w["pc_title"], note, links)
    add_legend(m, w["pc_since"], _ramp_rows(w))
    add_html(m, _table(data, w, link, lang))
    finish(m)
    return m, data
