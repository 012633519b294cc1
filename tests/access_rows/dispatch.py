"""The access table's rows of the recommended units (issue 12, section 2): the command room's and
the leaders' (DISPATCH)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from tests.access_calls import Ask, Call

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/incidents/{call_no}/recommend     y   y   -   -   -   -   -   -   -
"""

CALL_NO = "110ACCESS000001"


def _recommend(a: Ask) -> Call:
    """An incident at the asker's place (made once), then its recommended units."""
    with psycopg.connect(a.database_url) as conn:
        conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7)
               SELECT %(call_no)s, now(), 'theft', 'received', p, a.village_id, a.grid_id,
                      a.beat_id, i.h3, i.h3_r9, i.h3_r8, i.h3_r7
               FROM ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) p
               LEFT JOIN LATERAL areas_at(p, now()) a ON true,
               LATERAL (SELECT * FROM incident ORDER BY geom <-> p LIMIT 1) i
               ON CONFLICT (call_no) DO NOTHING""",
            {"call_no": CALL_NO, "lon": a.place.lon, "lat": a.place.lat},
        )
    return Call("GET", f"/api/v1/incidents/{CALL_NO}/recommend")


CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/incidents/{call_no}/recommend": _recommend,
}
