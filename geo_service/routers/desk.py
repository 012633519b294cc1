"""The command room's desk (issue 12): calls in, their timelines, unit positions and states."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from geo_service import audit
from geo_service.accounts.access import COMMAND_READ, DISPATCH, allow
from geo_service.accounts.deps import Connection
from geo_service.moments import parse_moment
from geo_service.routers.params import AppSettings, AtQuery
from geo_service.schemas.desk import (
    CALL_NO,
    CallIn,
    CallTaken,
    Incident,
    IncidentRow,
    PositionsIn,
    PositionsStored,
    StepIn,
    Unit,
)
from geo_service.services import desk

router = APIRouter(prefix="/api/v1", tags=["command room"])

JSON = "application/json"
CallNo = Annotated[str, Path(pattern=CALL_NO, description="The incident's call number")]
CONFLICT = (
    "problem+json: a step that does not follow (naming the steps allowed next), a unit that is "
    "busy or off duty"
)


@router.post(
    "/incidents",
    dependencies=[allow(DISPATCH)],
    summary="Take a call (110接警)",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": CallTaken, "description": "Stored, with the lookup's answer"},
        200: {"model": CallTaken, "description": "Already stored with this content (a retry)"},
        404: {"description": "Outside the jurisdiction (names the nearest village)"},
        409: {"description": "The call number is taken with other content (names what differs)"},
    },
)
async def take_call(
    request: Request, conn: Connection, settings: AppSettings, call: CallIn
) -> Response:
    """Store a call stamped with its village, grid, beat (plan in force) and H3 cells, linked to
    earlier calls from the same phone or within REPEAT_METRES with the same category in the last
    REPEAT_DAYS, diverted to the response team at once when it is not a police matter; answered
    with the lookup's answer for its point. The same call again is 200 with the stored one."""
    taken = await desk.take_call(conn, call=call, settings=settings)
    audit.record(
        request, "incident_take", call.call_no, created=taken.created, category=call.category
    )
    return Response(taken.body, status_code=201 if taken.created else 200, media_type=JSON)


@router.get(
    "/incidents",
    dependencies=[allow(COMMAND_READ)],
    summary="Open or recent incidents",
    response_model=list[IncidentRow],
)
async def list_incidents(
    conn: Connection,
    settings: AppSettings,
    open_only: Annotated[
        bool, Query(alias="open", description="Only incidents not closed or cancelled")
    ] = True,
    hours: Annotated[
        int | None,
        Query(
            ge=1,
            le=24 * 366,
            description="Received in the last this many hours (default BOARD_WINDOW_HOURS)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> Response:
    """Incidents received in the window, newest first (caller phones masked unless command
    room or leader)."""
    body = await desk.incidents(
        conn, hours=hours or settings.board_window_hours, open_only=open_only, limit=limit
    )
    return Response(body, media_type=JSON)


@router.get(
    "/incidents/{call_no}",
    dependencies=[allow(COMMAND_READ)],
    summary="An incident with its whole timeline",
    response_model=Incident,
)
async def get_incident(conn: Connection, call_no: CallNo) -> Response:
    """The incident, its areas, repeat links, units, arrival times (reported and automatic),
    the steps allowed next and every step of its timeline."""
    return Response(await desk.incident(conn, call_no=call_no), media_type=JSON)


@router.post(
    "/incidents/{call_no}/events",
    dependencies=[allow(DISPATCH)],
    summary="A step of the incident's timeline (处警全过程)",
    response_model=Incident,
    responses={409: {"description": CONFLICT}},
)
async def add_step(
    request: Request,
    conn: Connection,
    call_no: CallNo,
    step: Annotated[StepIn, Body()],
) -> Response:
    """dispatch (a unit), arrive, close (result), divert, accept (response team), callback
    (satisfied / basically_satisfied / unsatisfied), cancel or note. A step that does not follow
    is 409 naming the steps allowed next."""
    body = await desk.record_step(conn, call_no=call_no, step=step)
    audit.record(
        request,
        "incident_step",
        call_no,
        kind=step.kind,
        call_sign=getattr(step, "call_sign", None),
    )
    return Response(body, media_type=JSON)


@router.post(
    "/positions",
    dependencies=[allow(DISPATCH)],
    summary="A batch of position fixes from devices",
    response_model=PositionsStored,
    responses={
        404: {"description": "A call sign or person code that names nobody (problem+json)"},
    },
)
async def positions(
    request: Request, conn: Connection, settings: AppSettings, batch: PositionsIn
) -> Response:
    """Fixes by person or call sign, stored stamped with their areas; each unit's last
    position kept; a dispatched unit that comes within ARRIVAL_RADIUS_M of its incident is
    stamped arrived (automatic)."""
    body = await desk.store_positions(
        conn, fixes=batch.fixes, arrival_radius_m=settings.arrival_radius_m
    )
    audit.record(request, "positions", None, fixes=len(batch.fixes))
    return Response(body, media_type=JSON)


@router.get(
    "/units",
    dependencies=[allow(COMMAND_READ)],
    summary="Units on duty with their status and last position",
    response_model=list[Unit],
)
async def list_units(conn: Connection, at: AtQuery = None) -> Response:
    """Units whose duty shift covers the moment (default now): kind, person, shift, status
    (available, dispatched, on scene), incident, last fix."""
    return Response(await desk.units(conn, at=parse_moment(at)), media_type=JSON)
