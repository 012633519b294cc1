"""My area: the signed-in user's areas, people and lists, and their map; one SQL call each."""

from __future__ import annotations

from datetime import datetime

import psycopg

from geo_service.settings import Settings


def _params(settings: Settings, at: datetime) -> dict[str, object]:
    return {
        "at": at,
        "marker": settings.inspection_due_days,
        "rental": settings.rental_check_days,
        "within": settings.me_due_within_days,
        "recent": settings.me_recent_days,
        "limit": settings.me_list_limit,
    }


async def my_area(conn: psycopg.AsyncConnection, *, settings: Settings, at: datetime) -> bytes:
    """The user's areas, the people covering them and their lists with counts (JSON bytes)."""
    cur = await conn.execute(
        "SELECT my_area(%(at)s, %(marker)s, %(rental)s, %(within)s, %(recent)s, %(limit)s)::text",
        _params(settings, at),
    )
    row = await cur.fetchone()
    return str(row[0] if row else "{}").encode()


async def my_area_map(conn: psycopg.AsyncConnection, *, settings: Settings, at: datetime) -> bytes:
    """GeoJSON of the basemap around the user's areas, the areas and every listed item."""
    cur = await conn.execute(
        "SELECT my_area_map(%(at)s, %(marker)s, %(rental)s, %(within)s, %(recent)s)::text",
        _params(settings, at),
    )
    row = await cur.fetchone()
    return str(row[0] if row else "{}").encode()
