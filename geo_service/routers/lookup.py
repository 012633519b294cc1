"""Who covers this point: single lookup and batch lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from geo_service import audit
from geo_service.accounts.access import BATCH, PEOPLE, allow
from geo_service.accounts.deps import Connection
from geo_service.crs import parse_crs
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.params import AppSettings, AtQuery, CrsQuery
from geo_service.schemas.lookup import BATCH_CSV_DOC, BatchFeatureCollection, LookupAnswer
from geo_service.services.batch import grid_index, located_chunks, parse_batch
from geo_service.services.lookup import lookup_point

router = APIRouter(prefix="/api/v1", tags=["lookup"])


@router.get(
    "/lookup",
    dependencies=[allow(PEOPLE)],
    summary="Who covers this point",
    response_model=LookupAnswer,
    responses={404: {"description": "Outside the jurisdiction (names the nearest area)"}},
)
async def lookup(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    lon: Annotated[float, Query(description="Longitude (degrees)")],
    lat: Annotated[float, Query(description="Latitude (degrees)")],
    at: AtQuery = None,
    crs: CrsQuery = None,
) -> Response:
    """Village, grid, beat and plan; the people covering the point with contacts; cameras that
    see it; the nearest working rescue markers within 500 m; water bodies within 200 m."""
    input_crs, moment = parse_crs(crs), parse_moment(at)
    body, grid = await lookup_point(
        conn,
        lon=lon,
        lat=lat,
        crs=input_crs,
        at=moment,
        marker_radius_m=settings.rescue_marker_radius_m,
        water_radius_m=settings.water_body_radius_m,
    )
    # by the thousand: appended in batches, not in the lookup's transaction
    audit.record_batched(request, "lookup", grid, lon=lon, lat=lat, crs=str(input_crs))
    return Response(body, media_type="application/json")


@router.post(
    "/lookup/batch",
    dependencies=[allow(BATCH)],
    summary="Village, grid and beat codes of many points",
    response_class=GeoJSONResponse,
    responses={
        200: {
            "model": BatchFeatureCollection,
            "description": "Every point in input order with its codes: GeoJSON for GeoJSON "
            "input, CSV for CSV input",
            "content": {"text/csv": {"schema": {"type": "string", "description": BATCH_CSV_DOC}}},
        },
        413: {"description": "Over the size or point limit: split the file"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
            },
            "required": True,
        }
    },
)
async def lookup_batch(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    at: AtQuery = None,
    crs: CrsQuery = None,
) -> StreamingResponse:
    """Send a CSV with lon and lat columns (and optionally id), or a GeoJSON FeatureCollection
    of points; each point streams back, in order, with its village, grid and beat codes (CSV for
    CSV, GeoJSON for GeoJSON). Points outside the jurisdiction get empty codes."""
    moment, input_crs = parse_moment(at), parse_crs(crs)
    body = await request.body()  # at most BATCH_MAX_BYTES (geo_service/body_limit.py)
    # parsing and assigning a million points is CPU work: keep it off the event loop
    batch = await run_in_threadpool(
        parse_batch,
        body,
        request.headers.get("content-type", ""),
        crs=input_crs,
        max_points=settings.batch_max_points,
    )
    index = await grid_index(conn, at=moment)
    media = "text/csv" if batch.kind == "csv" else "application/geo+json"
    # a plain iterator: Starlette runs it in a worker thread while streaming
    return StreamingResponse(located_chunks(index, batch), media_type=media)
