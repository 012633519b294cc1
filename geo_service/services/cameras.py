"""Cameras: view sectors, and the road stretches of a beat that no working camera sees."""

from __future__ import annotations

from datetime import datetime

import psycopg

from geo_service.services.patrol import one_json


async def camera_sectors(conn: psycopg.AsyncConnection) -> dict:
    """Every camera with its view sector, as a GeoJSON FeatureCollection."""
    return await one_json(conn, "SELECT camera_sectors()::text", {})


async def blind_roads(
    conn: psycopg.AsyncConnection, *, beat: str | None, at: datetime, plan: str | None
) -> dict:
    """Road stretches no working camera sees in a beat (every beat when None), with lengths in
    metres, and per-beat totals (``beats``); beats of the plan named, or in force at ``at``."""
    return await one_json(
        conn,
        "SELECT blind_roads(%(beat)s, %(at)s, %(plan)s)::text",
        {"beat": beat, "at": at, "plan": plan},
    )
