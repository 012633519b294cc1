"""Work in the field: inspections recorded with their photos, a thing's history, its photos."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from geo_service.db import one
from geo_service.errors import NotFound
from geo_service.schemas.field import InspectionIn
from geo_service.services.photos import Photo

INSPECT = (
    "SELECT created, answer::text FROM field_inspect(%(body)s::jsonb, %(types)s, %(widths)s, "
    "%(heights)s, %(hashes)s, %(photos)s)"
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
