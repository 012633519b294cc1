"""Water safety: markers by status and inspection age, shore out of reach of a rescue pole."""

from __future__ import annotations

from datetime import datetime

import psycopg

from geo_service.services.patrol import one_json


async def shore_gaps(conn: psycopg.AsyncConnection, *, distance_m: float) -> dict:
    """Stretches of shore farther than ``distance_m`` from every working rescue pole (GeoJSON),
    with per-water-body lengths in metres (``water_bodies``) and ``totals``."""
    return await one_json(
        conn, "SELECT shore_gaps(%(distance)s)::text", {"distance": float(distance_m)}
    )


async def marker_status(conn: psycopg.AsyncConnection, *, at: datetime, due_days: int) -> dict:
    """Every water marker with status, days since inspection and whether one is due (GeoJSON)."""
    return await one_json(
        conn,
        "SELECT water_marker_status(%(at)s, %(due)s)::text",
        {"at": at, "due": due_days},
    )
