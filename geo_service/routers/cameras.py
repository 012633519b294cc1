"""Cameras: view sectors, blind road stretches per beat, and the /maps/cameras page."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.db import Connection
from geo_service.maps.base import html_response
from geo_service.maps.cameras import camera_page
from geo_service.moments import parse_moment
from geo_service.routers.lookup import AT_DOC
from geo_service.services.cameras import blind_roads, camera_sectors

router = APIRouter(tags=["cameras"])

PLAN_DOC = "Beat plan code. Default: the plan in force at `at`."
BEAT_DOC = "Beat code. Default: every beat of the plan."


@router.get("/api/v1/cameras/sectors", summary="Camera view sectors")
async def sectors(conn: Connection) -> Response:
    """Every camera's view sector (from heading, field of view and range) as GeoJSON."""
    return Response(orjson.dumps(await camera_sectors(conn)), media_type="application/geo+json")


@router.get("/api/v1/cameras/blind-roads", summary="Road stretches no working camera sees")
async def blind(
    conn: Connection,
    beat: Annotated[str | None, Query(max_length=64, description=BEAT_DOC)] = None,
    at: Annotated[str | None, Query(description=AT_DOC)] = None,
    plan: Annotated[str | None, Query(max_length=64, description=PLAN_DOC)] = None,
) -> Response:
    """GeoJSON of the road stretches in a beat outside every working camera's view sector, with
    lengths in metres (EPSG:4549), and per-beat road and blind lengths in ``beats``."""
    body = await blind_roads(conn, beat=beat, at=parse_moment(at), plan=plan)
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get("/maps/cameras", response_class=HTMLResponse, summary="Camera and blind road map")
async def camera_map(
    request: Request,
    conn: Connection,
    beat: Annotated[str | None, Query(max_length=64, description=BEAT_DOC)] = None,
    at: Annotated[str | None, Query(description=AT_DOC)] = None,
    plan: Annotated[str | None, Query(max_length=64, description=PLAN_DOC)] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="zh (default) or en")] = "zh",
) -> HTMLResponse:
    """View sectors by camera status, beats, blind road stretches and a per-beat table."""
    settings = request.app.state.settings
    m = await camera_page(
        conn, settings=settings, lang=lang, at=parse_moment(at), plan=plan, beat=beat
    )
    return html_response(m, settings=settings)
