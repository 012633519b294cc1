"""The audit trail: events a request records, appended in its transaction; reading, verifying
and pruning the hash chain (sql/functions/16_audit.sql)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import getpass
import io
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from geo_service.db import one
from geo_service.errors import InvalidParameter
from geo_service.logs import log, request_id
from geo_service.moments import STATION_TZ

# What the service records (sql accepts any action of a-z, 0-9 and _; the next issues add more).
ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "lockout",
    "sign_out",
    "lookup",
    "phone_reveal",
    "import",
    "download",
    "export",
    "user_admin",
    "token_admin",
    "refused",
    "audit_prune",
    # issue 12: a call taken, a step of its timeline, a batch of unit positions
    "incident_take",
    "incident_step",
    "positions",
    # issue 13: a draft made, edited, rebalanced, published
    "plan_create",
    "plan_edit",
    "plan_publish",
    # issue 14: an inspection, a sweep opened, a report made or moved on
    "inspection",
    "sweep_open",
    "report",
    "report_step",
    # a water marked for dusk patrol, or taken off the list
    "patrol_mark",
    "patrol_unmark",
)
ANONYMOUS = "anonymous"
# The audit trail is kept at least this long (the level-3 protection standard: six months).
MIN_RETENTION_DAYS = 180
PAGE_MAX = 1000  # audit_events gives at most this many rows at a time
# Detail keys that never go into the trail: what they hold would let a reader act as someone.
_SECRET_WORDS = ("password", "passwd", "secret")
_SECRET_KEYS = frozenset({"token", "otp", "totp", "cookie", "authorization", "bearer", "session"})

APPEND = "SELECT audit_append(%s::jsonb)"
READ = (
    "SELECT seq, at, actor, role, action, subject, detail::text, request_id, client, "
    "prev_hash, hash FROM audit_events(%(actor)s, %(action)s, %(start)s, %(end)s, "
    "%(after_seq)s, %(limit)s)"
)
VERIFY = (
    "SELECT rows, first_seq, first_at, anchor, last_seq, last_at, head_seq, bad_seq, bad_at, "
    "problem FROM audit_verify()"
)
# The prune record that names the anchor: the newest dropped row's seq and hash.
PRUNE_RECORD = (
    "SELECT seq FROM audit_event WHERE action = 'audit_prune' "
    "AND detail ->> 'through_seq' = %s AND detail ->> 'through_hash' = %s ORDER BY seq LIMIT 1"
)
PRUNE = "SELECT partition, month_start, rows, through_seq, through_hash FROM audit_prune(%s)"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing someone did, as the trail records it (seq, time and hashes come with
    audit_append)."""

    action: str
    actor: str
    role: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    client: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The event as audit_append reads it."""
        return {
            "action": self.action,
            "actor": self.actor,
            "role": self.role,
            "subject": self.subject,
            "detail": self.detail,
            "request_id": self.request_id,
            "client": self.client,
        }


def event_of(
    request: Request,
    action: str,
    subject: str | None = None,
    *,
    actor: str | None = None,
    role: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """An event of this request (not noted anywhere yet: see record and AuditBatch). The actor
    and role are the signed-in user's (``request.state.user``: ``name``, ``role``) unless given
    (a sign-in names who tried); the request id and client address come with the request. Never
    pass a password, token or secret in ``detail``: keys that say so are refused (ValueError)."""
    refuse_secrets(detail)
    principal = getattr(request.state, "user", None)
    who = actor or getattr(principal, "name", None) or ANONYMOUS
    as_role = role or getattr(principal, "role", None)
    event = AuditEvent(
        action=action,
        actor=str(who),
        role=str(as_role) if as_role is not None else None,
        subject=subject,
        detail=detail,
        request_id=request_id.get(),
        client=request.client.host if request.client else None,
    )
    return event


def record(
    request: Request,
    action: str,
    subject: str | None = None,
    *,
    actor: str | None = None,
    role: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Note an event of this request in ``request.state.audit``; the request's transaction
    writes the list just before it commits (see event_of for its fields)."""
    event = event_of(request, action, subject, actor=actor, role=role, **detail)
    events: list[AuditEvent] | None = getattr(request.state, "audit", None)
    if events is None:
        events = request.state.audit = []
    events.append(event)
    return event


