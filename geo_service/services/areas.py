"""Areas and people: details of one area, what a person covers; each one SQL call."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import psycopg

from geo_service.errors import NotFound

AreaKind = Literal["station", "village", "grid", "beat"]


async def area_details(
    conn: psycopg.AsyncConnection,
    *,
    kind: AreaKind,
    code: str,
    at: datetime,
    plan: str | None,
) -> bytes:
    """One area as a GeoJSON Feature with people, counts and neighbours (JSON bytes)."""
    cur = await conn.execute(
        "SELECT area_details(%(kind)s, %(code)s, %(at)s, %(plan)s)::text",
        {"kind": kind, "code": code, "at": at, "plan": plan},
    )
    row = await cur.fetchone()
    if not row or row[0] is None:
        scope = (
            f" in plan {plan}" if plan else (" in the plan in force then" if kind == "beat" else "")
        )
        raise NotFound(f"There is no {kind} with code '{code}'{scope}.", parameter="code")
    return row[0].encode()


async def person_coverage(conn: psycopg.AsyncConnection, *, code: str, at: datetime) -> bytes:
    """The areas a person covers at a moment, with counts, and their history (JSON bytes)."""
    cur = await conn.execute(
        "SELECT person_coverage(%(code)s, %(at)s)::text", {"code": code, "at": at}
    )
    row = await cur.fetchone()
    if not row or row[0] is None:
        raise NotFound(f"There is no person with code '{code}'.", parameter="id")
    return row[0].encode()
