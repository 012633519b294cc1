"""Work in the field: inspections recorded with their photos, a thing's history, its photos."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
import psycopg

from geo_service.db import one
from geo_service.errors import NotFound
from geo_service.schemas.field import InspectionIn, ReportIn, StepIn, SweepIn
from geo_service.services.photos import Photo

INSPECT = (
    "SELECT created, answer::text FROM field_inspect(%(body)s::jsonb, %(types)s, %(widths)s, "
    "%(heights)s, %(hashes)b, %(photos)b)"
)


async def record_inspection(
    conn: psycopg.AsyncConnection, *, inspection: InspectionIn, photos: list[Photo]
) -> tuple[bool, dict[str, Any]]:
    """Store an inspection with its photos as the signed-in user, in one call: (whether this
    call stored it, the stored inspection). A client id sent before answers what was stored."""
    body = inspection.model_dump(mode="json", exclude_none=True)
    cur = await conn.execute(
        INSPECT,
        {
            "body": orjson.dumps(body).decode(),
            "types": [p.media_type for p in photos],
            "widths": [p.width for p in photos],
            "heights": [p.height for p in photos],
            "hashes": [p.sha256 for p in photos],
            "photos": [p.data for p in photos],
        },
    )
    created, answer = one(await cur.fetchone(), "field_inspect")
    return bool(created), orjson.loads(answer)


async def inspection_history(
    conn: psycopg.AsyncConnection, *, kind: str, code: str, limit: int
) -> dict[str, Any]:
    """A thing's current state and its inspections, newest first, as the user sees them."""
    cur = await conn.execute(
        "SELECT field_history(%(kind)s, %(code)s, %(limit)s)::text",
        {"kind": kind, "code": code, "limit": limit},
    )
    answer: dict[str, Any] = orjson.loads(one(await cur.fetchone(), "field_history")[0])
    return answer


