"""The command room's desk in domain words: take a call, record a step of its timeline, store
unit positions, list incidents and units. One SQL function call each (sql/functions/71_desk.sql);
the answers are PostgreSQL's JSON text, passed through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import orjson
import psycopg

from geo_service.cells import INCIDENT_CELL_COLUMNS
from geo_service.crs import to_wgs84
from geo_service.db import one
from geo_service.errors import OutsideJurisdiction
from geo_service.moments import now, parse_moment
from geo_service.schemas.desk import (
    ArriveStep,
    CallIn,
    FixByCallSign,
    FixByPerson,
    StepIn,
)
from geo_service.settings import Settings

# Bytes in binary format: PostgreSQL's JSON text as it is, nothing decoded on the way.
TAKE_SQL = (
    "SELECT inside, created, convert_to(answer::text, 'UTF8') FROM desk_take_call("
    "%(call_no)s, %(received_at)s, %(category)s, %(caller_phone)s, %(address)s, "
    "%(description)s, %(lon)s, %(lat)s, %(h3_r7)s, %(h3_r8)s, %(h3_r9)s, %(h3)s, "
    "%(repeat_days)s, %(repeat_metres)s, %(diversion_minutes)s, %(marker_radius_m)s, "
    "%(water_radius_m)s, %(divert)s)"
)
STEP_SQL = (
    "SELECT convert_to(desk_step(%(call_no)s, %(kind)s, %(at)s, %(call_sign)s, %(result)s, "
    "%(note)s, %(lon)s, %(lat)s)::text, 'UTF8')"
)
INCIDENT_SQL = "SELECT convert_to(desk_incident(%(call_no)s)::text, 'UTF8')"
POSITIONS_SQL = "SELECT convert_to(desk_positions(%(fixes)s::jsonb, %(radius)s)::text, 'UTF8')"
UNITS_SQL = "SELECT convert_to(desk_units(%(at)s)::text, 'UTF8')"
INCIDENTS_SQL = (
    "SELECT convert_to(desk_incidents(%(since)s, %(open_only)s, %(limit)s)::text, 'UTF8')"
)


@dataclass(frozen=True)
class Taken:
    """A call taken: whether it was stored now (else found stored) and the answer's JSON."""

    created: bool
    body: bytes


def cells_of(lon: float, lat: float) -> dict[str, int]:
    """The H3 cells an incident is stored with (resolutions 7..10), by column."""
    return {col: h3.latlng_to_cell(lat, lon, res) for res, col in INCIDENT_CELL_COLUMNS.items()}


async def take_call(conn: psycopg.AsyncConnection, *, call: CallIn, settings: Settings) -> Taken:
    """Store a call stamped with its areas, H3 cells and repeat links (diverted when not a
    police matter, unless the call-taker keeps it) and answer it with the lookup's answer;
    the same call again answers the stored one; other content under its number is a Conflict;
    a point outside the jurisdiction is OutsideJurisdiction naming the nearest village
    (nothing stored)."""
    x, y = to_wgs84(call.lon, call.lat, call.crs)
    received = parse_moment(call.received_at, parameter="received_at") if call.received_at else None
    cur = await conn.execute(
        TAKE_SQL,
        {
            "call_no": call.call_no,
            "received_at": received,
            "category": call.category,
            "caller_phone": call.caller_phone,
            "address": call.address,
            "description": call.description,
            "lon": x,
            "lat": y,
            **cells_of(x, y),
            "repeat_days": settings.repeat_days,
            "repeat_metres": settings.repeat_metres,
            "diversion_minutes": settings.diversion_target_minutes,
            "marker_radius_m": settings.rescue_marker_radius_m,
            "water_radius_m": settings.water_body_radius_m,
            "divert": call.divert,
        },
        prepare=True,
        binary=True,
    )
    inside, created, body = one(await cur.fetchone(), "desk_take_call")
    if not inside:
        nearest = orjson.loads(body)["nearest"]
        where = (
            f"the nearest area is {nearest['kind']} {nearest['name']} ({nearest['code']}), "
            f"{nearest['distance_m']} m away"
            if nearest
            else "no area is loaded yet"
        )
        raise OutsideJurisdiction(
            f"The call's point ({x:.6f}, {y:.6f}) is outside the station's jurisdiction; "
            f"{where}. Nothing was stored.",
            parameter="lon",
            nearest=nearest,
        )
    return Taken(created=bool(created), body=bytes(body))


