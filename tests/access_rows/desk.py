"""The access table's rows of the command room's desk (issue 12): calls, timeline steps and
positions are the command room's and the leaders'; incidents and units are read by everyone
who reads incidents (a grid worker within their grids, by PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from tests.access_calls import Ask, Call, get

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
POST   /api/v1/incidents                         y   y   -   -   -   -   -   -   -
GET    /api/v1/incidents                         y   y   y   y   y   -   -   -   -
GET    /api/v1/incidents/{call_no}               y   y   y   y   y   -   -   -   -
POST   /api/v1/incidents/{call_no}/events        y   y   -   -   -   -   -   -   -
POST   /api/v1/positions                         y   y   -   -   -   -   -   -   -
GET    /api/v1/units                             y   y   y   y   y   -   -   -   -
"""

# The examples change nothing in the shared test database (the map and export tests compare it
# with the sample): a call taken again with the same content, a step and a fix sent again.


def _sample_incident(a: Ask) -> tuple[str, str, str, float, float]:
    """A sample incident in the asker's grid, as the operator reads it: call number, time,
    category, lon, lat."""
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            "SELECT i.call_no, i.received_at, i.category, ST_X(i.geom), ST_Y(i.geom) "
            "FROM incident i JOIN grid g ON g.id = i.grid_id "
            "WHERE g.code = %s AND i.caller_phone IS NULL AND i.address IS NULL "
            "AND i.description IS NULL ORDER BY i.call_no LIMIT 1",
            (a.place.grid,),
        ).fetchone()
    assert row, f"no sample incident in grid {a.place.grid}"
    return str(row[0]), row[1].isoformat(), str(row[2]), float(row[3]), float(row[4])


def _take(a: Ask) -> Call:
    call_no, received_at, category, lon, lat = _sample_incident(a)
    body = {
        "call_no": call_no,
        "received_at": received_at,
        "category": category,
        "lon": lon,
        "lat": lat,
    }
    return Call("POST", "/api/v1/incidents", json=body)


def _step(a: Ask) -> Call:
    """A sample incident's dispatch sent again (a retry: its timeline stays as it was)."""
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            "SELECT i.call_no, s.at, s.call_sign FROM incident_step s "
            "JOIN incident i ON i.id = s.incident_id "
            "WHERE s.kind = 'dispatch' AND s.note IS NULL ORDER BY s.id LIMIT 1"
        ).fetchone()
    if row is None:  # a sample without timelines: a note (nothing compares timelines then)
        path = f"/api/v1/incidents/{_sample_incident(a)[0]}/events"
        return Call("POST", path, json={"kind": "note", "note": "access table"})
    step = {"kind": "dispatch", "at": row[1].isoformat(), "call_sign": row[2]}
    return Call("POST", f"/api/v1/incidents/{row[0]}/events", json=step)


def _fix(a: Ask) -> Call:
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            "SELECT p.code, f.recorded_at, ST_X(f.geom), ST_Y(f.geom) FROM position_fix f "
            "JOIN person p ON p.id = f.person_id ORDER BY f.id LIMIT 1"
        ).fetchone()
    assert row, "no sample position fix"
    fix = {"person": row[0], "at": row[1].isoformat(), "lon": row[2], "lat": row[3]}
    return Call("POST", "/api/v1/positions", json={"fixes": [fix]})


CALLS: dict[str, Callable[[Ask], Call]] = {
    "POST /api/v1/incidents": _take,
    "GET /api/v1/incidents": get("/api/v1/incidents"),
    "GET /api/v1/incidents/{call_no}": lambda a: Call(
        "GET", f"/api/v1/incidents/{_sample_incident(a)[0]}"
    ),
    "POST /api/v1/incidents/{call_no}/events": _step,
    "POST /api/v1/positions": _fix,
    "GET /api/v1/units": get("/api/v1/units"),
}
