"""Water-safety map: markers by status and inspection age, shore out of reach of a rescue pole."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import folium
import psycopg

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import add_html, add_legend, add_title, finish
from geo_service.maps.words import Lang, add_words, words
from geo_service.services.field import patrol_map
from geo_service.services.maps import own_areas_bbox
from geo_service.services.water import marker_status, shore_gaps
from geo_service.settings import Settings

add_words(
    zh={
        "ws_title": "防溺水安全",
        "ws_gaps": "救援竹竿覆盖不到的岸线",
        "ws_reach": "正常救援竹竿覆盖范围",
        "ws_distance": "覆盖距离（米）",
        "ws_marker_rescue_pole": "救援竹竿",
        "ws_marker_lifebuoy": "救生圈",
        "ws_marker_warning_sign": "警示牌",
        "ws_marker_danger_spot": "危险点",
        "ws_status_ok": "完好",
        "ws_status_damaged": "损坏",
        "ws_status_missing": "缺失",
        "ws_status": "状态",
        "ws_code": "编号",
        "ws_kind": "类型",
        "ws_water_body": "水域",
        "ws_last_inspected": "最近巡查",
        "ws_age": "距上次巡查（天）",
        "ws_due": "需巡查",
        "ws_due_ring": "黑色粗边框：超过 {days} 天未巡查",
        "ws_yes": "是",
        "ws_no": "否",
        "ws_shore": "岸线长度（米）",
        "ws_gap": "无覆盖岸线（米）",
        "ws_table": "无覆盖岸线最长的水域",
        "ws_total": "合计",
        "ws_never": "从未巡查",
        "ws_patrolled": "今晚已巡河",
        "ws_not_patrolled": "巡河水域，今晚尚未巡",
        "ws_check_ins": "今晚打卡次数",
    },
    en={
        "ws_title": "Water safety",
        "ws_gaps": "Shore out of reach of a rescue pole",
        "ws_reach": "Reach of working rescue poles",
        "ws_distance": "Reach (m)",
        "ws_marker_rescue_pole": "Rescue poles",
        "ws_marker_lifebuoy": "Lifebuoys",
        "ws_marker_warning_sign": "Warning signs",
        "ws_marker_danger_spot": "Danger spots",
        "ws_status_ok": "ok",
        "ws_status_damaged": "damaged",
        "ws_status_missing": "missing",
        "ws_status": "Status",
        "ws_code": "Code",
        "ws_kind": "Kind",
        "ws_water_body": "Water body",
        "ws_last_inspected": "Last inspection",
        "ws_age": "Days since inspection",
        "ws_due": "Inspection due",
        "ws_due_ring": "Thick black ring: not inspected for over {days} days",
        "ws_yes": "yes",
        "ws_no": "no",
        "ws_shore": "Shore length (m)",
        "ws_gap": "Shore out of reach (m)",
        "ws_table": "Water bodies with the longest gaps",
        "ws_total": "Total",
        "ws_never": "never inspected",
        "ws_patrolled": "Patrolled this evening",
        "ws_not_patrolled": "Marked for dusk patrol, not yet this evening",
        "ws_check_ins": "Check-ins this evening",
    },
)

STATUS_COLOURS = {"ok": "#2e7d32", "damaged": "#f9a825", "missing": "#c62828"}
GAP_COLOUR = "#e53935"
REACH_COLOUR = "#66bb6a"
KINDS = ("rescue_pole", "lifebuoy", "warning_sign", "danger_spot")
TABLE_ROWS = 12
PATROLLED_COLOUR = "#1565c0"
NOT_PATROLLED_COLOUR = "#ef6c00"


def _patrol_style(feature: dict[str, Any]) -> dict[str, Any]:
    """A water walked this evening in solid blue; marked for patrol and not yet, dashed orange."""
    walked = feature["properties"]["patrolled"]
    return {
        "color": PATROLLED_COLOUR if walked else NOT_PATROLLED_COLOUR,
        "weight": 3,
        "dashArray": None if walked else "6 4",
        "fill": False,
    }


def _marker_style(feature: dict[str, Any]) -> dict[str, Any]:
    """Fill by status; a thick black ring when an inspection is due."""
    p = feature["properties"]
    due = p["inspection_due"]
    return {
        "fill": True,
        "fillColor": STATUS_COLOURS[p["status"]],
        "fillOpacity": 0.9,
        "color": "#212121" if due else "#ffffff",
        "weight": 2.5 if due else 1,
        "radius": 7 if p["kind"] == "rescue_pole" else 5,
    }


def _table(data: dict[str, Any], w: dict[str, str]) -> str:
    """The water bodies with the longest gaps, and totals, as an HTML panel (escaped)."""
    worst = sorted(data["water_bodies"], key=lambda b: -b["gap_length_m"])[:TABLE_ROWS]
    head = "".join(f"<th>{html.escape(w[k])}</th>" for k in ("ws_water_body", "ws_shore", "ws_gap"))
    rows = [
        f"<tr><td>{html.escape(b['name'])} ({html.escape(b['code'])})</td>"
        f"<td>{b['shore_length_m']:,.0f}</td><td>{b['gap_length_m']:,.0f}</td></tr>"
        for b in worst
    ]
    t = data["totals"]
    rows.append(
        f"<tr><th>{html.escape(w['ws_total'])}</th><th>{t['shore_length_m']:,.0f}</th>"
        f"<th>{t['gap_length_m']:,.0f}</th></tr>"
    )
    return (
        '<div class="gs-panel" id="shore-table" style="bottom:30px;right:10px;max-height:45%;'
        'overflow-y:auto;font-size:12px">'
        f'<h2 style="font-size:14px;margin:0 0 4px 0">{html.escape(w["ws_table"])}</h2>'
        f'<table style="border-collapse:collapse" cellpadding="2"><tr>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


async def water_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    at: datetime,
    distance_m: float,
    due_days: int,
    links: str = "",
    own_areas: bool = False,
) -> tuple[folium.Map, dict[str, Any]]:
    """The water-safety map (reach of working poles, shore gaps, markers by kind and status)
    and the shore gaps it shows; ``links`` (trusted HTML) go into the title panel. With
    ``own_areas`` it opens on the user's own areas (when they have any), else on the station."""
    w = words(lang)
    gaps = await shore_gaps(conn, distance_m=distance_m)
    markers = await marker_status(conn, at=at, due_days=due_days)
    patrols = await patrol_map(conn, at=at)
    fit = await own_areas_bbox(conn) if own_areas else None
    m = await base_map(conn, settings=settings, lang=lang, fit=fit)
    if patrols["features"]:  # dusk shore patrols (傍晚巡河): walked this evening or not yet
        folium.GeoJson(
            patrols,
            name=w["ws_patrolled"],
            style_function=_patrol_style,
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "code", "check_ins"],
                aliases=[w["ws_water_body"], w["ws_code"], w["ws_check_ins"]],
            ),
        ).add_to(m)
    poles = folium.FeatureGroup(name=w["ws_reach"], show=True).add_to(m)
    for f in markers["features"]:
        p = f["properties"]
        p["status_text"] = w[f"ws_status_{p['status']}"]
        p["kind_text"] = w[f"ws_marker_{p['kind']}"]
        p["due_text"] = w["ws_yes"] if p["inspection_due"] else w["ws_no"]
        p["last_text"] = (p["last_inspected_at"] or w["ws_never"])[:10]
        if p["kind"] == "rescue_pole" and p["status"] == "ok":
            lon, lat = f["geometry"]["coordinates"]
            folium.Circle(
                location=[lat, lon],
                radius=distance_m,
                color=REACH_COLOUR,
                weight=1,
                dash_array="4 3",
                fill=True,
                fill_opacity=0.08,
            ).add_to(poles)
    if gaps["features"]:
        folium.GeoJson(
            gaps,
            name=w["ws_gaps"],
            style_function=lambda _f: {"color": GAP_COLOUR, "weight": 4, "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "code", "shore_length_m", "gap_length_m"],
                aliases=[w["ws_water_body"], w["ws_code"], w["ws_shore"], w["ws_gap"]],
            ),
        ).add_to(m)
    fields = [
        "code",
        "kind_text",
        "status_text",
        "water_body_name",
        "last_text",
        "inspection_age_days",
        "due_text",
    ]
    aliases = [
        w["ws_code"],
        w["ws_kind"],
        w["ws_status"],
        w["ws_water_body"],
        w["ws_last_inspected"],
        w["ws_age"],
        w["ws_due"],
    ]
    for kind in KINDS:
        features = [f for f in markers["features"] if f["properties"]["kind"] == kind]
        if not features:
            continue
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=w[f"ws_marker_{kind}"],
            marker=folium.CircleMarker(radius=6),
            style_function=_marker_style,
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        ).add_to(m)
    note = f"{w['ws_distance']}: {distance_m:g} · {w['ws_due_ring'].format(days=due_days)}"
    add_title(m, w["ws_title"], note, links)
    add_legend(
        m,
        w["legend"],
        [(STATUS_COLOURS[s], w[f"ws_status_{s}"]) for s in STATUS_COLOURS]
        + [
            ("#212121", w["ws_due_ring"].format(days=due_days)),
            (GAP_COLOUR, w["ws_gaps"]),
            (REACH_COLOUR, w["ws_reach"]),
            (PATROLLED_COLOUR, w["ws_patrolled"]),
            (NOT_PATROLLED_COLOUR, w["ws_not_patrolled"]),
        ],
    )
    add_html(m, _table(gaps, w))
    finish(m)
    return m, gaps
