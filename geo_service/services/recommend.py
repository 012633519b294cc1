"""Recommended units for an incident: the units on duty and available, by road travel time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson
import psycopg
import shapely

from geo_service.db import one
from geo_service.services.routing import RoadGraph

Scope = tuple[bool, tuple[int, ...], tuple[int, ...]]  # sees all, grid ids, village ids
# Routing graphs by (server, database, the caller's scope): (basemap_version, graph). Each
# worker process keeps its own; basemap_version is bumped by the triggers on road (migration
# 007), and row-level security gives a user in areas scope only the roads of their areas.
_GRAPHS: dict[tuple[str, str, Scope], tuple[int, RoadGraph]] = {}


async def road_graph(conn: psycopg.AsyncConnection, *, version: int, scope: Scope) -> RoadGraph:
    """The routing graph of the roads this caller sees, loaded and built when the roads changed
    since (or never built in this worker for this scope)."""
    key = (f"{conn.info.host}:{conn.info.port}", conn.info.dbname, scope)
    cached = _GRAPHS.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    cur = await conn.execute("SELECT code, kind, geom_m FROM road_network()")
    rows = await cur.fetchall()
    roads = [(code, kind, shapely.from_wkb(bytes(wkb))) for code, kind, wkb in rows]
    graph = await asyncio.to_thread(RoadGraph, roads)
    _GRAPHS[key] = (version, graph)
    return graph


async def recommend_units(
    conn: psycopg.AsyncConnection, *, call_no: str, at: datetime
) -> dict[str, Any]:
    """The incident and its recommended units: travel time by road (``road_seconds``, null when
    the unit has no position or no road joins it), straight-line distance, the beat's own;
    fastest first. An unknown call number is NotFound (``call_no``)."""
    cur = await conn.execute(
        "SELECT recommend_units(%(call_no)s, %(at)s)::text", {"call_no": call_no, "at": at}
    )
    answer: dict[str, Any] = orjson.loads(one(await cur.fetchone(), "recommend_units")[0])
    network = answer.pop("network")
    scope: Scope = (
        (True, (), ())
        if network["sees_all"]
        else (False, tuple(network["grids"]), tuple(network["villages"]))
    )
    graph = await road_graph(conn, version=int(network["version"]), scope=scope)
    incident = answer["incident"]
    units = answer["units"]
    targets = [
        (u["unit_kind"], None if u["x"] is None else (float(u["x"]), float(u["y"]))) for u in units
    ]
    seconds = graph.travel_seconds((float(incident.pop("x")), float(incident.pop("y"))), targets)
    for unit, s in zip(units, seconds, strict=True):
        unit.pop("x")
        unit.pop("y")
        unit["road_seconds"] = None if s is None else round(s, 1)
        unit["road_minutes"] = None if s is None else round(s / 60.0, 1)
    units.sort(
        key=lambda u: (
            u["road_seconds"] is None,
            u["road_seconds"] or 0.0,
            u["distance_m"] is None,
            u["distance_m"] or 0.0,
            u["call_sign"],
        )
    )
    return answer
