"""Offline Folium maps: local assets only, a neutral basemap of the jurisdiction, words in zh/en.

Interface (stable; every map module under ``geo_service/maps/`` builds on it):

- ``Lang`` — ``Literal["zh", "en"]``; Chinese is the default, English with ``?lang=en``.
- ``words(lang) -> dict[str, str]`` — every label, legend and tooltip word in one language.
  ``add_words(zh={...}, en={...})`` lets a map module add its own words at import time (a key
  already present with a different text raises ``ValueError``, so two modules cannot clash).
- ``ASSETS`` — the ONE table from the CDN URLs Folium and its plugins name (``default_js`` /
  ``default_css``) to URLs served by the app (``/assets/npm/...`` from ``web_map/node_modules``,
  installed from ``web_map/package-lock.json``; ``/assets/folium/...`` from the files the folium
  Python package ships). ``None`` drops an asset no page uses (glyphicons, icon rotation).
- ``mount_assets(app, settings)`` — mounts ``/assets/npm`` and ``/assets/folium`` (main.py).
- ``new_map(*, settings, lang, bbox) -> folium.Map`` — an empty map fitted to ``bbox``
  ``(west, south, east, north)``: no tiles, or the local tile source from the settings
  (``map_tiles_url``, or ``map_mbtiles_path`` served by ``/maps/tiles/{z}/{x}/{y}``).
- ``await basemap(conn, *, tolerance_m=None) -> Basemap`` — town, villages, roads and water as
  GeoJSON (SQL ``basemap_layers``; None picks a tolerance from the jurisdiction's width), plus
  the station's bbox; cached in memory until ``basemap_version()`` changes.
- ``await base_map(conn, *, settings, lang, layers=BASE_LAYERS) -> folium.Map`` — ``new_map`` +
  the basemap drawn plainly (each layer in the layer control; call ``finish(m, lang)`` after
  adding your layers). ``layers`` picks from ``("villages", "water", "roads", "town")``.
- ``add_basemap(m, base, *, lang, layers=BASE_LAYERS)`` — draw a fetched ``Basemap`` on a map.
- ``add_script(m, code)`` — JavaScript run once the map exists; ``{map}`` names the Leaflet map.
- ``lang_links(lang, path, query)`` — the "中文 / English" switch and a link home (HTML).
- ``add_title(m, title, note="", links="")``, ``add_legend(m, title, rows)`` with rows
  ``[(css_colour, label), ...]`` — fixed panels in the page, escaped (``links`` is trusted HTML).
- ``add_html(m, html)`` / ``Verbatim(text)`` — trusted HTML put in the page as it is. Prefer
  these to ``folium.Element(text)``, which compiles its text as a Jinja template (slow on large
  text, and it would evaluate ``{{ }}`` found in data).
- ``DataInPage`` — mixin for a ``folium.map.Layer`` subclass with large data in
  ``self.data_json``: it is written verbatim as ``var <name>_data`` before the layer's script.
  ``RawGeoJson(json_text, name=, style=, tooltip_field=None, pane=None, show=True)`` is one.
- ``finish(m, lang)`` — adds the layer control; call once, last.
- ``render(m, *, settings) -> str`` — the whole HTML page; every asset rewritten through
  ``ASSETS``; raises ``OfflineViolation`` if any http(s) URL to a host other than the app (or
  the configured intranet tile host) would remain, so a forgotten plugin fails the tests.
- ``html_response(m, *, settings) -> HTMLResponse`` — ``render`` wrapped for a FastAPI route.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlparse

import folium
import orjson
import psycopg
from branca.element import Element, Figure, MacroElement
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from folium.map import Layer
from folium.template import Template
from jinja2 import Template as JinjaTemplate

from geo_service.services.maps import basemap_layers
from geo_service.settings import Settings

Lang = Literal["zh", "en"]

NPM = "/assets/npm"
FOLIUM = "/assets/folium"
FOLIUM_TEMPLATES = Path(folium.__file__).parent / "templates"

# Where Folium and its plugins point (only to spell the keys of ASSETS below).
_JSD = "https://cdn.jsdelivr.net/npm"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_FOLIUM_GH = "https://cdn.jsdelivr.net/gh/python-visualization/folium"

# The one table: CDN URL named by Folium (0.20) or a plugin -> URL served by this app.
# Versions pinned in web_map/package.json match those the folium templates name
# (leaflet.awesome-markers 2.0.2 is not on npm; 2.0.5 is the same code republished).
ASSETS: dict[str, str | None] = {
    # folium.Map
    f"{_JSD}/leaflet@1.9.3/dist/leaflet.js": f"{NPM}/leaflet/dist/leaflet.js",
    f"{_JSD}/leaflet@1.9.3/dist/leaflet.css": f"{NPM}/leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": f"{NPM}/jquery/dist/jquery.min.js",
    f"{_CDNJS}/jquery/3.7.1/jquery.min.js": f"{NPM}/jquery/dist/jquery.min.js",
    f"{_JSD}/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        f"{NPM}/bootstrap/dist/js/bootstrap.bundle.min.js"
    ),
    f"{_JSD}/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
        f"{NPM}/bootstrap/dist/css/bootstrap.min.css"
    ),
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
        f"{NPM}/leaflet.awesome-markers/dist/leaflet.awesome-markers.js"
    ),
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
        f"{NPM}/leaflet.awesome-markers/dist/leaflet.awesome-markers.css"
    ),
    f"{_JSD}/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        f"{NPM}/@fortawesome/fontawesome-free/css/all.min.css"
    ),
    # Bootstrap 3 glyphicons and folium's icon-rotation CSS: no page uses them (icons are
    # Font Awesome, never rotated); dropped rather than served.
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": None,
    f"{_FOLIUM_GH}/folium/templates/leaflet.awesome.rotate.min.css": None,
    # plugins.HeatMap (folium's own build of leaflet.heat, shipped in the Python package)
    f"{_FOLIUM_GH}@main/folium/templates/leaflet_heat.min.js": f"{FOLIUM}/leaflet_heat.min.js",
    # plugins.HeatMapWithTime / TimestampedGeoJson
    f"{_JSD}/iso8601-js-period@0.2.1/iso8601.min.js": f"{NPM}/iso8601-js-period/iso8601.js",
    f"{_JSD}/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js": (
        f"{NPM}/leaflet-timedimension/dist/leaflet.timedimension.min.js"
    ),
    f"{_JSD}/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css": (
        f"{NPM}/leaflet-timedimension/dist/leaflet.timedimension.control.css"
    ),
    f"{_FOLIUM_GH}/folium/templates/pa7_hm.min.js": f"{FOLIUM}/pa7_hm.min.js",
    f"{_FOLIUM_GH}/folium/templates/pa7_leaflet_hm.min.js": f"{FOLIUM}/pa7_leaflet_hm.min.js",
    f"{_CDNJS}/moment.js/2.18.1/moment.min.js": f"{NPM}/moment/min/moment.min.js",
    # highlight.js styles named by the time-dimension plugins: nothing uses them, dropped
    f"{_CDNJS}/highlight.js/8.4/styles/default.min.css": None,
    # plugins.MarkerCluster
    f"{_CDNJS}/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
        f"{NPM}/leaflet.markercluster/dist/leaflet.markercluster.js"
    ),
    f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.css": (
        f"{NPM}/leaflet.markercluster/dist/MarkerCluster.css"
    ),
    f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (
        f"{NPM}/leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
    # plugins.Fullscreen
    f"{_JSD}/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
        f"{NPM}/leaflet.fullscreen/Control.FullScreen.js"
    ),
    f"{_JSD}/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
        f"{NPM}/leaflet.fullscreen/Control.FullScreen.css"
    ),
}


class OfflineViolation(RuntimeError):
    """A page would load something from a host other than the app (a programming error)."""


# ---------------------------------------------------------------------------------------- words

_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "town": "镇界",
        "villages": "村社",
        "village": "村社",
        "roads": "道路",
        "water": "水域",
        "name": "名称",
        "code": "编号",
        "kind": "类型",
        "legend": "图例",
        "count": "数量",
        "total": "合计",
        "window": "时间范围",
        "no_data": "该时间范围内没有数据",
        "maps": "地图",
        "home": "首页",
        "other_lang": "English",
    },
    "en": {
        "town": "Town boundary",
        "villages": "Villages",
        "village": "Village",
        "roads": "Roads",
        "water": "Water",
        "name": "Name",
        "code": "Code",
        "kind": "Kind",
        "legend": "Legend",
        "count": "Count",
        "total": "Total",
        "window": "Window",
        "no_data": "No data in this window",
        "maps": "Maps",
        "home": "Home",
        "other_lang": "中文",
    },
}


def add_words(*, zh: dict[str, str], en: dict[str, str]) -> None:
    """Add a map module's words in both languages (same keys; a clashing text raises)."""
    if set(zh) != set(en):
        raise ValueError(f"zh and en words differ in keys: {sorted(set(zh) ^ set(en))}")
    for lang, new in (("zh", zh), ("en", en)):
        for key, text in new.items():
            old = _WORDS[lang].get(key)
            if old is not None and old != text:
                raise ValueError(f"word {key!r} ({lang}) is already {old!r}, not {text!r}")
        _WORDS[lang].update(new)


