"""Database access: the connection pool, migrations and the one translator of database errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from geo_service.cells import stamp_incident_cells
from geo_service.errors import (
    Conflict,
    DatabaseUnavailable,
    DomainError,
    Forbidden,
    InternalError,
    InvalidParameter,
    NotFound,
)
from geo_service.moments import STATION_TZ
from geo_service.settings import SERVICE_ROLE

MIGRATIONS_TABLE = "schema_migrations"
# Any fixed number: the advisory lock that keeps two migrations from running at once.
MIGRATION_LOCK = 72_0681_109
# What a migration needs that SQL cannot do (H3 cells: no h3 in PostgreSQL), run right after
# the migration's file in the same transaction.
MIGRATION_STEPS: dict[str, Callable[[psycopg.Connection], object]] = {
    "010_incident_cells": stamp_incident_cells,
}


def make_pool(
    database_url: str, *, min_size: int, max_size: int, timeout: float = 30.0
) -> AsyncConnectionPool:
    """An unopened async pool; the app's lifespan opens and closes it. A request waits at most
    ``timeout`` seconds for a connection, then is answered 503 (DatabaseUnavailable)."""
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # answers speak station time; short OLTP queries gain nothing from JIT compilation
        kwargs={"autocommit": True, "options": f"-c TimeZone={STATION_TZ.key} -c jit=off"},
    )


@asynccontextmanager
async def pooled(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A connection from the pool; database errors leave as domain errors."""
    try:
        async with pool.connection() as conn:
            yield conn
    except psycopg.Error as exc:
        raise translate(exc) from exc


# SQL states the SQL functions raise on purpose, with the request parameter's name in HINT.
UNKNOWN_CODE = "P0002"  # no_data_found: a code (beat, plan, village, ...) that names nothing
# insufficient_privilege with HINT 'areas': a user asking outside their areas (a 403); without
# that hint it is a missing grant, a bug
OUTSIDE_AREAS = "42501"
# A write that clashes with what is stored (a call number taken with other content, a step of a
# timeline that does not follow): a 409 naming the parameter (HINT); DETAIL, when it is a JSON
# object, gives the answer's extra fields (such as the steps allowed next).
CLASH = "GS409"
# Classes of SQL state that mean the database cannot answer now (client-side failures, such as a
# refused connection or a pool timeout, have no SQL state): connection exception, insufficient
# resources, operator intervention (shutdown, statement timeout).
UNREACHABLE = ("08", "53", "57")


def one(row: tuple[Any, ...] | None, what: str) -> tuple[Any, ...]:
    """The row a query that always answers one row gave (``cur.fetchone()``); its absence is a
    bug, an InternalError naming ``what`` was asked."""
    if row is None:
        raise InternalError(f"The database gave no row for {what}; it is logged.")
    return row


def translate(exc: psycopg.Error) -> DomainError:
    """The one place a database error becomes a domain error, by its SQL state (never its text).

    An unknown code (P0002 with HINT) is NotFound naming the parameter; a refused value (class
    22, such as invalid_parameter_value 22023 with HINT naming the parameter) and a broken rule
    of the model
    (class 23) are InvalidParameter; a database that cannot be reached is DatabaseUnavailable;
    anything else is a bug: InternalError carrying the SQL state, logged by the error handler.
    """
    state = exc.sqlstate
    message = exc.diag.message_primary or str(exc).strip()
    hint = exc.diag.message_hint
    parameter = hint if hint and hint.isidentifier() else None  # not PostgreSQL's own hints
    if state == UNKNOWN_CODE and parameter:
        return NotFound(message, parameter=parameter)
    if state == OUTSIDE_AREAS and hint == "areas":
        return Forbidden(message)
    if state == CLASH:
        return Conflict(message, parameter=parameter, **_detail_fields(exc.diag.message_detail))
    if isinstance(exc, psycopg.errors.DataError):
        return InvalidParameter(f"The database refused a value: {message}", parameter=parameter)
    if isinstance(exc, psycopg.errors.IntegrityError):
        return InvalidParameter(f"The data breaks a rule of the model: {message}")
    if isinstance(exc, psycopg.OperationalError) and (state is None or state[:2] in UNREACHABLE):
        return DatabaseUnavailable(
            f"The database could not answer: {type(exc).__name__}"
            + (f" (SQL state {state})" if state else "")
        )
    return InternalError(
        f"The database failed unexpectedly (SQL state {state or 'none'}); it is logged.",
        sqlstate=state,
    )


def _detail_fields(detail: str | None) -> dict[str, Any]:
    """The extra fields a clash's DETAIL carries as a JSON object (none when it is not one)."""
    try:
        fields = orjson.loads(detail) if detail else None
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(fields, dict):
        return {}
    return {k: v for k, v in fields.items() if k not in {"type", "title", "status", "detail"}}


@contextmanager
def connect(database_url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A plain connection for the command line (migrations, loading), closed on exit."""
    try:
        conn = psycopg.connect(database_url, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to {redact(database_url)}: {str(exc).strip()}. "
            "Is PostgreSQL running, and is DATABASE_URL right?"
        ) from exc
    with conn:
        yield conn


def redact(database_url: str) -> str:
    """The URL without its password, for messages."""
    params = conninfo_to_dict(database_url)
    params.pop("password", None)
    return make_conninfo("", **params)


def create_database(database_url: str) -> bool:
    """Create the database named in the URL when it does not exist; True if created."""
    params = conninfo_to_dict(database_url)
    name = str(params.get("dbname") or "postgres")
    admin = make_conninfo("", **{**params, "dbname": "postgres"})
    with connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(database_url: str) -> None:
    """Drop the database named in the URL (tests use throwaway databases)."""
    params = conninfo_to_dict(database_url)
    admin = make_conninfo("", **{**params, "dbname": "postgres"})
    with connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(str(params["dbname"]))
            )
        )


def migrate(database_url: str, sql_dir: Path) -> list[str]:
    """Apply new migrations in order, then re-apply every SQL function file; return what ran."""
    applied: list[str] = []
    with connect(database_url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        _require_postgis(conn)
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} "
                "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(MIGRATIONS_TABLE))
        )
        done = {
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT version FROM {}").format(sql.Identifier(MIGRATIONS_TABLE))
            )
        }
        for path in sorted((sql_dir / "migrations").glob("*.sql")):
            if path.stem in done:
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            if path.stem in MIGRATION_STEPS:
                MIGRATION_STEPS[path.stem](conn)
            conn.execute(
                sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(
                    sql.Identifier(MIGRATIONS_TABLE)
                ),
                (path.stem,),
            )
            applied.append(path.name)
        for path in sorted((sql_dir / "functions").glob("*.sql")):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    return applied


def set_service_password(database_url: str, password: SecretStr) -> None:
    """Give the service's role (geo_service_app) its password, for servers that ask for one."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(SERVICE_ROLE), sql.Literal(password.get_secret_value())
            )
        )


def _require_postgis(conn: psycopg.Connection) -> None:
    """Create the extensions the schema needs, or say plainly that PostGIS is missing."""
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
    ).fetchone()
    if not available:
        raise DatabaseUnavailable(
            "PostGIS is not installed on this PostgreSQL server. On Debian: "
            "apt-get install -y postgresql-15-postgis-3 (make run and make test do this)."
        )
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
