"""Health: 200 with the PostGIS version, or 503 saying what is down."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from geo_service.accounts.access import SIGNED_IN, allow, public
from geo_service.accounts.deps import Connection
from geo_service.schemas.health import Health, HealthDown

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    dependencies=[public],
    summary="Is the service and its PostGIS up",
    response_model=Health,
    responses={503: {"model": HealthDown, "description": "The database is down: what failed"}},
)
async def healthz(request: Request) -> JSONResponse:
    """PostGIS version and loaded station, or 503 naming what is down."""
    pool = request.app.state.pool
    try:
        async with pool.connection(timeout=5) as conn:
            cur = await conn.execute("SELECT postgis_full_version(), stations_loaded()")
            version, stations = await cur.fetchone()
    except Exception as exc:  # any failure here means "down", and says which
        return JSONResponse(
            {"status": "down", "database": f"{type(exc).__name__}: {str(exc).strip()[:300]}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "postgis": version, "stations_loaded": stations})


@router.get(
    "/ping",
    summary="Trivial endpoint (benchmark baseline)",
    include_in_schema=False,
    dependencies=[public],
)
async def ping() -> JSONResponse:
    """Answers without touching the database: the baseline the lookup benchmark compares to."""
    return JSONResponse({"ok": True})


@router.get(
    "/ping/db",
    summary="One trivial SQL call (benchmark floor)",
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN)],
)
async def ping_db(conn: Connection) -> JSONResponse:
    """One `SELECT 1` through the pool: the least any endpoint that asks the database costs,
    the floor the lookup benchmark shows under the lookup."""
    cur = await conn.execute("SELECT 1")
    await cur.fetchone()
    return JSONResponse({"ok": True})
