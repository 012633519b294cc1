"""The empty map every page starts from, and the jurisdiction's own neutral basemap drawn on it.

- ``new_map(*, settings, lang, bbox) -> folium.Map`` — an empty map fitted to ``bbox``
  ``(west, south, east, north)``: no tiles, or the local tile source from the settings
  (``map_tiles_url``, or ``map_mbtiles_path`` served by ``/maps/tiles/{z}/{x}/{y}``); the page
  CSS is web_map/static/map_page.css.
- ``add_basemap(m, base, *, lang, layers=BASE_LAYERS)`` — draw a fetched ``Basemap``
  (services/maps.py) on a map, each layer in the layer control.
- ``await base_map(conn, *, settings, lang, layers=BASE_LAYERS, fit=None) -> folium.Map`` —
  ``new_map`` fitted to ``fit`` (else the station) + the basemap drawn plainly (call
  ``finish(m)`` after adding your layers). ``layers`` picks from
  ``("villages", "water", "roads", "town")``.
"""

from __future__ import annotations

from typing import Any

import folium
import psycopg
from branca.element import CssLink

from geo_service.maps.elements import RawGeoJson, Verbatim, add_header, add_html
from geo_service.maps.words import Lang, words
from geo_service.services.maps import BASEMAP_LAYERS, Basemap, basemap
from geo_service.settings import Settings

BASE_LAYERS = BASEMAP_LAYERS
BASEMAP_PANE = "basemap"
PAGE_CSS = "/static/map_page.css"

_BASE_STYLE: dict[str, dict[str, Any]] = {
    "villages": {"color": "#9a9a9a", "weight": 1, "fillColor": "#f4f1ea", "fillOpacity": 1},
    "water": {"color": "#7fb0d9", "weight": 1, "fillColor": "#b8d8f0", "fillOpacity": 1},
    "roads": {"color": "#d9a066", "weight": 2, "opacity": 0.9},
    "town": {"color": "#555555", "weight": 3, "fill": False, "dashArray": "6 4"},
}


def new_map(
    *, settings: Settings, lang: Lang, bbox: tuple[float, float, float, float]
) -> folium.Map:
    """An empty map fitted to bbox, with no tiles or the local tile source from the settings."""
    west, south, east, north = bbox
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.25,  # fit the jurisdiction snugly
    )
    # the basemap lies in its own pane below every data layer (heat canvases included)
    folium.map.CustomPane(BASEMAP_PANE, z_index=350, pointer_events=True).add_to(m)
    add_header(m, Verbatim('<meta charset="utf-8">'), name="geo_service_charset")
    add_header(m, CssLink(PAGE_CSS), name="geo_service_css")
    add_html(m, f'<script>document.documentElement.lang="{lang}";</script>')
    tiles = settings.map_tiles_url or (
        "/maps/tiles/{z}/{x}/{y}" if settings.map_mbtiles_path else None
    )
    if tiles:
        folium.TileLayer(
            tiles=tiles,
            attr=settings.map_tiles_attribution or "local tiles",
            name="tiles",
            control=False,
            max_zoom=19,
        ).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    return m


def add_basemap(
    m: folium.Map, base: Basemap, *, lang: Lang, layers: tuple[str, ...] = BASE_LAYERS
) -> None:
    """Draw town, villages, water and roads plainly (those in ``layers``), each a layer in the
    layer control."""
    w = words(lang)
    for key in (k for k in BASE_LAYERS if k in layers):
        RawGeoJson(
            base.layers_json[key],
            name=w[key],
            style=_BASE_STYLE[key],
            tooltip_field="name" if key != "town" else None,
            pane=BASEMAP_PANE,
        ).add_to(m)


async def base_map(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    layers: tuple[str, ...] = BASE_LAYERS,
    fit: tuple[float, float, float, float] | None = None,
) -> folium.Map:
    """A map with the neutral basemap of the jurisdiction, opening on ``fit`` (west, south,
    east, north) or else on the whole station (call ``finish`` after your layers)."""
    base = await basemap(conn)
    m = new_map(settings=settings, lang=lang, bbox=fit or base.bbox)
    add_basemap(m, base, lang=lang, layers=layers)
    return m