def pending(request: Request) -> list[AuditEvent]:
    """The events this request has noted so far (written when its transaction commits)."""
    return list(getattr(request.state, "audit", None) or ())


def refuse_secrets(detail: dict[str, Any]) -> None:
    """ValueError when a detail key names a password, token or secret (a bug in the caller:
    the trail is read by auditors and exported to spreadsheets)."""
    for key in detail:
        name = key.lower()
        if any(word in name for word in _SECRET_WORDS) or name in _SECRET_KEYS:
            raise ValueError(f"audit detail {key!r} looks like a secret; it is never recorded")


def cli_actor() -> str:
    """The actor of the command line: the operator's operating-system user."""
    try:
        user = getpass.getuser()
    except OSError:  # no user name in the environment nor the password database
        user = "unknown"
    return f"cli:{user}"


def _payload(events: Sequence[AuditEvent]) -> str:
    """The events as one JSON array (datetimes ISO 8601, anything else unknown as text)."""
    return orjson.dumps(
        [event.as_json() for event in events], default=str, option=orjson.OPT_NON_STR_KEYS
    ).decode()


async def write(conn: psycopg.AsyncConnection, events: Sequence[AuditEvent]) -> int | None:
    """Append the events in one statement, in the connection's transaction; the last seq
    (None, and no statement, when there are none)."""
    if not events:
        return None
    cur = await conn.execute(APPEND, (_payload(events),))
    last: int | None = one(await cur.fetchone(), "audit_append")[0]
    return last


def write_sync(conn: psycopg.Connection, events: Sequence[AuditEvent]) -> int | None:
    """write() for the command line's plain connection."""
    if not events:
        return None
    last: int | None = one(conn.execute(APPEND, (_payload(events),)).fetchone(), "audit_append")[0]
    return last


class AuditBatch:
    """Events of reads that come by the thousand (lookups), appended together every
    ``interval`` seconds in one statement on a connection of their own, so that a lookup pays
    no statement and no wait on the chain's lock. A stop writes what is left; a process that
    dies loses at most the last interval's events (writes and refusals never go this way)."""

    def __init__(self, pool: AsyncConnectionPool, *, interval: float = 0.25) -> None:
        self.pool = pool
        self.interval = interval
        self.events: list[AuditEvent] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, event: AuditEvent) -> None:
        """Queue an event for the next append."""
        self.events.append(event)

    async def flush(self) -> None:
        """Append the queued events now (one statement, one transaction)."""
        if not self.events:
            return
        events, self.events = self.events, []
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await write(conn, events)
        except Exception:
            self.events[:0] = events  # kept for the next try, in their order
            raise

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:  # the database is away: logged, retried at the next interval
                log.exception("audit events could not be written; retrying")

    def start(self) -> None:
        """Start appending every interval (the app's lifespan calls this)."""
        self._task = asyncio.create_task(self._run(), name="audit-batch")

    async def stop(self) -> None:
        """Stop, writing what is queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def record_batched(
    request: Request, action: str, subject: str | None = None, **detail: Any
) -> None:
    """Note a read's event for the app's AuditBatch (appended within its interval)."""
    batch: AuditBatch = request.app.state.audit_batch
    batch.add(event_of(request, action, subject, **detail))


# Reading (auditors through audit_events; the CLI as the owner) -------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events: by actor, action, and the time span [start, end)."""

    actor: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def params(self, *, after_seq: int, limit: int) -> dict[str, Any]:
        """Parameters of READ."""
        return {
            "actor": self.actor,
            "action": self.action,
            "start": self.start,
            "end": self.end,
            "after_seq": after_seq,
            "limit": limit,
        }

    def as_detail(self) -> dict[str, Any]:
        """The filter as an audit detail (what was exported), without what was not given."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in (
                ("actor", self.actor),
                ("action", self.action),
                ("from", self.start),
                ("to", self.end),
            )
            if value is not None
        }


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One row of the trail as read back: ``detail`` is jsonb's own text of it (the text the
    hash covers), the hashes are hexadecimal."""

    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    subject: str | None
    detail: str
    request_id: str | None
    client: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> AuditRow:
        """From a row of READ."""
        seq, at, actor, role, action, subject, detail, rid, client, prev_hash, hash_ = row
        return cls(
            seq=seq,
            at=at,
            actor=actor,
            role=role,
            action=action,
            subject=subject,
            detail=detail,
            request_id=rid,
            client=client,
            prev_hash=bytes(prev_hash).hex(),
            hash=bytes(hash_).hex(),
        )

    def detail_json(self) -> dict[str, Any]:
        """The detail as a JSON object."""
        detail: dict[str, Any] = orjson.loads(self.detail)
        return detail


