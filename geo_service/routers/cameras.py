"""Cameras: view sectors, blind road stretches per beat, and the /maps/cameras page."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.accounts.access import PEOPLE, allow
from geo_service.accounts.deps import Connection
from geo_service.maps.cameras import camera_page
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.map_page import map_page
from geo_service.routers.params import AppSettings, AtQuery, BeatQuery, LangQuery, PlanQuery
from geo_service.schemas.cameras import BlindRoads, CameraSectors
from geo_service.services.cameras import blind_roads, camera_sectors

router = APIRouter(tags=["cameras"], dependencies=[allow(PEOPLE)])


@router.get(
    "/api/v1/cameras/sectors",
    summary="Camera view sectors",
    response_model=CameraSectors,
    response_class=GeoJSONResponse,
)
async def sectors(conn: Connection) -> Response:
    """Every camera's view sector (from heading, field of view and range) as GeoJSON."""
    return Response(orjson.dumps(await camera_sectors(conn)), media_type="application/geo+json")


@router.get(
    "/api/v1/cameras/blind-roads",
    summary="Road stretches no working camera sees",
    response_model=BlindRoads,
    response_class=GeoJSONResponse,
    responses={404: {"description": "Unknown beat or plan, or no plan in force then"}},
)
async def blind(
    conn: Connection,
    beat: BeatQuery = None,
    at: AtQuery = None,
    plan: PlanQuery = None,
) -> Response:
    """GeoJSON of the road stretches in a beat outside every working camera's view sector, with
    lengths in metres (EPSG:4549), and per-beat road and blind lengths in ``beats``."""
    body = await blind_roads(conn, beat=beat, at=parse_moment(at), plan=plan)
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.get(
    "/maps/cameras",
    response_class=HTMLResponse,
    summary="Camera and blind road map",
    responses={404: {"description": "Unknown beat or plan, or no plan in force then"}},
)
async def camera_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    beat: BeatQuery = None,
    at: AtQuery = None,
    plan: PlanQuery = None,
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """View sectors by camera status, beats, blind road stretches and a per-beat table."""
    moment = parse_moment(at)
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: camera_page(
            conn, settings=settings, lang=lang, at=moment, plan=plan, beat=beat, links=links
        ),
    )
