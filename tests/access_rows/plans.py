"""Beat planning (issue 13): plans are read by the station's police roles (leader, command room,
planner, community officer), drafted and edited by planners and leaders, published by a
leader. Grid workers, volunteers, the auditor and the admin have no part in them.

The calls leave the session's shared database as the sample made it, but for the drafts the
create call makes: edits go to the sample's draft with no change (empty moves and locks,
renaming a beat to its own name), and publication is a dry run."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg

from tests.access_calls import Ask, Call, get

DRAFT = "2027-draft"  # the sample's draft

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/plans                             y   y   y   y   -   -   -   -   -
POST   /api/v1/plans                             y   -   y   -   -   -   -   -   -
GET    /api/v1/plans/{code}                      y   y   y   y   -   -   -   -   -
GET    /api/v1/plans/{code}/officers             y   y   y   y   -   -   -   -   -
PATCH  /api/v1/plans/{code}/grids                y   -   y   -   -   -   -   -   -
PATCH  /api/v1/plans/{code}/beats                y   -   y   -   -   -   -   -   -
PATCH  /api/v1/plans/{code}/locks                y   -   y   -   -   -   -   -   -
GET    /api/v1/plans/{a}/diff/{b}                y   y   y   y   -   -   -   -   -
POST   /api/v1/plans/{code}/publish              y   -   -   -   -   -   -   -   -
GET    /plans                                    y   y   y   y   -   -   -   -   -
GET    /plans/{code}/edit                        y   y   y   y   -   -   -   -   -
"""


def _version(a: Ask) -> int:
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute("SELECT version FROM beat_plan WHERE code = %s", (DRAFT,)).fetchone()
    assert row, f"the sample has no plan {DRAFT}"
    return int(row[0])


def _beat_name(a: Ask) -> tuple[str, str]:
    with psycopg.connect(a.database_url) as conn:
        row = conn.execute(
            """SELECT b.code, b.name FROM beat b JOIN beat_plan p ON p.id = b.plan_id
               WHERE p.code = %s ORDER BY b.code LIMIT 1""",
            (DRAFT,),
        ).fetchone()
    assert row
    return str(row[0]), str(row[1])


def _rename_to_itself(a: Ask) -> Call:
    beat, name = _beat_name(a)
    changes = [{"op": "rename", "beat": beat, "name": name}]
    return Call(
        "PATCH", f"/api/v1/plans/{DRAFT}/beats", json={"version": _version(a), "changes": changes}
    )


def _create(a: Ask) -> Call:
    code = f"access-{a.member.role}-{uuid.uuid4().hex[:8]}"
    return Call("POST", "/api/v1/plans", json={"code": code, "name": "access check"})


CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/plans": get("/api/v1/plans"),
    "POST /api/v1/plans": _create,
    "GET /api/v1/plans/{code}": get(f"/api/v1/plans/{DRAFT}"),
    "GET /api/v1/plans/{code}/officers": get(f"/api/v1/plans/{DRAFT}/officers"),
    "PATCH /api/v1/plans/{code}/grids": lambda a: Call(
        "PATCH", f"/api/v1/plans/{DRAFT}/grids", json={"version": _version(a), "moves": []}
    ),
    "PATCH /api/v1/plans/{code}/beats": _rename_to_itself,
    "PATCH /api/v1/plans/{code}/locks": lambda a: Call(
        "PATCH", f"/api/v1/plans/{DRAFT}/locks", json={"version": _version(a)}
    ),
    "GET /api/v1/plans/{a}/diff/{b}": lambda a: Call("GET", f"/api/v1/plans/2026/diff/{DRAFT}"),
    "GET /plans": get("/plans"),
    "GET /plans/{code}/edit": get(f"/plans/{DRAFT}/edit"),
    "POST /api/v1/plans/{code}/publish": lambda a: Call(
        "POST",
        f"/api/v1/plans/{DRAFT}/publish",
        json={"effective_from": "2100-01-01T00:00:00+08:00", "dry_run": True},
    ),
}
