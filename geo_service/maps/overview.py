"""Overview map: villages, grids, beats, water, markers, rentals, cameras and work points."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import folium
import orjson
import psycopg
from branca.element import JavascriptLink
from folium.map import Layer
from folium.template import Template

from geo_service.maps.basemap import add_basemap, new_map
from geo_service.maps.elements import (
    RawGeoJson,
    add_header,
    add_html,
    add_legend,
    add_script,
    add_title,
    finish,
)
from geo_service.maps.words import Lang, add_words, person_roles, words
from geo_service.moments import STATION_TZ
from geo_service.services.maps import basemap, overview_layers
from geo_service.settings import Settings

add_words(
    zh={
        "overview": "辖区总览",
        "grids": "网格",
        "beats": "警格",
        "water_markers": "防溺水标志",
        "rental_houses": "出租房",
        "cameras": "视频监控",
        "work_points": "警务工作点/治理工作站",
        "people": "责任人员",
        "status": "状态",
        "ok": "完好",
        "damaged": "损坏",
        "missing": "缺失",
        "working": "正常",
        "faulty": "故障",
        "offline": "离线",
        "village_police": "村警",
        "rescue_pole": "救援竹竿",
        "lifebuoy": "救生圈",
        "warning_sign": "警示牌",
        "danger_spot": "危险点",
        "police_work_point": "警务工作点",
        "governance_station": "治理工作站",
        "skynet": "天网",
        "xueliang": "雪亮",
        "other": "其他",
        "landlord": "房东",
        "tenants": "租客数",
        "water_body": "水域",
        "plan": "警格方案",
        "click_hint": "点击地图任意位置查询归属",
        "as_of": "时点",
        "outside": "不在辖区内",
        "nearest": "最近",
        "lookup_failed": "查询失败",
        "zoom_in": "放大以显示全部",
        "last_inspected_at": "上次巡查",
        "phone": "电话",
    },
    en={
        "overview": "Jurisdiction overview",
        "grids": "Grids",
        "beats": "Beats",
        "water_markers": "Water markers",
        "rental_houses": "Rental houses",
        "cameras": "Cameras",
        "work_points": "Police work points / governance stations",
        "people": "People",
        "status": "Status",
        "ok": "ok",
        "damaged": "damaged",
        "missing": "missing",
        "working": "working",
        "faulty": "faulty",
        "offline": "offline",
        "village_police": "Village police",
        "rescue_pole": "rescue pole",
        "lifebuoy": "lifebuoy",
        "warning_sign": "warning sign",
        "danger_spot": "danger spot",
        "police_work_point": "police work point",
        "governance_station": "governance station",
        "skynet": "skynet",
        "xueliang": "xueliang",
        "other": "other",
        "landlord": "Landlord",
        "tenants": "Tenants",
        "water_body": "Water body",
        "plan": "Beat plan",
        "click_hint": "Click anywhere on the map to see whose it is",
        "as_of": "as of",
        "outside": "outside the jurisdiction",
        "nearest": "nearest",
        "lookup_failed": "Lookup failed",
        "zoom_in": "zoom in to see all",
        "last_inspected_at": "Last inspected",
        "phone": "Phone",
    },
)

MARKER_COLOURS = {"ok": "#1a9641", "damaged": "#fdae61", "missing": "#d7191c"}
CAMERA_COLOURS = {"working": "#2b83ba", "faulty": "#fdae61", "offline": "#7f7f7f"}
BEAT_COLOUR = "#1f4e9c"
LAZY_LIMIT = 3000  # features of one layer a page asks for at a time


def _people_text(people: list[dict[str, Any]] | None, w: dict[str, str]) -> str:
    """'社区民警 王强 15000000000; 辅警 …' for a tooltip."""
    return (
        "; ".join(
            f"{w.get(p['role'], p['role'])} {p['name']} {p.get('phone') or ''}".strip()
            for p in people or []
        )
        or "—"
    )


def _flatten(fc: dict[str, Any] | None, w: dict[str, str]) -> dict[str, Any]:
    """Tooltip-ready properties: people as text, details as words, flat keys."""
    fc = fc or {"type": "FeatureCollection", "features": []}
    for f in fc["features"]:
        p = f["properties"]
        details = p.pop("details", None) or {}
        if "people" in p:
            p["people"] = _people_text(p["people"], w)
        for k, v in details.items():
            p[k] = w.get(v, v) if isinstance(v, str) else ("—" if v is None else v)
        if p.get("kind") and "status" in details and p.get("name") in w:
            p["name"] = w[p["name"]]
    return fc


def _lookup_script(lang: Lang) -> str:
    """Click anywhere: ask /api/v1/lookup and show the answer in a popup (words in lang)."""
    w = words(lang)
    labels = {
        k: w[k]
        for k in (
            "village",
            "grids",
            "beats",
            "plan",
            "people",
            "outside",
            "nearest",
            "lookup_failed",
        )
    } | person_roles(lang)
    return (
        "gsLookupOnClick({map}, "
        + json.dumps(labels, ensure_ascii=False).replace("</", "<\\/")
        + ");"
    )


async def overview_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    at: datetime,
    links: str = "",
) -> tuple[folium.Map, dict[str, Any]]:
    """The overview page's map (every layer in the layer control) and the layer it embeds
    (villages); beats, grids, water markers, rentals, cameras and work points are loaded by the
    page for the area in view while switched on (at most LAZY_LIMIT each)."""
    w = words(lang)
    base = await basemap(conn)
    layers = await overview_layers(conn, at=at, layers=("villages",))
    data = {"villages": _flatten(layers.get("villages"), w)}
    m = new_map(settings=settings, lang=lang, bbox=base.bbox)
    add_basemap(m, base, lang=lang, layers=("water", "roads", "town"))
    RawGeoJson(  # compact JSON, UTF-8: no per-feature work in Python
        orjson.dumps(data["villages"]).decode(),
        name=w["villages"],
        style={"color": "#6b6b6b", "weight": 1.5, "fillColor": "#f4f1ea", "fillOpacity": 0.35},
        tooltip_fields={k: w[k] for k in ("name", "code", "people")},
    ).add_to(m)
    add_header(m, JavascriptLink("/static/map_overview.js"), name="map_overview")
    lazy = {  # beats and grids are many on a large station: loaded for the area in view
        "beats": {
            "style": {
                "color": BEAT_COLOUR,
                "weight": 2.5,
                "fillColor": BEAT_COLOUR,
                "fillOpacity": 0.04,
            },
            "fields": ["code", "name", "plan", "people"],
            "show": True,
        },
        "grids": {
            "style": {"color": "#8c6bb1", "weight": 0.8, "fill": False},
            "fields": ["name", "code", "village", "people"],
            "show": False,
        },
        "water_markers": {
            "colours": MARKER_COLOURS,
            "fields": ["name", "code", "status", "water_body", "last_inspected_at"],
            "show": True,
        },
        "rental_houses": {
            "colour": "#984ea3",
            "radius": 3,
            "fields": ["name", "code", "landlord", "phone", "tenants"],
            "show": False,
        },
        "cameras": {
            "colours": CAMERA_COLOURS,
            "radius": 3.5,
            "fields": ["name", "code", "kind", "status"],
            "show": False,
        },
        "work_points": {"icon": "shield-halved", "fields": ["name", "code", "kind"], "show": True},
    }
    at_text = at.astimezone(STATION_TZ).isoformat()
    for layer, opts in lazy.items():
        show = bool(opts.pop("show"))
        LazyLayer(
            name=w[layer],
            show=show,
            opts={
                **opts,
                "layer": layer,
                "name": w[layer],
                "url": "/api/v1/overview/layers?"
                + urlencode({"layers": layer, "at": at_text, "limit": LAZY_LIMIT}),
                "words": w,
            },
        ).add_to(m)
    add_html(m, '<div id="gs-lazy-note" class="gs-panel gs-lazy-note"></div>')
    add_header(m, JavascriptLink("/static/map_lookup.js"), name="map_lookup")
    add_script(m, _lookup_script(lang))
    moment = at.astimezone(STATION_TZ)
    add_title(m, w["overview"], f"{w['as_of']} {moment:%Y-%m-%d %H:%M} · {w['click_hint']}", links)
    add_legend(
        m,
        w["legend"],
        [
            (BEAT_COLOUR, w["beats"]),
            ("#8c6bb1", w["grids"]),
            ("#b8d8f0", w["water"]),
            *((c, f"{w['water_markers']}: {w[s]}") for s, c in MARKER_COLOURS.items()),
            *((c, f"{w['cameras']}: {w[s]}") for s, c in CAMERA_COLOURS.items()),
            ("#984ea3", w["rental_houses"]),
        ],
    )
    finish(m)
    return m, data


class LazyLayer(Layer):
    """A layer the page loads from /api/v1/overview/layers for the area in view while it is
    switched on (web_map/static/map_overview.js)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = gsLazyLayer({{ this._parent.get_name() }},"
        " {{ this.opts|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, *, name: str, show: bool, opts: dict[str, Any]) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LazyLayer"
        self.opts = opts