async def record_step(conn: psycopg.AsyncConnection, *, call_no: str, step: StepIn) -> bytes:
    """Record a step of an incident's timeline; the incident with its timeline as JSON. A step
    that does not follow is a Conflict naming the steps allowed next."""
    lon = lat = None
    if isinstance(step, ArriveStep) and step.where is not None:
        lon, lat = to_wgs84(step.where.lon, step.where.lat, step.where.crs)
    at = parse_moment(step.at, parameter="at") if step.at else None
    cur = await conn.execute(
        STEP_SQL,
        {
            "call_no": call_no,
            "kind": step.kind,
            "at": at,
            "call_sign": getattr(step, "call_sign", None),
            "result": getattr(step, "result", None),
            "note": step.note,
            "lon": lon,
            "lat": lat,
        },
        prepare=True,
        binary=True,
    )
    return bytes(one(await cur.fetchone(), "desk_step")[0])


async def incident(conn: psycopg.AsyncConnection, *, call_no: str) -> bytes:
    """An incident with its whole timeline as JSON (NotFound naming call_no)."""
    cur = await conn.execute(INCIDENT_SQL, {"call_no": call_no}, binary=True)
    return bytes(one(await cur.fetchone(), "desk_incident")[0])


def fixes_json(fixes: list[FixByPerson | FixByCallSign]) -> bytes:
    """The batch as desk_positions reads it: WGS 84 and the fixes' H3 cells (resolution 10)."""
    rows: list[dict[str, Any]] = []
    for i, fix in enumerate(fixes):
        x, y = to_wgs84(fix.lon, fix.lat, fix.crs)
        row: dict[str, Any] = {
            "at": parse_moment(fix.at, parameter=f"fixes.{i}.at").isoformat(),
            "lon": x,
            "lat": y,
            "h3": h3.latlng_to_cell(y, x, 10),
        }
        if isinstance(fix, FixByCallSign):
            row["call_sign"] = fix.call_sign
        else:
            row["person"] = fix.person
        rows.append(row)
    return orjson.dumps(rows)


async def store_positions(
    conn: psycopg.AsyncConnection,
    *,
    fixes: list[FixByPerson | FixByCallSign],
    arrival_radius_m: float,
) -> bytes:
    """Store a batch of fixes, keep units' last positions, stamp automatic arrivals."""
    cur = await conn.execute(
        POSITIONS_SQL,
        {"fixes": fixes_json(fixes).decode(), "radius": arrival_radius_m},
        binary=True,
    )
    return bytes(one(await cur.fetchone(), "desk_positions")[0])


async def units(conn: psycopg.AsyncConnection, *, at: datetime) -> bytes:
    """Units on duty at a moment with their status and last position, as JSON."""
    cur = await conn.execute(UNITS_SQL, {"at": at}, binary=True)
    return bytes(one(await cur.fetchone(), "desk_units")[0])


async def incidents(
    conn: psycopg.AsyncConnection, *, hours: int, open_only: bool, limit: int
) -> bytes:
    """Incidents received in the last ``hours`` (open only, or all), newest first, as JSON."""
    cur = await conn.execute(
        INCIDENTS_SQL,
        {"since": now() - timedelta(hours=hours), "open_only": open_only, "limit": limit},
        binary=True,
    )
    return bytes(one(await cur.fetchone(), "desk_incidents")[0])
