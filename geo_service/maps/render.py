"""A built map as a complete HTML page, every asset served by the app (no HTTP in here)."""

from __future__ import annotations

import folium

from geo_service.maps.assets import check_offline, localise
from geo_service.settings import Settings


def render(m: folium.Map, *, settings: Settings) -> str:
    """The map as a complete HTML page with every asset rewritten through ``ASSETS``.

    Raises OfflineViolation when any http(s) URL to another host would remain in the page
    (only the intranet tile host of ``settings.map_tiles_url`` is allowed).
    """
    figure = m.get_root()
    localise(figure)
    page: str = figure.render()
    check_offline(page, settings=settings)
    return page
