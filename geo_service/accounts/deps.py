"""The request's signed-in user and its connection: one transaction per request, opened by
app_enter, so that PostgreSQL's row-level security knows who is asking on every path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

import psycopg
from fastapi import Depends, Request

from geo_service import audit
from geo_service.accounts.credentials import secret_hash
from geo_service.accounts.principal import Principal, Via
from geo_service.db import translate
from geo_service.errors import DomainError, Forbidden, Unauthorized
from geo_service.settings import Settings

SESSION_COOKIE = "geo_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def credential_of(request: Request) -> tuple[Via, str] | None:
    """The bearer token or session cookie the request carries (the token wins)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "token", value.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return "session", cookie
    return None


def check_origin(request: Request) -> None:
    """Refuse a state-changing request sent with the session cookie from a foreign page."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        if origin == "null":
            raise Forbidden("A request from an opaque origin may not change anything")
        return
    sent = urlsplit(origin)
    own = request.url
    if (sent.scheme, sent.netloc) != (own.scheme, own.netloc):
        raise Forbidden(
            f"A request from {sent.scheme}://{sent.netloc} may not change anything here"
        )


ENTER = "SELECT * FROM app_enter(%s, %s, %s, %s)"
EXPIRED_DETAIL = "The session or token is unknown, expired or revoked: sign in again"


def enter_params(settings: Settings, credential: tuple[Via, str]) -> tuple[object, ...]:
    """The parameters of app_enter for a credential under these settings' time-outs."""
    via, secret = credential
    return (
        via,
        secret_hash(secret),
        timedelta(minutes=settings.session_idle_minutes),
        timedelta(hours=settings.session_absolute_hours),
    )


def enter_sync(
    conn: psycopg.Connection, settings: Settings, credential: tuple[Via, str]
) -> Principal:
    """Set a request's user context on a connection of its own (a long import runs on one, off
    the pool), in the connection's current transaction; Unauthorized if no longer valid."""
    row = conn.execute(ENTER, enter_params(settings, credential)).fetchone()
    if row is None:
        raise Unauthorized(EXPIRED_DETAIL)
    return Principal.from_row(row, credential[0])


async def signed_in(request: Request) -> AsyncIterator[Principal]:
    """The signed-in user; their request's transaction, with the audit events it recorded
    written just before it commits (and a refusal written after it rolled back)."""
    credential = credential_of(request)
    if credential is None:
        raise Unauthorized("Sign in first, or send Authorization: Bearer <token>")
    via = credential[0]
    if via == "session" and request.method not in SAFE_METHODS:
        check_origin(request)
    settings = request.app.state.settings
    user: Principal | None = None
    refusal: Forbidden | None = None
    try:
        async with request.app.state.pool.connection() as conn:
            try:
                async with conn.transaction():
                    cur = await conn.execute(ENTER, enter_params(settings, credential))
                    row = await cur.fetchone()
                    if row is None:
                        raise Unauthorized(EXPIRED_DETAIL)
                    user = Principal.from_row(row, via)
                    request.state.user = user
                    request.state.conn = conn
                    yield user
                    events = audit.pending(request)
                    if events:
                        await audit.write(conn, events)
            except psycopg.Error as exc:
                error = translate(exc)
                if isinstance(error, Forbidden):
                    refusal = error
                raise error from exc
            except Forbidden as exc:
                refusal = exc
                raise
            finally:
                if refusal is not None and user is not None:
                    await _record_refusal(conn, request, user, refusal)
    except psycopg.Error as exc:
        raise translate(exc) from exc


async def _record_refusal(
    conn: psycopg.AsyncConnection, request: Request, user: Principal, refusal: DomainError
) -> None:
    """The 403 in the audit trail, in its own transaction (the request's was rolled back)."""
    event = audit.record(
        request, "refused", f"{request.method} {request.url.path}", reason=refusal.detail
    )
    async with conn.transaction():
        await audit.write(conn, [event])


Caller = Annotated[Principal, Depends(signed_in, scope="function")]


async def connection_of(request: Request, user: Caller) -> psycopg.AsyncConnection:
    """The connection of the signed-in user's request (inside their transaction)."""
    conn: psycopg.AsyncConnection = request.state.conn
    return conn


Connection = Annotated[psycopg.AsyncConnection, Depends(connection_of, scope="function")]