async def read_page(
    conn: psycopg.AsyncConnection, *, where: AuditFilter, after_seq: int = 0, limit: int
) -> list[AuditRow]:
    """Events matching ``where`` after ``after_seq``, in seq order, at most ``limit`` (1..1000);
    the database refuses (42501) unless the transaction is an auditor's or the owner's."""
    cur = await conn.execute(READ, where.params(after_seq=after_seq, limit=limit))
    return [AuditRow.of(row) for row in await cur.fetchall()]


def read_page_sync(
    conn: psycopg.Connection, *, where: AuditFilter, after_seq: int = 0, limit: int
) -> list[AuditRow]:
    """read_page() for the command line's plain connection."""
    rows = conn.execute(READ, where.params(after_seq=after_seq, limit=limit)).fetchall()
    return [AuditRow.of(row) for row in rows]


async def read_pages(
    conn: psycopg.AsyncConnection, *, where: AuditFilter
) -> AsyncIterator[list[AuditRow]]:
    """Every event matching ``where``, in seq order, in pages of 1000."""
    after = 0
    while page := await read_page(conn, where=where, after_seq=after, limit=PAGE_MAX):
        yield page
        after = page[-1].seq


def read_all_sync(conn: psycopg.Connection, *, where: AuditFilter) -> Iterator[AuditRow]:
    """Every event matching ``where``, in seq order, read 1000 at a time (command line)."""
    after = 0
    while page := read_page_sync(conn, where=where, after_seq=after, limit=PAGE_MAX):
        yield from page
        after = page[-1].seq


# CSV: the columns of the table, so the chain can be checked again from the file alone ---------

CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "detail",
    "request_id",
    "client",
    "prev_hash",
    "hash",
)
CSV_BOM = "\ufeff"  # spreadsheets then read the Chinese right (as the layer exports do)


