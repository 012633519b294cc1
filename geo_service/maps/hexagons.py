"""H3 hexagon map: incidents per cell (resolution 7..10) and change against the previous period."""

from __future__ import annotations

from typing import Any

import folium
import orjson
import psycopg
from branca.element import JavascriptLink
from folium.map import Layer
from folium.template import Template

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import DataInPage, add_header, add_legend, add_title, finish
from geo_service.maps.heatmap import filter_form, filter_note
from geo_service.maps.words import Lang, add_words, words
from geo_service.services.incidents import IncidentFilter, hexagons
from geo_service.settings import Settings

add_words(
    zh={
        "hexagons": "H3 六边形警情统计",
        "hex_counts": "本期警情",
        "hex_change": "较上期变化",
        "previous": "上期",
        "change": "变化",
        "change_pct": "变化率（%）",
        "more": "增加",
        "fewer": "减少",
        "same": "持平",
        "previous_period": "上期",
    },
    en={
        "hexagons": "H3 hexagons of incidents",
        "hex_counts": "Incidents this period",
        "hex_change": "Change against the previous period",
        "previous": "previous",
        "change": "change",
        "change_pct": "change (%)",
        "more": "more",
        "fewer": "fewer",
        "same": "same",
        "previous_period": "Previous period",
    },
)

COUNT_COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
CHANGE_COLOURS = {"fewer": "#2c7bb6", "same": "#f7f7f7", "more": "#d7191c"}


def count_classes(values: list[int], k: int = 5) -> list[int]:
    """Upper bounds of up to k classes of counts (quantiles, distinct, last = maximum)."""
    if not values:
        return []
    ordered = sorted(values)
    bounds = sorted({ordered[min(len(ordered) - 1, (len(ordered) * i) // k)] for i in range(1, k)})
    bounds = [b for b in bounds if b < ordered[-1]] + [ordered[-1]]
    return bounds


class HexLayer(DataInPage, Layer):
    """H3 cells drawn by web_map/static/map_hexagons.js from compact arrays
    [incidents, previous, lat0, lon0, ...], with a control switching count / change colours."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = gsHexagons({{ this._parent.get_name() }},"
        " {{ this.get_name() }}_data, {{ this.opts|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, fc: dict[str, Any], *, name: str, opts: dict[str, Any]) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "HexLayer"
        precision = 4 if fc["h3_resolution"] <= 8 else 5  # 11 m on cells of 460 m edges
        cells = []
        for f in fc["features"]:
            p = f["properties"]
            flat: list[float | int] = [p["incidents"], p["previous"]]
            for lon, lat in f["geometry"]["coordinates"][0][:-1]:
                flat += [round(lat, precision), round(lon, precision)]
            cells.append(flat)
        self.data_json = orjson.dumps(cells).decode()
        self.opts = opts


async def hexagon_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    flt: IncidentFilter,
    resolution: int,
    links: str = "",
) -> tuple[folium.Map, dict[str, Any]]:
    """The hexagon page's map (counts layer, change layer) and its GeoJSON data."""
    data = await hexagons(conn, flt=flt, resolution=resolution)
    w = words(lang)
    m = await base_map(conn, settings=settings, lang=lang)
    bounds = count_classes([f["properties"]["incidents"] for f in data["features"]])
    colours = COUNT_COLOURS[-len(bounds) :] if bounds else []
    add_header(m, JavascriptLink("/static/map_hexagons.js"), name="map_hexagons")
    HexLayer(
        data,
        name=w["hex_counts"],
        opts={
            "bounds": bounds,
            "colours": colours,
            "change": CHANGE_COLOURS,
            "words": {
                "incidents": w["incidents"],
                "previous": w["previous"],
                "change": w["change"],
                "count_mode": w["hex_counts"],
                "change_mode": w["hex_change"],
            },
        },
    ).add_to(m)
    extra = (
        f' <label>{w["resolution"]} <select name="resolution">'
        + "".join(
            f"<option{' selected' if r == resolution else ''}>{r}</option>" for r in range(7, 11)
        )
        + "</select></label>"
    )
    prev = data["previous"]
    note = (
        f"{filter_note(flt, lang)} · {w['resolution']} {resolution} · "
        f"{w['previous_period']}: {prev['start'][:10]} – {prev['end'][:10]}"
    )
    add_title(m, w["hexagons"], note, links + filter_form(flt, lang, extra))
    rows = []
    low = 1
    for colour, b in zip(colours, bounds, strict=True):
        rows.append((colour, f"{low}–{b}" if b > low else f"{b}"))
        low = b + 1
    rows += [
        (CHANGE_COLOURS["more"], f"{w['hex_change']}: {w['more']}"),
        (CHANGE_COLOURS["fewer"], f"{w['hex_change']}: {w['fewer']}"),
        (
            "",
            f"{w['incidents']}: {data['incidents']:,} ({w['previous']}: "
            f"{data['previous_incidents']:,})",
        ),
    ]
    if not data["incidents"]:
        rows.append(("", w["no_data"]))
    add_legend(m, w["hex_counts"], rows)
    finish(m)
    return m, data