async def inspection_photo(
    conn: psycopg.AsyncConnection, *, inspection_id: int, n: int
) -> tuple[str, bytes]:
    """Media type and bytes of an inspection's photo n; NotFound when the user sees none."""
    cur = await conn.execute(
        "SELECT media_type, bytes FROM field_photo(%(id)s, %(n)s)",
        {"id": inspection_id, "n": n},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(
            f"Inspection {inspection_id} has no photo {n} that you can see", parameter="n"
        )
    return str(row[0]), bytes(row[1])


async def _json(
    conn: psycopg.AsyncConnection, query: str, params: dict[str, Any], what: str
) -> Any:
    """The one JSON value a field function answers."""
    cur = await conn.execute(query, params)
    return orjson.loads(one(await cur.fetchone(), what)[0])


async def open_sweep(
    conn: psycopg.AsyncConnection, *, sweep: SweepIn, at: datetime
) -> dict[str, Any]:
    """Open a sweep as the signed-in user; its summary at ``at``."""
    body = orjson.dumps(sweep.model_dump(mode="json", exclude_none=True)).decode()
    cur = await conn.execute("SELECT field_open_sweep(%s::jsonb)", (body,))
    sweep_id = one(await cur.fetchone(), "field_open_sweep")[0]
    answer: dict[str, Any] = await _json(
        conn,
        "SELECT field_sweep_summary(%(id)s, %(at)s)::text",
        {"id": sweep_id, "at": at},
        "field_sweep_summary",
    )
    return answer


async def sweeps(conn: psycopg.AsyncConnection, *, at: datetime) -> list[dict[str, Any]]:
    """Every sweep the user sees, newest first, with its counts at ``at``."""
    answer: list[dict[str, Any]] = await _json(
        conn, "SELECT field_sweeps(%(at)s)::text", {"at": at}, "field_sweeps"
    )
    return answer


async def sweep_detail(
    conn: psycopg.AsyncConnection, *, sweep_id: int, at: datetime
) -> dict[str, Any]:
    """A sweep's progress per grid and person, overdue targets and map at ``at``."""
    answer: dict[str, Any] = await _json(
        conn,
        "SELECT field_sweep(%(id)s, %(at)s)::text",
        {"id": sweep_id, "at": at},
        "field_sweep",
    )
    return answer


async def patrol_days(
    conn: psycopg.AsyncConnection, *, first_day: date, last_day: date, at: datetime
) -> dict[str, Any]:
    """Per day, the waters marked for dusk patrol walked and not walked (days up to ``at``)."""
    answer: dict[str, Any] = await _json(
        conn,
        "SELECT field_patrol_days(%(first)s, %(last)s, %(at)s)::text",
        {"first": first_day, "last": last_day, "at": at},
        "field_patrol_days",
    )
    return answer


REPORT = (
    "SELECT created, answer::text FROM field_report(%(body)s::jsonb, %(types)s, %(widths)s, "
    "%(heights)s, %(hashes)b, %(photos)b)"
)


async def make_report(
    conn: psycopg.AsyncConnection, *, report: ReportIn, photos: list[Photo]
) -> tuple[bool, dict[str, Any]]:
    """Store a report with its photos, routed to its category's department: (whether this call
    stored it, the stored report)."""
    cur = await conn.execute(
        REPORT,
        {
            "body": orjson.dumps(report.model_dump(mode="json")).decode(),
            "types": [p.media_type for p in photos],
            "widths": [p.width for p in photos],
            "heights": [p.height for p in photos],
            "hashes": [p.sha256 for p in photos],
            "photos": [p.data for p in photos],
        },
    )
    created, answer = one(await cur.fetchone(), "field_report")
    return bool(created), orjson.loads(answer)


async def report_step(
    conn: psycopg.AsyncConnection, *, report_id: int, step: StepIn, at: datetime
) -> tuple[bool, dict[str, Any]]:
    """Record a department's answer to a report: (whether this call stored it, the report as it
    is then); a client_id sent before with this report's step stores nothing."""
    cur = await conn.execute(
        "SELECT created, answer::text "
        "FROM field_report_step(%(id)s, %(kind)s, %(note)s, %(at)s, %(client_id)s)",
        {
            "id": report_id,
            "kind": step.kind,
            "note": step.note,
            "at": step.at or at,
            "client_id": step.client_id,
        },
    )
    created, answer = one(await cur.fetchone(), "field_report_step")
    return bool(created), orjson.loads(answer)


async def reports(
    conn: psycopg.AsyncConnection,
    *,
    status: str | None,
    department: str | None,
    mine: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """Reports the user sees, newest first."""
    answer: list[dict[str, Any]] = await _json(
        conn,
        "SELECT field_reports(%(status)s, %(department)s, %(mine)s, %(limit)s)::text",
        {"status": status, "department": department, "mine": mine, "limit": limit},
        "field_reports",
    )
    return answer


async def report(conn: psycopg.AsyncConnection, *, report_id: int) -> dict[str, Any]:
    """One report the user sees (NotFound otherwise)."""
    answer: dict[str, Any] = await _json(
        conn, "SELECT field_report_of(%(id)s)::text", {"id": report_id}, "field_report_of"
    )
    return answer


async def report_photo(
    conn: psycopg.AsyncConnection, *, report_id: int, n: int
) -> tuple[str, bytes]:
    """Media type and bytes of a report's photo n; NotFound when the user sees none."""
    cur = await conn.execute(
        "SELECT media_type, bytes FROM field_report_photo(%(id)s, %(n)s)",
        {"id": report_id, "n": n},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"Report {report_id} has no photo {n} that you can see", parameter="n")
    return str(row[0]), bytes(row[1])


async def departments(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """The departments and the categories of report routed to each."""
    answer: list[dict[str, Any]] = await _json(
        conn, "SELECT field_departments()::text", {}, "field_departments"
    )
    return answer


async def mark_patrol(conn: psycopg.AsyncConnection, *, code: str) -> tuple[bool, dict[str, Any]]:
    """Mark a water for dusk patrol as the signed-in user: (whether this call marked it, the
    mark). A water marked already keeps its mark."""
    cur = await conn.execute(
        "SELECT created, answer::text FROM field_mark_patrol(%(code)s)", {"code": code}
    )
    created, answer = one(await cur.fetchone(), "field_mark_patrol")
    return bool(created), orjson.loads(answer)


async def unmark_patrol(conn: psycopg.AsyncConnection, *, code: str) -> bool:
    """Take a water off the dusk patrol list as the signed-in user; whether it was on it."""
    cur = await conn.execute("SELECT field_unmark_patrol(%(code)s)", {"code": code})
    return bool(one(await cur.fetchone(), "field_unmark_patrol")[0])


async def patrol_map(conn: psycopg.AsyncConnection, *, at: datetime) -> dict[str, Any]:
    """The waters marked for dusk patrol and those checked in on the evening of ``at``
    (GeoJSON, ``patrolled`` per water)."""
    answer: dict[str, Any] = await _json(
        conn, "SELECT field_patrol_map(%(at)s)::text", {"at": at}, "field_patrol_map"
    )
    return answer
