"""The access table's rows of the field (issue 14): inspections recorded by the people of an
area, planners and leaders; their history and photos read by those and the command room; waters
marked for dusk patrol by planners, leaders and community officers."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
from PIL import Image
from psycopg import sql

from geo_service.accounts.roles import Role
from tests.access_calls import Ask, Call, get

# route                                                ldr cmd pln co  gw  vol dep aud adm
TABLE = """
POST   /api/v1/inspections                             y   -   y   y   y   y   -   -   -
GET    /api/v1/{kind}/{code}/inspections               y   y   y   y   y   y   -   -   -
GET    /api/v1/inspections/{inspection_id}/photos/{n}  y   y   y   y   y   y   -   -   -
POST   /api/v1/sweeps                                  y   -   y   y   -   -   -   -   -
GET    /api/v1/sweeps                                  y   y   y   y   y   -   -   -   -
GET    /api/v1/sweeps/{sweep_id}                       y   y   y   y   y   -   -   -   -
GET    /api/v1/water/patrols                           y   y   y   y   y   y   -   -   -
PUT    /api/v1/water/patrols/{code}                    y   -   y   y   -   -   -   -   -
DELETE /api/v1/water/patrols/{code}                    y   -   y   y   -   -   -   -   -
POST   /api/v1/reports                                 -   -   -   y   y   y   -   -   -
GET    /api/v1/reports                                 y   y   y   y   y   y   y   -   -
GET    /api/v1/reports/{report_id}                     y   y   y   y   y   y   y   -   -
POST   /api/v1/reports/{report_id}/steps               y   y   y   y   -   -   y   -   -
GET    /api/v1/reports/{report_id}/photos/{n}          y   y   y   y   y   y   y   -   -
GET    /api/v1/departments                             y   y   y   y   y   y   y   -   -
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


def _own_grids(a: Ask) -> list[str]:
    """Codes of grids the user may open a sweep over: a community officer's beats' grids, the
    example grid for the others."""
    if a.member.role != Role.community_officer:
        return [a.place.grid]
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(_OFFICER_GRIDS, (a.member.person,)).fetchone()
        ids = list(row[0]) if row else []
        rows = conn.execute("SELECT code FROM grid WHERE id = ANY (%s)", (ids,)).fetchall()
    return [str(r[0]) for r in rows][:2]


def _open_sweep(a: Ask) -> Call:
    now = datetime.now(UTC)
    body = {
        "name": "access test sweep",
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "grids": _own_grids(a),
        "target_kinds": ["rental_house", "water_marker"],
    }
    return Call("POST", "/api/v1/sweeps", json=body)


def _sweep(a: Ask) -> Call:
    """A sweep over the example grid, opened as the operator."""
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            """WITH s AS (INSERT INTO sweep (name, starts_at, ends_at, target_kinds, opened_by)
                          VALUES ('access', now(), now() + interval '1 day', '{camera}', 'test')
                          RETURNING id)
               INSERT INTO sweep_grid (sweep_id, grid_id)
               SELECT s.id, g.id FROM s, grid g WHERE g.code = %s RETURNING sweep_id""",
            (a.place.grid,),
        ).fetchone()
    assert row
    return Call("GET", f"/api/v1/sweeps/{row[0]}")


def _patrol_water(a: Ask) -> str:
    """A water body the user may mark for dusk patrol: one meeting a community officer's beats'
    grids, else the first one (planners and leaders mark any; the others are refused by role)."""
    with psycopg.connect(a.database_url) as conn:
        if a.member.role == Role.community_officer:
            row = conn.execute(_OFFICER_GRIDS, (a.member.person,)).fetchone()
            found = conn.execute(
                """SELECT w.code FROM water_body w, grid g
                   WHERE g.id = ANY (%s) AND ST_Intersects(g.geom, w.geom)
                   ORDER BY w.code LIMIT 1""",
                (list(row[0]) if row else [],),
            ).fetchone()
        else:
            found = conn.execute("SELECT code FROM water_body ORDER BY code LIMIT 1").fetchone()
    assert found, f"no water body for {a.member.name} to mark"
    return str(found[0])


def _place_of(a: Ask) -> tuple[float, float]:
    """A point the user reports from: in a community officer's beats, else the example place."""
    if a.member.role != Role.community_officer:
        return a.place.lon, a.place.lat
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(_OFFICER_GRIDS, (a.member.person,)).fetchone()
        ids = list(row[0]) if row else []
        point = conn.execute(
            """SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid
               WHERE id = ANY (%s) ORDER BY code LIMIT 1) x""",
            (ids,),
        ).fetchone()
    assert point
    return float(point[0]), float(point[1])


def _report(a: Ask) -> Call:
    lon, lat = _place_of(a)
    body = {
        "client_id": str(uuid.uuid4()),
        "category": "road_hazard",
        "note": "a hole in the lane",
        "reported_at": datetime.now(UTC).isoformat(),
        "lon": lon,
        "lat": lat,
    }
    return Call("POST", "/api/v1/reports", data={"report": orjson.dumps(body).decode()})


def stored_report(a: Ask, *, photo: bool = False) -> int:
    """A report made by the asking user, stored as the operator; its id. Its category, help, is
    routed to the response team: the cast's department user's department (tests/cast.py)."""
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            """INSERT INTO report (client_id, category, department_id, note, geom, reporter,
                                   reported_at, photos)
               SELECT %s, c.code, c.department_id, 'test', ST_SetSRID(ST_MakePoint(%s, %s), 4326),
                      %s, now(), %s
               FROM report_category c WHERE c.code = 'help' RETURNING id""",
            (uuid.uuid4(), a.place.lon, a.place.lat, a.member.name, int(photo)),
        ).fetchone()
        assert row
        if photo:
            out = io.BytesIO()
            Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
            data = out.getvalue()
            conn.execute(
                """INSERT INTO report_photo (report_id, n, media_type, width, height, sha256,
                                             bytes) VALUES (%s, 1, 'image/png', 8, 8, %s, %s)""",
                (row[0], hashlib.sha256(data).digest(), data),
            )
    return int(row[0])


CALLS = {
    "POST /api/v1/inspections": _inspect,
    "GET /api/v1/{kind}/{code}/inspections": _history,
    "GET /api/v1/inspections/{inspection_id}/photos/{n}": _photo,
    "POST /api/v1/sweeps": _open_sweep,
    "GET /api/v1/sweeps": get("/api/v1/sweeps"),
    "GET /api/v1/sweeps/{sweep_id}": _sweep,
    "GET /api/v1/water/patrols": get("/api/v1/water/patrols"),
    "PUT /api/v1/water/patrols/{code}": lambda a: Call(
        "PUT", f"/api/v1/water/patrols/{_patrol_water(a)}"
    ),
    "DELETE /api/v1/water/patrols/{code}": lambda a: Call(
        "DELETE", f"/api/v1/water/patrols/{_patrol_water(a)}"
    ),
    "POST /api/v1/reports": _report,
    "GET /api/v1/reports": get("/api/v1/reports"),
    "GET /api/v1/reports/{report_id}": lambda a: Call("GET", f"/api/v1/reports/{stored_report(a)}"),
    "POST /api/v1/reports/{report_id}/steps": lambda a: Call(
        "POST", f"/api/v1/reports/{stored_report(a)}/steps", json={"kind": "accept"}
    ),
    "GET /api/v1/reports/{report_id}/photos/{n}": lambda a: Call(
        "GET", f"/api/v1/reports/{stored_report(a, photo=True)}/photos/1"
    ),
    "GET /api/v1/departments": get("/api/v1/departments"),
}
