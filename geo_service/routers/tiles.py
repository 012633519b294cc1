"""Mapbox vector tiles: GET /tiles/{layer}/{z}/{x}/{y}.mvt; incidents filter by time, category."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from geo_service.accounts.access import BUSINESS, allow
from geo_service.accounts.deps import Connection
from geo_service.errors import InvalidParameter, NotFound
from geo_service.moments import parse_moment
from geo_service.routers.caching import CACHE_CONTROL, cached
from geo_service.routers.params import PlanQuery
from geo_service.services.incidents import CATEGORIES, parse_categories
from geo_service.services.ogc import parse_datetime
from geo_service.services.tiles import MAX_ZOOM, TILE_LAYERS, tile_layer, vector_tile

router = APIRouter(prefix="/tiles", tags=["tiles"], dependencies=[allow(BUSINESS)])

MVT = "application/vnd.mapbox-vector-tile"
TIME_DOC = "ISO 8601 (station time without an offset), inclusive; incidents and position fixes."
MAX_INDEX = (1 << MAX_ZOOM) - 1
CACHING = {
    "Cache-Control": {"description": f"`{CACHE_CONTROL}`", "schema": {"type": "string"}},
    "ETag": {"description": "Hash of the tile's bytes", "schema": {"type": "string"}},
}


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    summary="A Mapbox vector tile of a layer",
    response_class=Response,
    responses={
        200: {
            "content": {MVT: {}},
            "description": "The tile (one MVT layer named after it)",
            "headers": CACHING,
        },
        204: {"description": "Nothing in this tile", "headers": CACHING},
        304: {"description": "Not modified (If-None-Match names the tile's ETag)"},
    },
)
async def tile(
    request: Request,
    conn: Connection,
    layer: Annotated[str, Path(description=f"One of: {', '.join(TILE_LAYERS)}")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description=f"Zoom, 0-{MAX_ZOOM}")],
    x: Annotated[int, Path(ge=0, le=MAX_INDEX, description="Column, 0 to 2^z - 1")],
    y: Annotated[int, Path(ge=0, le=MAX_INDEX, description="Row from the top, 0 to 2^z - 1")],
    from_: Annotated[str | None, Query(alias="from", description=TIME_DOC)] = None,
    to: Annotated[str | None, Query(description=TIME_DOC)] = None,
    datetime_: Annotated[
        str | None, Query(alias="datetime", description="OGC instant or start/end (instead)")
    ] = None,
    category: Annotated[
        str | None,
        Query(description=f"Incident categories, comma-separated: {', '.join(CATEGORIES)}"),
    ] = None,
    plan: PlanQuery = None,
) -> Response:
    """The features of a layer in tile z/x/y (Web Mercator, 4096 units), clipped with a buffer,
    with the layer's attributes; 204 when the tile is empty. Answers carry Cache-Control and an
    ETag; If-None-Match with that tag gets 304."""
    spec = tile_layer(layer)
    if datetime_ is not None and (from_ is not None or to is not None):
        raise InvalidParameter("Give datetime or from/to, not both", parameter="datetime")
    if datetime_ is not None:
        time_from, time_to = parse_datetime(datetime_)
    else:
        time_from = parse_moment(from_, parameter="from") if from_ else None
        time_to = parse_moment(to, parameter="to") if to else None
    if category is not None and spec.name != "incident":
        raise InvalidParameter("category applies to incident tiles only", parameter="category")
    plan_id = None
    if plan is not None:
        cur = await conn.execute("SELECT id FROM beat_plan WHERE code = %s", (plan,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"There is no beat plan '{plan}'.", parameter="plan")
        plan_id = int(row[0])
    body = await vector_tile(
        conn,
        layer=spec,
        z=z,
        x=x,
        y=y,
        time_from=time_from,
        time_to=time_to,
        categories=parse_categories(category, parameter="category"),
        plan_id=plan_id,
    )
    return cached(request, body, media_type=MVT, status_code=200 if body else 204)