def words(lang: Lang) -> dict[str, str]:
    """All map words in one language (a copy)."""
    return dict(_WORDS[lang])


# --------------------------------------------------------------------------------------- assets


def mount_assets(app: FastAPI, settings: Settings) -> None:
    """Serve npm packages under /assets/npm and folium's own JS files under /assets/folium."""
    node_modules = settings.web_map_dir / "node_modules"
    if node_modules.is_dir():  # installed by `make setup` (npm ci in web_map/)
        app.mount(NPM, StaticFiles(directory=node_modules), name="npm")
    app.mount(FOLIUM, StaticFiles(directory=FOLIUM_TEMPLATES), name="folium-assets")


def _local(url: str) -> str | None:
    """The app's URL for an asset; URLs already local pass; unknown outside URLs raise."""
    if not urlparse(url).netloc:
        return url
    if url in ASSETS:
        return ASSETS[url]
    raise OfflineViolation(
        f"{url} is not served by the app: add it to ASSETS in geo_service/maps/base.py "
        "(and its npm package to web_map/package.json)"
    )


def _localise(element: Any) -> None:
    """Rewrite default_js/default_css of an element and all its children through ASSETS."""
    for attr in ("default_js", "default_css"):
        links = getattr(element, attr, None)
        if links:
            setattr(
                element,
                attr,
                [(name, local) for name, url in links if (local := _local(url)) is not None],
            )
    for child in list(getattr(element, "_children", {}).values()):
        _localise(child)


_URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
# Names that look like URLs but are never fetched (XML namespaces).
_NOT_FETCHED = ("http://www.w3.org/",)


def render(m: folium.Map, *, settings: Settings) -> str:
    """The map as a complete HTML page with every asset served by the app.

    Raises OfflineViolation when any http(s) URL to another host would remain in the page
    (only the intranet tile host of ``settings.map_tiles_url`` is allowed).
    """
    figure = m.get_root()
    _localise(figure)
    page = figure.render()
    allowed = {urlparse(settings.map_tiles_url).netloc} if settings.map_tiles_url else set()
    outside = sorted(
        {
            u
            for u in _URL.findall(page)
            if not u.startswith(_NOT_FETCHED) and urlparse(u).netloc not in allowed
        }
    )
    if outside:
        raise OfflineViolation(f"the page would request outside hosts: {outside[:5]}")
    return page


def html_response(m: folium.Map, *, settings: Settings) -> HTMLResponse:
    """``render`` as a FastAPI HTML response."""
    return HTMLResponse(render(m, settings=settings))


# -------------------------------------------------------------------------------------- basemap


@dataclass(frozen=True)
class Basemap:
    """The jurisdiction's own layers as GeoJSON FeatureCollection text, and the station's bbox."""

    bbox: tuple[float, float, float, float]  # west, south, east, north
    layers_json: dict[str, str]  # town, villages, roads, water

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        """The layers parsed (a fresh copy)."""
        return {k: orjson.loads(v) for k, v in self.layers_json.items()}


async def basemap(conn: psycopg.AsyncConnection, *, tolerance_m: float | None = None) -> Basemap:
    """Town, villages, roads and water simplified by ``tolerance_m`` metres (None: a 1500th of
    the jurisdiction's width), kept in memory until those layers change."""
    bbox, layers = await basemap_layers(conn, tolerance_m=tolerance_m)
    empty = '{"type":"FeatureCollection","features":[]}'
    return Basemap(
        bbox=tuple(bbox) if len(bbox) == 4 else (120.0, 29.5, 120.6, 30.0),  # type: ignore[arg-type]
        layers_json={k: layers.get(k) or empty for k in _BASE_STYLE},
    )


