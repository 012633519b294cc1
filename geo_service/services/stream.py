"""The live map's hub: one LISTEN per worker on the command room's log, fanned out to the open
streams, each reading the events as its user's scope may (sql/functions/73_live.sql)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from geo_service.logs import log

CHANNEL = "command_event"
# The hub's own connection is named so that an operator (and a test) sees one per worker.
APPLICATION_NAME = "geo-service stream hub"
EVENTS = "SELECT * FROM live_events(%s, %s, %s, %s, %s, %s)"
CONTEXT = "SELECT app_role(), app_scope(), app_grids()"


@dataclass(frozen=True)
class Scope:
    """What a user's rows of the log depend on: their role, scope and grids, as app_enter set
    them. Streams of the same scope share one read of each batch of events."""

    role: str
    scope: str
    grids: tuple[int, ...]


@dataclass(frozen=True)
class Event:
    """One row of the command room's log: the SSE id is its id."""

    id: int
    at: datetime
    kind: str
    incident_id: int | None
    call_sign: str | None
    grid_id: int | None
    payload: dict[str, Any]

    def data(self) -> dict[str, Any]:
        """What the stream sends as the event's data (JSON)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "call_sign": self.call_sign,
            "grid_id": self.grid_id,
            "payload": self.payload,
        }


async def scope_of(conn: psycopg.AsyncConnection) -> Scope:
    """The scope of the user whose context this connection's transaction holds."""
    cur = await conn.execute(CONTEXT)
    row = await cur.fetchone()
    assert row is not None
    role, scope, grids = row
    return Scope(role or "", scope, tuple(sorted(grids or ())))


async def events_for(
    conn: psycopg.AsyncConnection,
    scope: Scope,
    *,
    ids: Sequence[int] | None = None,
    after: int | None = None,
    limit: int = 10_000,
) -> list[Event]:
    """The events (these ids, or every one after ``after``) a user of this scope reads."""
    cur = await conn.execute(
        EVENTS, (scope.role, scope.scope, list(scope.grids), ids, after, limit)
    )
    return [Event(*row) for row in await cur.fetchall()]


async def latest_event(conn: psycopg.AsyncConnection) -> int:
    """The id of the log's newest event (0 when empty)."""
    cur = await conn.execute("SELECT live_latest_event()")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


@dataclass(eq=False)
class Listener:
    """One open stream: its scope and the events waiting to be sent. ``None`` in the queue ends
    the stream (it fell too far behind: the client reconnects with its Last-Event-ID)."""

    scope: Scope
    limit: int = 1000
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def close(self) -> None:
        """End the stream (it reconnects and replays what it had not been sent)."""
        if self.overflowed:
            return
        self.overflowed = True
        self.queue.put_nowait(None)  # after what is queued: nothing sent is skipped

    def offer(self, event: Event) -> None:
        """Queue an event, or end the stream once its queue is full."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.close()  # it reconnects with the last id it was sent and replays the rest
        else:
            self.queue.put_nowait(event)


class StreamHub:
    """LISTENs on the log's channel on a connection of its own and hands each batch of new events
    to the listeners, read once per scope through row-level security on the pool. Reconnects
    when the connection is lost, and then reads what it missed by id."""

    def __init__(
        self, pool: AsyncConnectionPool, listen_url: str, *, queue_max: int = 1000
    ) -> None:
        self.pool = pool
        self.listen_url = listen_url
        self.queue_max = queue_max
        self.groups: dict[Scope, set[Listener]] = {}
        self.last_id = 0  # the newest id handed out (or known at start)
        self.listening = asyncio.Event()
        self._ids: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start listening and dispatching (in the app's lifespan)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="stream-listen"),
            asyncio.create_task(self._dispatch(), name="stream-dispatch"),
        ]

    async def stop(self) -> None:
        """Stop both tasks; the open streams end."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for listeners in self.groups.values():
            for listener in listeners:
                listener.close()

    async def ready(self, seconds: float = 10.0) -> None:
        """Wait (a little, at start) until the hub listens: what commits after is sent."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), seconds)

    def join(self, scope: Scope) -> Listener:
        """A new listener of this scope, receiving every event from now on."""
        listener = Listener(scope, self.queue_max)
        self.groups.setdefault(scope, set()).add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        """The listener's stream ended."""
        group = self.groups.get(listener.scope)
        if group is not None:
            group.discard(listener)
            if not group:
                del self.groups[listener.scope]

    def move(self, listener: Listener, scope: Scope) -> None:
        """The listener's user now has another scope (their areas changed)."""
        if scope != listener.scope:
            self.leave(listener)
            listener.scope = scope
            self.groups.setdefault(scope, set()).add(listener)

    async def _listen(self) -> None:
        """LISTEN, and queue the id of every event NOTIFYed (after its commit); on a lost
        connection, wait a little, LISTEN again and catch up on what was logged meanwhile."""
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.listen_url, autocommit=True, application_name=APPLICATION_NAME
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    latest = await latest_event(conn)
                    if first:
                        self.last_id = latest
                        first = False
                    elif latest > self.last_id:
                        self._ids.put_nowait(-1)  # catch up: everything after last_id
                    self.listening.set()
                    async for notice in conn.notifies():
                        with contextlib.suppress(ValueError):
                            self._ids.put_nowait(int(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("stream hub: listening again after %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _dispatch(self) -> None:
        """Take the ids waiting, read their events once per scope with listeners, hand them out."""
        while True:
            ids = [await self._ids.get()]
            while not self._ids.empty():
                ids.append(self._ids.get_nowait())
            catch_up = -1 in ids
            wanted = sorted(i for i in ids if i > 0)
            try:
                await self._deliver(
                    None if catch_up else wanted, self.last_id if catch_up else None
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("stream hub: could not read events: %s", exc, exc_info=exc)
                for listeners in list(self.groups.values()):
                    for listener in list(listeners):
                        listener.close()
            if wanted:
                self.last_id = max(self.last_id, wanted[-1])

    async def _deliver(self, ids: list[int] | None, after: int | None) -> None:
        """Read these events (or all after ``after``) for every scope with listeners."""
        groups = [(scope, list(listeners)) for scope, listeners in self.groups.items()]
        if not groups:
            if after is not None:
                async with self.pool.connection() as conn:
                    self.last_id = max(self.last_id, await latest_event(conn))
            return
        async with self.pool.connection() as conn:
            for scope, listeners in groups:
                events = await events_for(conn, scope, ids=ids, after=after)
                for event in events:
                    for listener in listeners:
                        listener.offer(event)
            if after is not None:
                self.last_id = max(self.last_id, await latest_event(conn))
