"""Map pages under /maps/ (Folium, every asset served by the app) and their data endpoints."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from geo_service.accounts.access import BUSINESS, INCIDENTS, allow
from geo_service.accounts.deps import Connection
from geo_service.errors import NotFound
from geo_service.maps.animation import animation_page
from geo_service.maps.heatmap import heatmap_page
from geo_service.maps.hexagons import hexagon_page
from geo_service.maps.overview import overview_page
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.map_page import map_page
from geo_service.routers.params import (
    AppSettings,
    AtQuery,
    BboxQuery,
    BeatQuery,
    LangQuery,
    VillageQuery,
)
from geo_service.schemas.incidents import HeatmapAnswer, HexagonCollection, HourlyAnswer
from geo_service.schemas.overview import OverviewLayers
from geo_service.services.incidents import (
    CATEGORIES_PATTERN,
    HOURS_PATTERN,
    MAX_WINDOW_DAYS,
    WEEKDAYS_PATTERN,
    IncidentFilter,
    heat,
    hexagons,
    hourly,
    incident_filter,
)
from geo_service.services.maps import (
    OVERVIEW_LAYERS,
    overview_layers,
    parse_bbox,
    parse_layers,
)

router = APIRouter(tags=["maps"])

GEOJSON = "application/geo+json"
_LAYER = f" *({'|'.join(OVERVIEW_LAYERS)})? *"
LAYERS_PATTERN = rf"^{_LAYER}(,{_LAYER})*$"  # what parse_layers accepts


async def incident_filter_of(
    conn: Connection,
    start: Annotated[
        str | None, Query(description="Window start, ISO 8601 date or moment (station time)")
    ] = None,
    end: Annotated[str | None, Query(description="Window end (exclusive), ISO 8601")] = None,
    days: Annotated[
        int | None,
        Query(
            json_schema_extra={"minimum": 1, "maximum": MAX_WINDOW_DAYS},
            description=f"Window length in days (1..{MAX_WINDOW_DAYS}; default 30) when "
            "start or end is missing; with neither, the last days that have incidents",
        ),
    ] = None,
    categories: Annotated[
        list[str] | None,
        Query(
            description="Incident categories, repeated or comma-separated (default all)",
            json_schema_extra={"items": {"type": "string", "pattern": CATEGORIES_PATTERN}},
        ),
    ] = None,
    beat: BeatQuery = None,
    village: VillageQuery = None,
    hours: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Station hours, e.g. 0-6,22,23 (22-2 wraps around midnight)",
            json_schema_extra={"pattern": HOURS_PATTERN},
        ),
    ] = None,
    weekdays: Annotated[
        str | None,
        Query(
            max_length=40,
            description="ISO weekdays 1 (Mon)..7, e.g. 6-7 (7-1 wraps around)",
            json_schema_extra={"pattern": WEEKDAYS_PATTERN},
        ),
    ] = None,
) -> IncidentFilter:
    """The incident filter every incident map and data endpoint shares (validated)."""
    return await incident_filter(
        conn,
        start=start,
        end=end,
        days=days,
        categories=",".join(categories) if categories else None,
        beat=beat,
        village=village,
        hours=hours,
        weekdays=weekdays,
    )


Filter = Annotated[IncidentFilter, Depends(incident_filter_of)]
Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution, 7..10")]


def _json(body: object, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), media_type=media_type)


# ------------------------------------------------------------------------------------- pages


@router.get(
    "/maps/overview",
    response_class=HTMLResponse,
    summary="Overview map",
    dependencies=[allow(BUSINESS)],
)
async def overview_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    lang: LangQuery = "zh",
    at: AtQuery = None,
) -> HTMLResponse:
    """Villages, grids, beats, water, markers by status, rentals, cameras and work points, each
    a layer; tooltips name the people responsible; a click anywhere shows the lookup answer."""
    moment = parse_moment(at)
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: overview_page(
            conn, settings=settings, lang=lang, at=moment, links=links
        ),
    )


@router.get(
    "/maps/heatmap",
    response_class=HTMLResponse,
    summary="Incident heatmap",
    dependencies=[allow(INCIDENTS)],
)
async def heatmap_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    flt: Filter,
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """Incidents aggregated per H3 cell in PostGIS (at most ~50,000 weighted points)."""
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: heatmap_page(
            conn,
            settings=settings,
            lang=lang,
            flt=flt,
            links=links,
        ),
    )


@router.get(
    "/maps/hexagons",
    response_class=HTMLResponse,
    summary="H3 hexagon map",
    dependencies=[allow(INCIDENTS)],
)
async def hexagon_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    flt: Filter,
    lang: LangQuery = "zh",
    resolution: Resolution = 8,
) -> HTMLResponse:
    """Incidents per H3 cell, with change against the previous period of the same length."""
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: hexagon_page(
            conn,
            settings=settings,
            lang=lang,
            flt=flt,
            resolution=resolution,
            links=links,
        ),
    )


@router.get(
    "/maps/animation",
    response_class=HTMLResponse,
    summary="Incidents by hour or weekday",
    dependencies=[allow(INCIDENTS)],
)
async def animation_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    flt: Filter,
    lang: LangQuery = "zh",
    by: Annotated[Literal["hour", "weekday"], Query(description="hour or weekday")] = "hour",
) -> HTMLResponse:
    """An animated heatmap, one frame per station hour (0..23) or ISO weekday."""
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: animation_page(
            conn,
            settings=settings,
            lang=lang,
            flt=flt,
            by=by,
            links=links,
        ),
    )


@router.get(
    "/maps/tiles/{z}/{x}/{y}",
    dependencies=[allow(BUSINESS)],
    summary="Tiles of the configured MBTiles file",
    response_class=Response,
    responses={
        200: {
            "description": "The tile, in the MBTiles file's format",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/webp", "application/x-protobuf")
            },
        },
        404: {"description": "No MBTiles file is configured, or it has no such tile"},
    },
)
async def mbtiles_tile(
    settings: AppSettings,
    z: Annotated[int, Path(ge=0, le=24)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    """One XYZ tile from ``MAP_MBTILES_PATH`` (MBTiles rows are TMS: y is flipped)."""
    path = settings.map_mbtiles_path
    if not path:
        raise NotFound("No MBTiles file is configured (MAP_MBTILES_PATH).", parameter="z")

    def read() -> tuple[bytes | None, str]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
            fmt = db.execute("SELECT value FROM metadata WHERE name='format'").fetchone()
        return (row[0] if row else None), (fmt[0] if fmt else "png")

    data, fmt = await run_in_threadpool(read)
    if data is None:
        raise NotFound(f"No tile {z}/{x}/{y} in the MBTiles file.", parameter="z")
    media = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
    return Response(data, media_type=media.get(fmt, "application/x-protobuf"))


# ------------------------------------------------------------------------------ data endpoints


@router.get(
    "/api/v1/incidents/heatmap",
    dependencies=[allow(INCIDENTS)],
    summary="Heatmap weights of incidents",
    response_model=HeatmapAnswer,
)
async def incidents_heatmap(conn: Connection, flt: Filter) -> Response:
    """Weighted points [lat, lon, incidents] at H3 cell centres, as fine as at most ~50,000
    points allow (``h3_resolution``); the weights sum to the matching incidents."""
    data = await heat(conn, flt=flt)
    body = data.as_json()
    body["points_latlon_weight"] = body.pop("frames").get("0", [])
    return _json(body)


@router.get(
    "/api/v1/incidents/hexagons",
    dependencies=[allow(INCIDENTS)],
    summary="Incidents per H3 cell with change",
    response_model=HexagonCollection,
    response_class=GeoJSONResponse,
)
async def incidents_hexagons(conn: Connection, flt: Filter, resolution: Resolution = 8) -> Response:
    """GeoJSON hexagons with incidents in the window, in the previous period of the same
    length, and the change."""
    return _json(await hexagons(conn, flt=flt, resolution=resolution), GEOJSON)


@router.get(
    "/api/v1/incidents/hourly",
    dependencies=[allow(INCIDENTS)],
    summary="Incidents per weekday and hour",
    response_model=HourlyAnswer,
)
async def incidents_hourly(conn: Connection, flt: Filter) -> Response:
    """Incidents per ISO weekday × station hour (7 × 24), with totals by hour and weekday
    (the hours and weekdays filters do not apply here)."""
    return _json(await hourly(conn, flt=flt))


@router.get(
    "/api/v1/overview/layers",
    dependencies=[allow(BUSINESS)],
    summary="The overview map's layers",
    response_model=OverviewLayers,
)
async def overview_data(
    conn: Connection,
    at: AtQuery = None,
    layers: Annotated[
        str | None,
        Query(
            max_length=200,
            description=f"Comma-separated, of {', '.join(OVERVIEW_LAYERS)}",
            json_schema_extra={"pattern": LAYERS_PATTERN},
        ),
    ] = None,
    bbox: BboxQuery = None,
    limit: Annotated[
        int | None, Query(ge=1, le=100_000, description="At most this many features a layer")
    ] = None,
) -> Response:
    """Villages, grids and beats in force with the people responsible; water markers, rental
    houses, cameras and work points: GeoJSON FeatureCollections keyed by layer, each with its
    ``total`` in the bbox and ``truncated`` when ``limit`` cut it (first features by code)."""
    body = await overview_layers(
        conn,
        at=parse_moment(at),
        layers=parse_layers(layers),
        bbox=parse_bbox(bbox),
        limit=limit,
    )
    return _json(body)