def csv_lines(rows: Iterable[AuditRow], *, header: bool = True) -> Iterator[str]:
    """CSV lines (with their line ends) of the rows: ``at`` in station time with its offset and
    microseconds, ``detail`` as the jsonb text the hash covers, hashes in hexadecimal, NULL as
    an empty field. The first line starts with a byte-order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if header:
        writer.writerow(CSV_COLUMNS)
        yield CSV_BOM + take()
    for row in rows:
        writer.writerow(
            (
                row.seq,
                row.at.astimezone(STATION_TZ).isoformat(timespec="microseconds"),
                row.actor,
                row.role,
                row.action,
                row.subject,
                row.detail,
                row.request_id,
                row.client,
                row.prev_hash,
                row.hash,
            )
        )
        yield take()


# Verifying and pruning (the owner: the command line) -------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What walking the chain found. ``problem`` is None when every row matches; otherwise
    ``bad_seq`` (and ``bad_at`` when the row exists) name the first row that does not."""

    rows: int
    first_seq: int | None
    first_at: datetime | None
    anchor: bytes | None  # the oldest row's prev_hash, trusted as the start of the chain
    anchor_record: int | None  # seq of the prune record naming the anchor, if any
    last_seq: int | None
    last_at: datetime | None
    head_seq: int
    bad_seq: int | None
    bad_at: datetime | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when the whole chain matches."""
        return self.problem is None

    def summary(self) -> str:
        """What was checked and from which anchor, in a few lines."""
        if self.first_at is None or self.last_at is None or self.anchor is None:
            return f"the audit trail is empty; its head is at seq {self.head_seq}"
        lines = [
            f"{self.rows} rows, seq {self.first_seq} ({_when(self.first_at)}) to "
            f"seq {self.last_seq} ({_when(self.last_at)}); the head is at seq {self.head_seq}"
        ]
        if self.first_seq == 1:
            lines.append("anchor: the genesis (seq 1's prev_hash, 32 zero bytes)")
        else:
            confirmed = (
                f"named by the prune record seq {self.anchor_record}"
                if self.anchor_record
                else "no prune record names it"
            )
            lines.append(
                f"anchor: seq {self.first_seq}'s prev_hash {self.anchor.hex()}, trusted as is: "
                f"the rows before it were pruned ({confirmed})"
            )
        return "\n".join(lines)

    def verdict(self) -> str:
        """One line: intact, or the first row that does not match and why."""
        if self.ok:
            return "the audit chain is intact"
        when = f" ({_when(self.bad_at)})" if self.bad_at else ""
        return f"the audit chain is broken at seq {self.bad_seq}{when}: {self.problem}"


def _when(moment: datetime) -> str:
    """A moment in station time."""
    return moment.astimezone(STATION_TZ).isoformat(timespec="microseconds")


def verify(conn: psycopg.Connection) -> VerifyResult:
    """Walk the whole chain (audit_verify): the first row that does not match, if any. When
    older months were pruned, the oldest remaining row's prev_hash is trusted as the anchor;
    the prune record that names it (its through_seq and through_hash) is looked up too."""
    row = one(conn.execute(VERIFY).fetchone(), "audit_verify")
    rows, first_seq, first_at, anchor, last_seq, last_at, head_seq, bad_seq, bad_at, problem = row
    anchor_record = None
    if first_seq is not None and first_seq > 1:
        found = conn.execute(PRUNE_RECORD, (str(first_seq - 1), bytes(anchor).hex())).fetchone()
        anchor_record = found[0] if found else None
    return VerifyResult(
        rows=rows,
        first_seq=first_seq,
        first_at=first_at,
        anchor=bytes(anchor) if anchor is not None else None,
        anchor_record=anchor_record,
        last_seq=last_seq,
        last_at=last_at,
        head_seq=head_seq,
        bad_seq=bad_seq,
        bad_at=bad_at,
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class PrunedMonth:
    """A month of the trail that was detached and dropped."""

    partition: str
    month_start: datetime
    rows: int
    through_seq: int | None
    through_hash: str | None


def prune(
    conn: psycopg.Connection, *, retention_days: int, actor: str | None = None
) -> list[PrunedMonth]:
    """Detach and drop every month of the trail that ended ``retention_days`` or more ago, in
    the connection's transaction, and record that (action audit_prune, with the newest dropped
    row's seq and hash: the anchor the oldest remaining row must carry). The rows kept are not
    touched. Less than 180 days is refused."""
    if retention_days < MIN_RETENTION_DAYS:
        raise InvalidParameter(
            f"The audit trail is kept at least {MIN_RETENTION_DAYS} days; "
            f"a retention of {retention_days} days is refused.",
            parameter="retention_days",
        )
    months = [
        PrunedMonth(
            partition=name,
            month_start=start,
            rows=rows,
            through_seq=seq,
            through_hash=bytes(digest).hex() if digest is not None else None,
        )
        for name, start, rows, seq, digest in conn.execute(PRUNE, (retention_days,)).fetchall()
    ]
    if months:
        emptied = [m for m in months if m.through_seq is not None]
        newest = max(emptied, key=lambda m: m.through_seq or 0) if emptied else None
        detail: dict[str, Any] = {
            "retention_days": retention_days,
            "months": [
                {"partition": m.partition, "from": m.month_start.isoformat(), "rows": m.rows}
                for m in months
            ],
        }
        if newest:
            detail |= {"through_seq": newest.through_seq, "through_hash": newest.through_hash}
        event = AuditEvent(
            "audit_prune", actor or cli_actor(), subject="audit_event", detail=detail
        )
        write_sync(conn, [event])
    return months
