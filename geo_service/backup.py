"""Backup and restore of the whole database with pg_dump/pg_restore (custom format)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo_service.db import (
    MIGRATIONS_TABLE,
    connect,
    create_database,
    drop_database,
    migrate,
    redact,
)
from geo_service.errors import DatabaseUnavailable, DomainError, InvalidParameter

# Relations of the database's own (not of PostgreSQL, nor of an extension such as PostGIS).
OWN_RELATIONS = """
SELECT count(*)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
"""


@dataclass(frozen=True)
class Restored:
    """What a restore did: the backup's migrations (its schema version), and the newer ones
    this code applied after it."""

    migrations: list[str]
    applied: list[str]


def backup(database_url: str, path: Path) -> list[str]:
    """Write the whole database to ``path`` (pg_dump custom format); return its migrations."""
    with connect(database_url) as conn:
        migrations = _applied_migrations(conn)
    if not migrations:
        raise InvalidParameter(
            f"{redact(database_url)} holds no geo-service schema (no {MIGRATIONS_TABLE}); "
            "nothing to back up. Is DATABASE_URL right?",
            parameter="DATABASE_URL",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(
        ["pg_dump", "--format=custom", "--no-password", f"--file={path}"],
        database_url,
        what="pg_dump",
    )
    return migrations


def restore(database_url: str, path: Path, *, sql_dir: Path, force: bool = False) -> Restored:
    """Restore a backup into the database of ``database_url``, then migrate.

    Refuses a backup whose migrations this code does not know (made by a newer version), and a
    database that already holds tables unless ``force``: then it is dropped and created anew.
    A backup made by an older version is restored and migrated forward.
    """
    if not path.is_file():
        raise InvalidParameter(f"No such backup file: {path}", parameter="path")
    migrations = backup_migrations(path)
    known = {p.stem for p in (sql_dir / "migrations").glob("*.sql")}
    if not migrations:
        raise InvalidParameter(
            f"{path} is not a geo-service backup: it has no {MIGRATIONS_TABLE} rows.",
            parameter="path",
        )
    unknown = sorted(set(migrations) - known)
    if unknown:
        raise InvalidParameter(
            f"{path} was made by a newer version of geo-service: this code does not know its "
            f"migrations {', '.join(unknown)}. Restore it with that version (or a later one).",
            parameter="path",
        )
    create_database(database_url)
    if not _is_empty(database_url):
        if not force:
            raise InvalidParameter(
                f"{redact(database_url)} already holds tables; restoring would mix two "
                "databases. Restore into a new database, or give --force to drop this one and "
                "create it anew.",
                parameter="force",
            )
        drop_database(database_url)
        create_database(database_url)
    with tempfile.TemporaryDirectory(prefix="restore_") as folder:
        listing = Path(folder) / "toc.list"
        listing.write_text(_restore_list(path), encoding="utf-8")
        _run(
            [
                "pg_restore",
                "--no-password",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--use-list={listing}",
                str(path),
            ],
            database_url,
            what="pg_restore",
        )
    ran = migrate(database_url, sql_dir)  # newer migrations, and this code's SQL functions
    with connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # pg_restore brings no planner statistics
    applied = [name.removesuffix(".sql") for name in ran if name.removesuffix(".sql") in known]
    return Restored(migrations=migrations, applied=applied)


def backup_migrations(path: Path) -> list[str]:
    """The migrations recorded in a backup (its schema version), read without restoring it."""
    text = _run(
        ["pg_restore", "--data-only", f"--table={MIGRATIONS_TABLE}", "--file=-", str(path)],
        None,
        what=f"reading {path}",
    )
    versions: list[str] = []
    rows = False
    for line in text.splitlines():
        if line.startswith("COPY ") and f"{MIGRATIONS_TABLE} " in line:
            rows = True
        elif rows and line == "\\.":
            rows = False
        elif rows:
            versions.append(line.split("\t", 1)[0])
    return sorted(versions)


def _restore_list(path: Path) -> str:
    """The backup's table of contents without comments on extensions, which only their owner
    (a superuser) may set and which pg_restore would otherwise fail on."""
    toc = _run(["pg_restore", "--list", str(path)], None, what="pg_restore")
    return "".join(
        f";{line}\n" if " COMMENT - EXTENSION " in line else f"{line}\n"
        for line in toc.splitlines()
    )


def _applied_migrations(conn: psycopg.Connection) -> list[str]:
    """The migrations applied to a database (empty when it has none of the schema)."""
    row = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()
    if not row or row[0] is None:
        return []
    query = sql.SQL("SELECT version FROM {} ORDER BY version").format(
        sql.Identifier(MIGRATIONS_TABLE)
    )
    return [r[0] for r in conn.execute(query)]


def _is_empty(database_url: str) -> bool:
    """True when the database holds no tables or views of its own."""
    with connect(database_url) as conn:
        row = conn.execute(OWN_RELATIONS).fetchone()
    return bool(row and row[0] == 0)


def _run(args: list[str], database_url: str | None, *, what: str) -> str:
    """Run a PostgreSQL client program and return its output; its failure as a plain error.

    The connection goes in ``--dbname`` without the password, which travels in PGPASSWORD so
    that it shows neither in the process list nor in any message.
    """
    env = dict(os.environ)
    if database_url is not None:
        params = conninfo_to_dict(database_url)
        password = params.pop("password", None)
        if password is not None:
            env["PGPASSWORD"] = str(password)
        args = [*args, f"--dbname={make_conninfo('', **params)}"]
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise DatabaseUnavailable(
            f"{what} is not installed. On Debian: apt-get install -y postgresql-client-15"
        ) from exc
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        if database_url is not None:
            password = conninfo_to_dict(database_url).get("password")
            if password:
                message = message.replace(str(password), "****")
        raise DomainError(f"{what} failed: {message}")
    return done.stdout
