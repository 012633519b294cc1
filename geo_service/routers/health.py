"""Health: 200 with the PostGIS version, or 503 saying what is down."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from geo_service.db import pooled
from geo_service.schemas.health import Health, HealthDown

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Is the service and its PostGIS up",
    response_model=Health,
    responses={503: {"model": HealthDown, "description": "The database is down: what failed"}},
)
async def healthz(request: Request) -> JSONResponse:
    """PostGIS version and loaded station, or 503 naming what is down."""
    pool = request.app.state.pool
    try:
        async with pool.connection(timeout=5) as conn:
            cur = await conn.execute(
                "SELECT postgis_full_version(), (SELECT count(*) FROM station)"
            )
            version, stations = await cur.fetchone()
    except Exception as exc:  # any failure here means "down", and says which
        return JSONResponse(
            {"status": "down", "database": f"{type(exc).__name__}: {str(exc).strip()[:300]}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "postgis": version, "stations_loaded": stations})


@router.get("/ping", summary="Trivial endpoint (benchmark baseline)", include_in_schema=False)
async def ping() -> JSONResponse:
    """Answers without touching the database: the baseline the lookup benchmark compares to."""
    return JSONResponse({"ok": True})


@router.get("/ping/db", summary="One trivial SQL call (benchmark floor)", include_in_schema=False)
async def ping_db(request: Request) -> JSONResponse:
    """One `SELECT 1` through the pool: the least any endpoint that asks the database costs,
    the floor the lookup benchmark shows under the lookup."""
    async with pooled(request.app.state.pool) as conn:
        cur = await conn.execute("SELECT 1")
        await cur.fetchone()
    return JSONResponse({"ok": True})
