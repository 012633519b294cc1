"""Camera map: view sectors by status, and the road stretches of each beat no camera sees."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import folium
import psycopg
import shapely

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import add_html, add_legend, add_title, finish
from geo_service.maps.words import Lang, add_words, words
from geo_service.services.cameras import blind_roads, camera_sectors
from geo_service.services.patrol import beat_outlines
from geo_service.settings import Settings

add_words(
    zh={
        "cam_title": "视频监控与盲区道路",
        "cam_sectors": "监控视域",
        "cam_blind": "无监控覆盖的道路",
        "cam_beats": "警格",
        "cam_beat": "警格",
        "cam_status_working": "正常",
        "cam_status_faulty": "故障",
        "cam_status_offline": "离线",
        "cam_kind_skynet": "天网",
        "cam_kind_xueliang": "雪亮",
        "cam_kind_other": "其他",
        "cam_code": "编号",
        "cam_kind": "类型",
        "cam_status": "状态",
        "cam_heading": "朝向（度）",
        "cam_fov": "视角（度）",
        "cam_range": "距离（米）",
        "cam_road": "道路",
        "cam_road_length": "警格内道路长度（米）",
        "cam_blind_length": "盲区长度（米）",
        "cam_blind_share": "盲区比例",
        "cam_working_cameras": "正常摄像头",
        "cam_table": "各警格道路监控盲区",
        "cam_plan": "警格方案",
        "cam_all_beats": "全部警格",
        "cam_total": "合计",
        "cam_note": "盲区 = 警格内道路 − 正常摄像头视域",
    },
    en={
        "cam_title": "Cameras and blind roads",
        "cam_sectors": "Camera view sectors",
        "cam_blind": "Roads no camera sees",
        "cam_beats": "Beats",
        "cam_beat": "Beat",
        "cam_status_working": "working",
        "cam_status_faulty": "faulty",
        "cam_status_offline": "offline",
        "cam_kind_skynet": "Skynet",
        "cam_kind_xueliang": "Xueliang",
        "cam_kind_other": "other",
        "cam_code": "Code",
        "cam_kind": "Kind",
        "cam_status": "Status",
        "cam_heading": "Heading (°)",
        "cam_fov": "Field of view (°)",
        "cam_range": "Range (m)",
        "cam_road": "Road",
        "cam_road_length": "Road length in the beat (m)",
        "cam_blind_length": "Blind length (m)",
        "cam_blind_share": "Blind share",
        "cam_working_cameras": "Working cameras",
        "cam_table": "Blind road per beat",
        "cam_plan": "Beat plan",
        "cam_all_beats": "All beats",
        "cam_total": "Total",
        "cam_note": "blind = roads in the beat − view sectors of working cameras",
    },
)

STATUS_COLOURS = {"working": "#1e88e5", "faulty": "#fb8c00", "offline": "#757575"}
BLIND_COLOUR = "#d50000"


def _table(data: dict[str, Any], w: dict[str, str], link: dict[str, str]) -> str:
    """Per-beat road and blind lengths as an HTML panel (escaped), beats linking to their view."""
    head = "".join(
        f"<th>{html.escape(w[k])}</th>"
        for k in (
            "cam_beat",
            "cam_working_cameras",
            "cam_road_length",
            "cam_blind_length",
            "cam_blind_share",
        )
    )
    rows, road, blind = [], 0.0, 0.0
    for b in data["beats"]:
        query = html.escape(urlencode({**link, "beat": b["code"]}))
        share = "" if b["blind_share"] is None else f"{b['blind_share'] * 100:.1f}%"
        road += b["road_length_m"]
        blind += b["blind_length_m"]
        rows.append(
            f'<tr><td><a href="/maps/cameras?{query}">{html.escape(b["code"])}</a> '
            f"{html.escape(b['name'])}</td><td>{b['working_cameras']}</td>"
            f"<td>{b['road_length_m']:,.0f}</td><td>{b['blind_length_m']:,.0f}</td>"
            f"<td>{share}</td></tr>"
        )
    share = f"{blind / road * 100:.1f}%" if road else ""
    rows.append(
        f"<tr><th>{html.escape(w['cam_total'])}</th><th></th><th>{road:,.0f}</th>"
        f"<th>{blind:,.0f}</th><th>{share}</th></tr>"
    )
    return (
        '<div class="gs-panel" id="blind-table" style="bottom:30px;right:10px;max-height:45%;'
        'overflow-y:auto;font-size:12px">'
        f'<h2 style="font-size:14px;margin:0 0 4px 0">{html.escape(w["cam_table"])}</h2>'
        f'<table style="border-collapse:collapse" cellpadding="2"><tr>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


async def camera_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    at: datetime,
    plan: str | None,
    beat: str | None,
    links: str = "",
) -> tuple[folium.Map, dict[str, Any]]:
    """The camera map (view sectors by status, beats, blind road stretches, a per-beat table)
    and the blind roads it shows; ``links`` (trusted HTML) go into the title panel."""
    w = words(lang)
    blind = await blind_roads(conn, beat=beat, at=at, plan=plan)
    sectors = await camera_sectors(conn)
    outlines = await beat_outlines(conn, plan=blind["plan"], at=at)
    m = await base_map(conn, settings=settings, lang=lang)
    folium.GeoJson(
        outlines,
        name=w["cam_beats"],
        style_function=lambda f: {
            "color": "#283593",
            "weight": 3 if f["properties"]["code"] == beat else 1.2,
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=[w["cam_beat"], w["name"]]),
    ).add_to(m)
    for f in sectors["features"]:
        p = f["properties"]
        p["status_text"] = w[f"cam_status_{p['status']}"]
        p["kind_text"] = w[f"cam_kind_{p['kind']}"]
    if blind["features"]:
        folium.GeoJson(
            blind,
            name=w["cam_blind"],
            style_function=lambda _f: {"color": BLIND_COLOUR, "weight": 3, "opacity": 0.85},
            tooltip=folium.GeoJsonTooltip(
                fields=["beat", "road", "road_name", "road_length_m", "blind_length_m"],
                aliases=[
                    w["cam_beat"],
                    w["cam_road"],
                    w["name"],
                    w["cam_road_length"],
                    w["cam_blind_length"],
                ],
            ),
        ).add_to(m)
    if sectors["features"]:
        folium.GeoJson(
            sectors,
            name=w["cam_sectors"],
            style_function=lambda f: {
                "color": STATUS_COLOURS[f["properties"]["status"]],
                "weight": 1,
                "fillColor": STATUS_COLOURS[f["properties"]["status"]],
                "fillOpacity": 0.45,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=[
                    "code",
                    "name",
                    "kind_text",
                    "status_text",
                    "heading",
                    "fov_deg",
                    "range_m",
                ],
                aliases=[
                    w["cam_code"],
                    w["name"],
                    w["cam_kind"],
                    w["cam_status"],
                    w["cam_heading"],
                    w["cam_fov"],
                    w["cam_range"],
                ],
            ),
        ).add_to(m)
    chosen = [f for f in outlines["features"] if f["properties"]["code"] == beat]
    if chosen:
        west, south, east, north = shapely.geometry.shape(chosen[0]["geometry"]).bounds
        m.fit_bounds([[south, west], [north, east]])
    note = f"{w['cam_plan']}: {blind['plan']} · {w['cam_note']}"
    if beat:
        note += f" · {w['cam_beat']}: {beat}"
    link = {"plan": blind["plan"], "lang": lang}
    links += (
        f'<a href="/maps/cameras?{html.escape(urlencode(link))}">'
        f"{html.escape(w['cam_all_beats'])}</a>"
    )
    add_title(m, w["cam_title"], note, links)
    add_legend(
        m,
        w["legend"],
        [(STATUS_COLOURS[s], f"{w['cam_sectors']}: {w[f'cam_status_{s}']}") for s in STATUS_COLOURS]
        + [(BLIND_COLOUR, w["cam_blind"])],
    )
    add_html(m, _table(blind, w, link))
    finish(m)
    return m, blind
