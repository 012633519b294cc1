"""The one table from CDN URLs named by Folium and its plugins to URLs the app serves, and the
offline check every rendered page passes (no http(s) URL to another host may remain)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import folium

from geo_service.settings import Settings

NPM = "/assets/npm"  # web_map/node_modules, installed from web_map/package-lock.json
FOLIUM = "/assets/folium"  # the JavaScript files the folium Python package ships
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


def _local(url: str) -> str | None:
    """The app's URL for an asset; URLs already local pass; unknown outside URLs raise."""
    if not urlparse(url).netloc:
        return url
    if url in ASSETS:
        return ASSETS[url]
    raise OfflineViolation(
        f"{url} is not served by the app: add it to ASSETS in geo_service/maps/assets.py "
        "(and its npm package to web_map/package.json)"
    )


def localise(element: Any) -> None:
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
        localise(child)


_URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
# Names that look like URLs but are never fetched (XML namespaces).
_NOT_FETCHED = ("http://www.w3.org/",)


def check_offline(page: str, *, settings: Settings) -> None:
    """Raise OfflineViolation when any http(s) URL to another host remains in the page (only
    the intranet tile host of ``settings.map_tiles_url`` is allowed)."""
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
