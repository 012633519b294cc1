"""Water safety: shore out of reach of a rescue pole, markers, and the /maps/water page."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.accounts.access import WATER, allow
from geo_service.accounts.deps import Caller, Connection
from geo_service.maps.water import water_page
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.map_page import map_page
from geo_service.routers.params import AppSettings, AtQuery, LangQuery
from geo_service.schemas.water import MarkerStatus, ShoreGaps
from geo_service.services.water import marker_status, shore_gaps

router = APIRouter(tags=["water"], dependencies=[allow(WATER)])

DISTANCE_DOC = "Reach of a working rescue pole in metres. Default: SHORE_GAP_M (150)."
DUE_DOC = "An inspection is due after this many days. Default: INSPECTION_DUE_DAYS (90)."
Distance = Annotated[float | None, Query(gt=0, le=5000, description=DISTANCE_DOC)]
DueDays = Annotated[int | None, Query(gt=0, le=3650, description=DUE_DOC)]


@router.get(
    "/api/v1/water/shore-gaps",
    summary="Shore out of reach of a working rescue pole",
    response_model=ShoreGaps,
    response_class=GeoJSONResponse,
)
async def gaps(conn: Connection, settings: AppSettings, distance_m: Distance = None) -> Response:
    """GeoJSON of the stretches of water-body shore farther than ``distance_m`` from every
    working (status ok) rescue pole, with lengths in metres (EPSG:4549) per water body."""
    distance = distance_m or settings.shore_gap_m
    body = await shore_gaps(conn, distance_m=distance)
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get(
    "/api/v1/water/markers",
    summary="Water markers by status and inspection age",
    response_model=MarkerStatus,
    response_class=GeoJSONResponse,
)
async def markers(
    conn: Connection,
    settings: AppSettings,
    at: AtQuery = None,
    due_days: DueDays = None,
) -> Response:
    """Every water marker with its status, days since its last inspection at ``at`` and whether
    an inspection is due, as GeoJSON."""
    due = due_days or settings.inspection_due_days
    body = await marker_status(conn, at=parse_moment(at), due_days=due)
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get("/maps/water", response_class=HTMLResponse, summary="Water-safety map")
async def water_map(
    request: Request,
    user: Caller,
    conn: Connection,
    settings: AppSettings,
    distance_m: Distance = None,
    at: AtQuery = None,
    due_days: DueDays = None,
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """Markers by status and inspection age, the reach of working poles, the shore gaps and
    the dusk patrols; it opens on the user's own areas when they see only those (a grid
    worker, a volunteer), on the whole station otherwise."""
    moment = parse_moment(at)
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: water_page(
            conn,
            settings=settings,
            lang=lang,
            at=moment,
            distance_m=distance_m or settings.shore_gap_m,
            due_days=due_days or settings.inspection_due_days,
            links=links,
            own_areas=user.maps_open_on_own_areas,
        ),
    )
