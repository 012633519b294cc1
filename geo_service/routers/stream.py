"""The live map (issue 12): the event stream, the board at a moment, the /command page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from geo_service.accounts.access import COMMAND_READ, DISPATCH, allow
from geo_service.accounts.deps import Caller, Connection, credential_of
from geo_service.errors import InvalidParameter
from geo_service.maps.words import person_roles
from geo_service.moments import parse_moment
from geo_service.routers.params import AppSettings, AtQuery, LangQuery
from geo_service.schemas.live import Board
from geo_service.services.live import board_at, still_signed_in
from geo_service.services.stream import (
    Event,
    Listener,
    StreamHub,
    events_for,
    latest_event,
    scope_of,
)
from geo_service.settings import Settings
from geo_service.web.render import render_page, templates_of

router = APIRouter(tags=["command room"])

STREAM_DOC = """Server-Sent Events of the command room's log as they are committed: each event's
`id` is the log's id and its `data` a JSON object (schema StreamEvent) with its `kind` (incident,
step, unit, …). Only the events of the user's scope are sent (a grid worker's grids). A stream
opened with `Last-Event-ID` (browsers send it when they reconnect) or `?after=` first replays the
events after that id; one that would replay more than STREAM_REPLAY_MAX gets an event `reset`
instead (reload the board, GET /api/v1/command/board, and go on); with `live=false` the stream
ends after the replay (a client catching up by polling). A comment line every
STREAM_HEARTBEAT_SECONDS keeps it open; the credential is checked again every
STREAM_RECHECK_SECONDS, and the stream of a user signed out, locked or removed ends with an event
`signed_out`. A client too slow to take its events is cut off and reconnects."""


def _sse(event: Event) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(event.data()).decode(), id=str(event.id))


def _start(last_event_id: str | None, after: int | None) -> int | None:
    """Where the replay starts: Last-Event-ID wins over ?after=."""
    if last_event_id not in (None, ""):
        try:
            start = int(last_event_id)
        except ValueError:
            raise InvalidParameter(
                f"Last-Event-ID must be an event id (a whole number), not {last_event_id!r}",
                parameter="Last-Event-ID",
            ) from None
        if start < 0:
            raise InvalidParameter("Last-Event-ID must not be negative", parameter="Last-Event-ID")
        return start
    return after


@router.get(
    "/api/v1/stream",
    dependencies=[allow(COMMAND_READ)],
    summary="The command room's events, live (Server-Sent Events)",
    description=STREAM_DOC,
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless text/event-stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def stream(
    request: Request,
    user: Caller,
    conn: Connection,
    settings: AppSettings,
    after: Annotated[
        int | None, Query(ge=0, description="Replay the events after this id first")
    ] = None,
    live: Annotated[
        bool,
        Query(description="false: send the replay (after ?after= or Last-Event-ID) and end"),
    ] = True,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=20,
            description="Sent by a reconnecting browser: replay what came after it",
        ),
    ] = None,
) -> EventSourceResponse:
    """Open the stream; the request's transaction reads the replay as the user, then the hub
    carries on with what is committed from then on."""
    start = _start(last_event_id, after)
    hub: StreamHub = request.app.state.stream_hub
    scope = await scope_of(conn)
    await hub.ready()
    listener = hub.join(scope)  # before the replay is read: nothing falls between them
    try:
        backlog = []
        if start is not None:
            backlog = await events_for(
                conn, scope, after=start, limit=settings.stream_replay_max + 1
            )
        latest = await latest_event(conn)
    except BaseException:
        hub.leave(listener)
        raise
    credential = credential_of(request)
    assert credential is not None  # signed in
    return EventSourceResponse(
        _events(request, hub, listener, backlog, latest, credential, settings, live=live),
        ping=settings.stream_heartbeat_seconds,
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


async def _events(
    request: Request,
    hub: StreamHub,
    listener: Listener,
    backlog: list[Event],
    latest: int,
    credential: Any,
    settings: Settings,
    *,
    live: bool,
) -> AsyncIterator[ServerSentEvent]:
    """The replay, then the hub's events as they come; ends when the user may no longer read
    them, when the client falls too far behind, or when the service stops."""
    loop = asyncio.get_running_loop()
    try:
        sent: set[int] = set()
        if len(backlog) > settings.stream_replay_max:
            yield ServerSentEvent(
                event="reset", data=json.dumps({"latest": latest}), id=str(latest)
            )
        else:
            for event in backlog:
                sent.add(event.id)
                yield _sse(event)
        if not live:
            return
        due = loop.time() + settings.stream_recheck_seconds
        while True:
            try:
                item = await asyncio.wait_for(listener.queue.get(), max(due - loop.time(), 0))
            except TimeoutError:
                scope = await still_signed_in(request.app.state.pool, settings, credential)
                if scope is None:
                    yield ServerSentEvent(event="signed_out", data="{}")
                    return
                hub.move(listener, scope)
                due = loop.time() + settings.stream_recheck_seconds
                continue
            if item is None:
                return
            if item.id in sent:
                continue
            yield _sse(item)
    finally:
        hub.leave(listener)


@router.get(
    "/api/v1/command/board",
    dependencies=[allow(COMMAND_READ)],
    summary="The board as it stood at a moment (replay)",
    response_model=Board,
)
async def board(conn: Connection, settings: AppSettings, at: AtQuery = None) -> Response:
    """Open incidents (received in the last BOARD_WINDOW_HOURS, not closed or cancelled) by
    status and age with their targets, the police incidents closed in the last
    CALLBACK_WINDOW_DAYS awaiting their callback (longest waiting first), and units by status at
    their last position, as the event log and the timelines had them at the moment (default
    now); what the user's scope holds."""
    body = await board_at(conn, settings, at=parse_moment(at))
    return Response(orjson.dumps(body), media_type="application/json")


@lru_cache(maxsize=4)
def _command_words(templates: Path) -> dict[str, dict[str, str]]:
    words: dict[str, dict[str, str]] = json.loads(
        (templates / "command_words.json").read_text(encoding="utf-8")
    )
    return words


@router.get(
    "/command",
    dependencies=[allow(COMMAND_READ)],
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def command_page(
    request: Request,
    user: Caller,
    settings: AppSettings,
    lang: LangQuery = "zh",
    at: AtQuery = None,
) -> Response:
    """The live map (综合指挥室): incidents and units pushed as they change, the call-intake
    form and the next steps; with ?at= the board as it stood then, with a time slider."""
    replay = parse_moment(at) if at else None
    config = {
        "lang": lang,
        "at": replay.isoformat() if replay else None,
        "dispatch": user.role in DISPATCH,
        "window_hours": settings.board_window_hours,
        "callback_days": settings.callback_window_days,
        "words": {**_command_words(templates_of(request))[lang], "roles": person_roles(lang)},
    }
    return render_page(
        request,
        "command.html",
        lang=lang,
        cw=config["words"],
        config=config,
        replay=replay,
    )
