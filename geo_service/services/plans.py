"""Beat plans in domain words: make a draft, read it, edit it, compare two, publish one.

Each is one call of a SQL function of sql/functions/75_planning.sql; an edit that cannot be
made comes back as {"refused": kind, ...} and becomes the domain error of that kind here.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from geo_service.db import one
from geo_service.errors import Conflict, DomainError, InvalidParameter

# What each refusal of the SQL functions is: a clash with what is stored (409) or a request
# naming what does not exist (422).
REFUSALS: dict[str, type[DomainError]] = {
    "stale": Conflict,
    "published": Conflict,
    "locked": Conflict,
    "not_empty": Conflict,
    "taken": Conflict,
    "invalid": InvalidParameter,
    "problems": InvalidParameter,
}


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """The SQL function's answer, or its refusal raised as a domain error (its other fields,
    such as the changes made meanwhile or every problem, go into the problem+json body)."""
    kind = result.pop("refused", None)
    if kind is None:
        return result
    detail = str(result.pop("detail"))
    parameter = result.pop("parameter", None)
    error = REFUSALS[kind]
    raise error(detail, parameter=parameter, refused=kind, **result)


async def _call(conn: psycopg.AsyncConnection, query: str, params: tuple[Any, ...]) -> Any:
    cur = await conn.execute(query, params)
    return one(await cur.fetchone(), query.split("(")[0])[0]


async def create_plan(
    conn: psycopg.AsyncConnection, *, code: str, name: str, source: str | None
) -> dict[str, Any]:
    """A new draft copied from ``source`` (default: the plan in force now)."""
    return answer(await _call(conn, "SELECT plan_create(%s, %s, %s)", (code, name, source)))


async def list_plans(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """Every plan, published ones first."""
    plans: list[dict[str, Any]] = await _call(conn, "SELECT plan_list()", ())
    return plans


async def plan_document(conn: psycopg.AsyncConnection, *, code: str) -> dict[str, Any]:
    """One plan with its beats and their grids."""
    document: dict[str, Any] = await _call(conn, "SELECT plan_document(%s)", (code,))
    return document


async def plan_officers(conn: psycopg.AsyncConnection, *, code: str) -> list[dict[str, Any]]:
    """The community officers a beat of the plan may be given, with the beats they hold."""
    officers: list[dict[str, Any]] = await _call(conn, "SELECT plan_officers(%s)", (code,))
    return officers


async def move_grids(
    conn: psycopg.AsyncConnection, *, code: str, version: int, moves: list[dict[str, Any]]
) -> dict[str, Any]:
    """Moves applied to a draft at ``version``, all or none."""
    return answer(
        await _call(conn, "SELECT plan_move_grids(%s, %s, %s)", (code, version, Jsonb(moves)))
    )


async def edit_beats(
    conn: psycopg.AsyncConnection, *, code: str, version: int, changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Beats added, removed, renamed or given their officer, in order, all or none."""
    return answer(
        await _call(conn, "SELECT plan_edit_beats(%s, %s, %s)", (code, version, Jsonb(changes)))
    )


async def set_locks(
    conn: psycopg.AsyncConnection,
    *,
    code: str,
    version: int,
    grids: dict[str, bool],
    beats: dict[str, bool],
) -> dict[str, Any]:
    """Grids and beats locked or unlocked."""
    return answer(
        await _call(
            conn,
            "SELECT plan_set_locks(%s, %s, %s, %s)",
            (code, version, Jsonb(grids), Jsonb(beats)),
        )
    )


async def plan_diff(conn: psycopg.AsyncConnection, *, a: str, b: str) -> dict[str, Any]:
    """What changes from plan a to plan b, with each beat's workload in both when the service
    computes workloads (services/workload.py, the balance work of issue 13)."""
    diff: dict[str, Any] = await _call(conn, "SELECT plan_diff(%s, %s)", (a, b))
    diff["workload"] = await _workload_before_after(conn, a=a, b=b)
    return diff


async def _workload_before_after(
    conn: psycopg.AsyncConnection, *, a: str, b: str
) -> dict[str, Any] | None:
    """{beat: {a: {index, deviation_pct}, b: ...}} with the default weights over the default
    period, or None while the service has no workload module."""
    try:
        workload = importlib.import_module("geo_service.services.workload")
    except ModuleNotFoundError:
        return None
    weights = workload.Weights.of(None, None)
    beats: dict[str, dict[str, Any]] = {}
    for side, code in (("a", a), ("b", b)):
        answer = await workload.plan_workload(
            conn, plan=code, start=None, end=None, weights=weights
        )
        for beat in answer["beats"]:
            beats.setdefault(beat["code"], {"a": None, "b": None})[side] = {
                "index": float(beat["index"]),
                "deviation_pct": float(beat["deviation_pct"]),
            }
    return beats


async def publish_plan(
    conn: psycopg.AsyncConnection,
    *,
    code: str,
    version: int | None,
    effective_from: datetime,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Publish a draft from a moment, or refuse with every problem listed (a dry run only
    lists them)."""
    return answer(
        await _call(
            conn,
            "SELECT plan_publish(%s, %s, %s, %s)",
            (code, version, effective_from, dry_run),
        )
    )
