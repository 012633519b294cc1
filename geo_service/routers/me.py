"""The phone page "my area" (issue 14): /api/v1/me, /me, its manifest and service worker."""

from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from PIL import Image, ImageDraw

from geo_service.accounts.access import MY_AREA, allow, public
from geo_service.accounts.deps import Connection
from geo_service.errors import NotFound
from geo_service.maps.words import person_roles
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.params import AppSettings, AtQuery, Lang, LangQuery
from geo_service.schemas.me import MyArea, MyAreaMap
from geo_service.services.me import my_area, my_area_map
from geo_service.web.render import render_page, templates_of

router = APIRouter(tags=["field"])

ICON_SIZES = (192, 512)
# The phone pages' own files (web_map/static): what the service worker keeps for use with no
# network (/me, and the department's page /department).
PAGE_ASSETS = (
    "/static/kept.js",
    "/static/me.js",
    "/static/me.css",
    "/static/department.js",
    "/static/department.css",
    "/static/site.css",
    "/assets/npm/leaflet/dist/leaflet.js",
    "/assets/npm/leaflet/dist/leaflet.css",
    *(f"/me/icons/{size}.png" for size in ICON_SIZES),
)


@router.get(
    "/api/v1/me",
    summary="My area: areas, people and what is due there",
    response_model=MyArea,
    dependencies=[allow(MY_AREA)],
)
async def me(conn: Connection, settings: AppSettings, at: AtQuery = None) -> Response:
    """For the signed-in grid worker, community officer or volunteer: their areas in force, the
    people covering them with their phones (as the user may see them) and lists with counts:
    rental houses whose fire-safety check is due or overdue, water markers whose inspection is
    due, missing or damaged markers, cameras out of order, recent incidents in the area
    (without caller details), the targets of open sweeps not yet inspected and the user's own
    reports not closed. Each list gives its ``count``, its ``urgent`` count (overdue, missing,
    offline, a sweep ending soon, a report not yet accepted) and its first ``ME_LIST_LIMIT``
    items, most urgent first."""
    body = await my_area(conn, settings=settings, at=parse_moment(at))
    return Response(body, media_type="application/json")


@router.get(
    "/api/v1/me/map",
    summary="My area as GeoJSON",
    response_model=MyAreaMap,
    response_class=GeoJSONResponse,
    dependencies=[allow(MY_AREA)],
)
async def me_map(conn: Connection, settings: AppSettings, at: AtQuery = None) -> Response:
    """The user's areas (layer ``area``), every item of their lists (layer: the list's name)
    and the basemap around them (``basemap_village``, ``basemap_water``, ``basemap_road``)."""
    body = await my_area_map(conn, settings=settings, at=parse_moment(at))
    return Response(body, media_type="application/geo+json")


@router.get(
    "/me",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(MY_AREA)],
)
async def me_page(request: Request, lang: LangQuery = "zh") -> HTMLResponse:
    """The phone page: the page is a shell that draws /api/v1/me and /api/v1/me/map, kept by
    the service worker so that it opens again with no network."""
    return render_page(
        request, "me.html", lang=lang, me_words=page_words(templates_of(request), lang)
    )


@lru_cache(maxsize=8)
def page_words(templates: Path, lang: Lang) -> dict[str, Any]:
    """The phone page's own words in one language (read once), with people's roles."""
    words: dict[str, Any] = json.loads((templates / "me_words.json").read_text(encoding="utf-8"))[
        lang
    ]
    return {**words, "roles": person_roles(lang)}


@router.get("/manifest.webmanifest", include_in_schema=False, dependencies=[public])
async def manifest(request: Request, lang: LangQuery = "zh") -> Response:
    """The web app manifest: /me installed on a phone's home screen (no user data in it)."""
    w = page_words(templates_of(request), lang)
    body = {
        "name": w["app_name"],
        "short_name": w["app_short_name"],
        "lang": "zh-CN" if lang == "zh" else "en",
        "start_url": "/me" if lang == "zh" else "/me?lang=en",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f8",
        "theme_color": "#12355b",
        "icons": [
            {"src": f"/me/icons/{size}.png", "sizes": f"{size}x{size}", "type": "image/png"}
            for size in ICON_SIZES
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/sw.js", include_in_schema=False, dependencies=[public])
async def service_worker(request: Request) -> Response:
    """The service worker (scope /): keeps the phone page, its assets and the user's last
    answers for use with no network. Served from the root so that its scope may be /."""
    script = (Path(request.app.state.settings.web_map_dir) / "static" / "sw.js").read_text()
    assets = json.dumps(list(PAGE_ASSETS))
    return Response(
        script.replace("/*PAGE_ASSETS*/[]", assets),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/favicon.ico", include_in_schema=False, dependencies=[public])
async def favicon() -> Response:
    """The app's icon for the browser's tab (browsers ask for it on every page)."""
    return Response(
        icon_png(ICON_SIZES[0]), media_type="image/png", headers={"Cache-Control": "max-age=86400"}
    )


IconSize = Annotated[int, PathParam(description="Icon size in pixels: 192 or 512")]


@router.get("/me/icons/{size}.png", include_in_schema=False, dependencies=[public])
async def icon(size: IconSize) -> Response:
    """The app's icon at one of its sizes (drawn once by Pillow)."""
    if size not in ICON_SIZES:
        raise NotFound(f"No icon of {size} pixels; sizes: {ICON_SIZES}", parameter="size")
    return Response(
        icon_png(size), media_type="image/png", headers={"Cache-Control": "max-age=86400"}
    )


@lru_cache(maxsize=len(ICON_SIZES))
def icon_png(size: int) -> bytes:
    """A square icon: a grid of four cells on the service's blue, one cell marked."""
    image = Image.new("RGB", (size, size), "#12355b")
    draw = ImageDraw.Draw(image)
    pad, gap = size // 6, size // 24
    cell = (size - 2 * pad - gap) // 2
    for i in range(2):
        for j in range(2):
            x, y = pad + i * (cell + gap), pad + j * (cell + gap)
            fill = "#f5b82e" if (i, j) == (1, 0) else "#cfe3ff"
            draw.rounded_rectangle((x, y, x + cell, y + cell), radius=size // 24, fill=fill)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