class Verbatim(Element):
    """Text put into the page as it is: never parsed as a template (folium's ``Element(text)``
    compiles its text with Jinja, which is slow for large data and would run ``{{ }}`` in it)."""

    _template = JinjaTemplate("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self.text = text


def add_html(m: folium.Map, text: str) -> None:
    """Add trusted HTML to the page body, verbatim."""
    m.get_root().html.add_child(Verbatim(text))


class DataInPage:
    """Mixin for a layer with large data: ``self.data_json`` goes into the page verbatim as
    ``var <name>_data`` just before the layer's own (small) script."""

    data_json: str

    def render(self, **kwargs: Any) -> None:
        """Add the data variable, then render as usual."""
        name = self.get_name()  # type: ignore[attr-defined]
        data = self.data_json.replace("</", "<\\/")  # never ends the <script>
        self.get_root().script.add_child(  # type: ignore[attr-defined]
            Verbatim(f"var {name}_data = {data};"), name=f"{name}_data"
        )
        super().render(**kwargs)  # type: ignore[misc]


class RawGeoJson(DataInPage, Layer):
    """A GeoJSON layer from ready JSON text, one style for all features, an optional tooltip
    of one property: no per-feature work in Python (the basemap can be large)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.geoJson({{ this.get_name() }}_data,"
        " {{ this.options|tojson }});"
        "{{ this.get_name() }}.setStyle({{ this.style|tojson }});"
        "{% if this.tooltip_field %}{{ this.get_name() }}.bindTooltip(function (l) {"
        " return String(l.feature.properties[{{ this.tooltip_field|tojson }}] || ''); },"
        " {sticky: true});{% endif %}"
        "{% endmacro %}"
    )

    def __init__(
        self,
        data_json: str,
        *,
        name: str,
        style: dict[str, Any],
        tooltip_field: str | None = None,
        pane: str | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RawGeoJson"
        self.data_json = data_json
        self.style = style
        self.tooltip_field = tooltip_field
        self.options = {"pane": pane} if pane else {}


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
    m.get_root().header.add_child(
        Verbatim(f'<meta charset="utf-8"><style>{_PAGE_CSS}</style>'), name="geo_service_css"
    )
    m.get_root().html.add_child(
        Verbatim(f'<script>document.documentElement.lang="{lang}";</script>')
    )
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


BASE_LAYERS = ("villages", "water", "roads", "town")
BASEMAP_PANE = "basemap"


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
) -> folium.Map:
    """A map with the neutral basemap of the jurisdiction (call ``finish`` after your layers)."""
    base = await basemap(conn)
    m = new_map(settings=settings, lang=lang, bbox=base.bbox)
    add_basemap(m, base, lang=lang, layers=layers)
    return m


# --------------------------------------------------------------------------------------- panels

_PAGE_CSS = """
html, body {font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif;}
.leaflet-container {background: #e8eef2;}
.gs-panel {position: fixed; z-index: 1000; background: rgba(255,255,255,.93); padding: 8px 12px;
  border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,.35); font-size: 13px; line-height: 1.45;}
.gs-title {top: 10px; left: 60px; max-width: 55%;}
.gs-title h1 {font-size: 17px; margin: 0 0 2px 0; font-weight: 600;}
.gs-title .gs-note {color: #444;}
.gs-title a {margin-right: 8px;}
.gs-legend {bottom: 64px; left: 10px; max-height: 60%; overflow-y: auto;}
.gs-legend h2 {font-size: 14px; margin: 0 0 4px 0; font-weight: 600;}
.gs-legend i {display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid rgba(0,0,0,.25);}
.gs-ramp {height: 12px; width: 200px; border: 1px solid rgba(0,0,0,.25);}
.gs-ramp-labels {display: flex; justify-content: space-between; width: 200px; font-size: 12px;}
.gs-filters summary {cursor: pointer; color: #0645ad;}
.gs-filters form {margin-top: 4px; font-size: 12px;}
.gs-filters label {margin-right: 6px; white-space: nowrap;}
.gs-filters input {font-size: 12px;}
/* leaflet-timedimension's control names Glyphicons from a CDN: draw its buttons with the
   Font Awesome served by the app instead, so that font is never needed nor requested */
body .leaflet-bar-timecontrol .leaflet-control-timecontrol:before {
  font-family: "Font Awesome 6 Free"; font-weight: 900;}
body .leaflet-bar-timecontrol .timecontrol-play:before,
body .leaflet-bar-timecontrol .timecontrol-play.reverse:before {content: "\\f04b";}
body .leaflet-bar-timecontrol .timecontrol-play.pause:before {content: "\\f04c";}
body .leaflet-bar-timecontrol a.timecontrol-play.loading:before,
body .leaflet-bar-timecontrol .timecontrol-date.loading:before {content: "\\f110";}
body .leaflet-bar-timecontrol .timecontrol-speed:before {content: "\\f0e4";}
body .leaflet-bar-timecontrol .timecontrol-stop:before {content: "\\f04d";}
body .leaflet-bar-timecontrol .timecontrol-forward:before {content: "\\f051";}
body .leaflet-bar-timecontrol .timecontrol-backward:before {content: "\\f048";}
body .leaflet-bar-timecontrol .timecontrol-loop:before {content: "\\f01e";}
.gs-lazy-note {bottom: 10px; left: 50%; transform: translateX(-50%);}
.gs-lazy-note:not(:has(div:not(:empty))) {display: none;}
.gs-tip th {text-align: left; padding-right: 8px; font-weight: 600; vertical-align: top;}
.gs-bars {display: flex; align-items: flex-end; gap: 1px; height: 60px;}
.gs-bars div {background: #d7191c; width: 7px; min-height: 1px;}
.gs-bars div.gs-now {background: #2c7bb6;}
"""


def add_title(m: folium.Map, title: str, note: str = "", links: str = "") -> None:
    """A title panel at the top: title and a note (escaped); ``links`` is trusted HTML."""
    body = f"<h1>{html.escape(title)}</h1>"
    if note:
        body += f'<div class="gs-note">{html.escape(note)}</div>'
    if links:
        body += f"<div>{links}</div>"
    add_html(m, f'<div class="gs-panel gs-title">{body}</div>')


def add_legend(m: folium.Map, title: str, rows: list[tuple[str, str]]) -> None:
    """A legend panel at the bottom left: rows of (CSS colour, label), escaped; colour "" is a
    plain line."""
    items = "".join(
        f'<div><i style="background:{html.escape(colour)}"></i>{html.escape(label)}</div>'
        if colour
        else f"<div>{html.escape(label)}</div>"
        for colour, label in rows
    )
    m.get_root().html.add_child(
        Verbatim(f'<div class="gs-panel gs-legend"><h2>{html.escape(title)}</h2>{items}</div>')
    )


class _Script(MacroElement):
    """A script run once the map exists (``{map}`` is the Leaflet map variable)."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this.code.replace('{map}', this._parent.get_name()) }}"
        "{% endmacro %}"
    )

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "Script"
        self.code = code


def add_script(m: folium.Map, code: str) -> None:
    """Run JavaScript after the map is built; ``{map}`` in ``code`` names the Leaflet map."""
    _Script(code).add_to(m)


def lang_links(lang: Lang, path: str, query: list[tuple[str, str]]) -> str:
    """Links home and to the same page in the other language, keeping the other parameters."""
    w = words(lang)
    kept = [(k, v) for k, v in query if k != "lang"]
    if lang == "zh":
        kept.append(("lang", "en"))
    href = path + ("?" + urlencode(kept) if kept else "")
    home = "/?lang=en" if lang == "en" else "/"
    return (
        f'<a href="{html.escape(home)}">{html.escape(w["home"])}</a>'
        f'<a href="{html.escape(href)}">{html.escape(w["other_lang"])}</a>'
    )


def finish(m: folium.Map, lang: Lang) -> folium.Map:
    """Add the layer control (collapsed on small screens); call once after all layers."""
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def figure_of(m: folium.Map) -> Figure:
    """The branca Figure a map belongs to (for adding header elements)."""
    return m.get_root()  # type: ignore[return-value]
