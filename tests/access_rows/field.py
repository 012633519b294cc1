"""The access table's rows of the field (issue 14): inspections recorded by the people of an
area, planners and leaders; their history and photos read by those and the command room."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime

import orjson
import psycopg
from PIL import Image
from psycopg import sql

from geo_service.accounts.roles import Role
from tests.access_calls import Ask, Call

# route                                                ldr cmd pln co  gw  vol aud adm
TABLE = """
POST   /api/v1/inspections                             y   -   y   y   y   y   -   -
GET    /api/v1/{kind}/{code}/inspections               y   y   y   y   y   y   -   -
GET    /api/v1/inspections/{inspection_id}/photos/{n}  y   y   y   y   y   y   -   -
"""

RESULT = {"water_marker": "ok", "rental_house": "pass", "camera": "working",
          "water_body": "patrolled"}  # fmt: skip
ITEMS = {"extinguisher": "ok", "escape_route": "ok", "wiring": "ok", "ebike_indoor_charging": "ok"}
# A thing of each kind meeting a set of grids, first found first.
_IN_GRIDS = """
    SELECT kind, code FROM (
        SELECT 1 AS o, 'water_marker' AS kind, t.code FROM water_marker t, grid g
        WHERE g.id = ANY (%(grids)s) AND ST_Intersects(g.geom, t.geom)
        UNION ALL SELECT 2, 'rental_house', t.code FROM rental_house t, grid g
        WHERE g.id = ANY (%(grids)s) AND ST_Intersects(g.geom, t.geom)
        UNION ALL SELECT 3, 'camera', t.code FROM camera t, grid g
        WHERE g.id = ANY (%(grids)s) AND ST_Intersects(g.geom, t.geom)
        UNION ALL SELECT 4, 'water_body', t.code FROM water_body t, grid g
        WHERE g.id = ANY (%(grids)s) AND ST_Intersects(g.geom, t.geom)) x
    ORDER BY o, code LIMIT 1
"""
_OFFICER_GRIDS = """
    SELECT coalesce(array_agg(DISTINCT bg.grid_id), '{}') FROM assignment a
    JOIN person p ON p.id = a.person_id
    JOIN beat_grid bg ON bg.beat_id = a.beat_id
         AND bg.plan_id = plan_in_force(now())
    WHERE p.code = %s AND a.area_kind = 'beat' AND a.validity @> now()
"""


def thing_for(a: Ask) -> tuple[str, str]:
    """A thing the asking user may record work on (read as the operator): the volunteer's
    water marker, a thing in the community officer's beats, else one in the example grid."""
    if a.member.role == Role.volunteer:
        return "water_marker", a.place.feature
    with psycopg.connect(a.database_url) as conn:
        if a.member.role == Role.community_officer:
            row = conn.execute(_OFFICER_GRIDS, (a.member.person,)).fetchone()
            grids = list(row[0]) if row else []
        else:
            row = conn.execute("SELECT id FROM grid WHERE code = %s", (a.place.grid,)).fetchone()
            grids = [row[0]] if row else []
        found = conn.execute(_IN_GRIDS, {"grids": grids}).fetchone()
    assert found, f"nothing to inspect in the grids of {a.member.name}"
    return str(found[0]), str(found[1])


def _inspect(a: Ask) -> Call:
    kind, code = thing_for(a)
    body = {
        "client_id": str(uuid.uuid4()),
        "kind": kind,
        "code": code,
        "inspected_at": datetime.now(UTC).isoformat(),
        "result": RESULT[kind],
        **({"items": ITEMS} if kind == "rental_house" else {}),
    }
    return Call("POST", "/api/v1/inspections", data={"inspection": orjson.dumps(body).decode()})


def _history(a: Ask) -> Call:
    kind, code = thing_for(a)
    return Call("GET", f"/api/v1/{kind}/{code}/inspections")


def _photo(a: Ask) -> Call:
    """An inspection with a photo of a thing the user sees, stored as the operator."""
    kind, code = thing_for(a)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    data = out.getvalue()
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            sql.SQL(
                """INSERT INTO inspection (client_id, kind, thing_id, code, inspected_at,
                                           inspector, result, items, photos)
                   SELECT %s, %s, t.id, t.code, now(), 'access-test', %s, %s, 1
                   FROM {} t WHERE t.code = %s RETURNING id"""
            ).format(sql.Identifier(kind)),
            (
                uuid.uuid4(),
                kind,
                RESULT[kind],
                orjson.dumps(ITEMS).decode() if kind == "rental_house" else None,
                code,
            ),
        ).fetchone()
        assert row
        conn.execute(
            """INSERT INTO inspection_photo (inspection_id, n, media_type, width, height, sha256,
                                             bytes) VALUES (%s, 1, 'image/png', 8, 8, %s, %s)""",
            (row[0], hashlib.sha256(data).digest(), data),
        )
    return Call("GET", f"/api/v1/inspections/{row[0]}/photos/1")


CALLS = {
    "POST /api/v1/inspections": _inspect,
    "GET /api/v1/{kind}/{code}/inspections": _history,
    "GET /api/v1/inspections/{inspection_id}/photos/{n}": _photo,
}
