"""The one path every map page is served by (a helper for the routers, not a router itself):
language links from the request's whole query, the signed-in user's bar, rendering off the event
loop, an HTML answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import folium
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from geo_service.maps.elements import lang_links
from geo_service.maps.render import render
from geo_service.maps.words import Lang
from geo_service.settings import Settings
from geo_service.web.render import user_bar

# Builds a page's map given the links for its title panel; answers the map and its data.
MapBuilder = Callable[[str], Awaitable[tuple[folium.Map, Any]]]


async def map_page(
    request: Request, *, settings: Settings, lang: Lang, build: MapBuilder
) -> HTMLResponse:
    """Build the map with links home and to the other language (every query parameter kept as
    given) and the user bar in its title panel, render it in the threadpool (Folium builds
    large strings) and answer it as HTML."""
    links = lang_links(lang, request.url.path, list(request.query_params.multi_items()))
    m, _ = await build(links + user_bar(request, lang))
    page = await run_in_threadpool(render, m, settings=settings)
    return HTMLResponse(page)
