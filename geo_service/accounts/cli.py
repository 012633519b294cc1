"""geo-service user … and accounts init: users and tokens administered by the server's operator.

The commands connect with DATABASE_URL (the owner), run the store's functions in one
transaction each and write an audit event per change in that transaction, as ``cli:<os user>``.
Passwords and tokens are printed once, where the command says so, and nowhere else.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import psycopg
import typer

from geo_service import audit
from geo_service.accounts import initial, store
from geo_service.accounts.credentials import check_password_rule, new_password
from geo_service.accounts.gate import second_factor_roles
from geo_service.accounts.roles import Role
from geo_service.db import redact, translate
from geo_service.errors import DatabaseUnavailable, DomainError
from geo_service.moments import STATION_TZ
from geo_service.settings import load_settings

T = TypeVar("T")

user_app = typer.Typer(
    help="Users and their API tokens, as the server's operator (DATABASE_URL); every change "
    "goes to the audit trail as cli:<os user>.",
    no_args_is_help=True,
)
accounts_app = typer.Typer(help="The first accounts of a new database.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="User name: 2-64 letters, digits, '.', '_' or '-'.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from one line of stdin (at least 10 characters); without it a "
        "random password is made and printed once.",
    ),
]


def operator() -> str:
    """The audit trail's actor for the command line: cli:<os user>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a uid with no name (some containers)
        return f"cli:uid{os.getuid()}"


def _event(action: str, subject: str, **detail: Any) -> audit.AuditEvent:
    return audit.AuditEvent(
        action=action, actor=operator(), role=None, subject=subject, detail=detail
    )


def _fail(error: DomainError) -> NoReturn:
    typer.echo(f"error: {error.detail}", err=True)
    raise typer.Exit(code=1)


async def _connected(
    database_url: str, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]
) -> T:
    try:
        conn = await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, options=f"-c TimeZone={STATION_TZ.key}"
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to {redact(database_url)}: {' '.join(str(exc).split())} "
            "Is PostgreSQL running, and is DATABASE_URL right?"
        ) from exc
    async with conn:
        try:
            return await work(conn)
        except psycopg.Error as exc:
            raise translate(exc) from exc


def _run(work: Callable[[psycopg.AsyncConnection], Awaitable[T]], *, transaction: bool = True) -> T:
    """Run ``work`` on the operator's connection, in one transaction (unless it makes its own);
    a domain error is one line on stderr and exit 1."""

    async def in_transaction(conn: psycopg.AsyncConnection) -> T:
        async with conn.transaction():
            return await work(conn)

    try:
        return asyncio.run(
            _connected(load_settings().database_url, in_transaction if transaction else work)
        )
    except DomainError as error:
        _fail(error)


def _read_password(password_stdin: bool) -> tuple[str, bool]:
    """The password from stdin (checked before anything is stored), or a new random one; and
    whether it was made here (so must be printed once)."""
    if not password_stdin:
        return new_password(), True
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_password_rule(password)
    except DomainError as error:
        _fail(error)
    return password, False


@user_app.command("add")
def add_command(
    name: Name,
    role: Annotated[Role, typer.Option(help="What the user is at the station.")],
    person: Annotated[
        str | None,
        typer.Option(
            help="Person code whose assignments in force give the user's areas (required for "
            "community_officer, grid_worker and volunteer)."
        ),
    ] = None,
    department: Annotated[
        str | None,
        typer.Option(
            help="Department code whose reports the user answers (required for department)."
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user."""
    password, made = _read_password(password_stdin)

    async def work(conn: psycopg.AsyncConnection) -> None:
        await store.add_user(
            conn, name=name, role=role, password=password, person=person, department=department
        )
        detail = {"change": "add", "role": str(role), "person": person}
        if department:
            detail["department"] = department
        await audit.write(conn, [_event("user_admin", name, **detail)])

    _run(work)
    tied = f", person {person}" if person else ""
    tied += f", department {department}" if department else ""
    typer.echo(f"added user {name} ({role}{tied})")
    if made:
        typer.echo(f"password (shown once): {password}")


@user_app.command("password")
def password_command(name: Name, password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a user (their browser sessions end)."""
    password, made = _read_password(password_stdin)

    async def work(conn: psycopg.AsyncConnection) -> None:
        await store.reset_password(conn, name=name, password=password)
        await audit.write(conn, [_event("user_admin", name, change="password")])

    _run(work)
    typer.echo(f"new password set for {name}; their sessions ended")
    if made:
        typer.echo(f"password (shown once): {password}")


@user_app.command("token")
def token_command(
    name: Name,
    days: Annotated[
        int | None, typer.Option(help="Days it is valid (default TOKEN_DAYS, 90).")
    ] = None,
    label: Annotated[str, typer.Option(help="What it is for, e.g. 'QGIS on desk 3'.")] = "",
) -> None:
    """Issue an API token, printed once and alone on stdout (TOKEN=$(geo-service user token …))."""
    valid_days = days if days is not None else load_settings().token_days

    async def work(conn: psycopg.AsyncConnection) -> tuple[str, store.Token]:
        secret = await store.issue_token(conn, name=name, days=valid_days, label=label)
        token = (await store.list_tokens(conn, name=name))[0]  # the newest: this one
        detail = {"change": "issue", "token_id": token.id, "days": valid_days, "label": label}
        await audit.write(conn, [_event("token_admin", name, **detail)])
        return secret, token

    secret, token = _run(work)
    typer.echo(
        f"token {token.id} for {name}, valid until {_when(token.expires_at)}; shown once:",
        err=True,
    )
    typer.echo(secret)


def _set_locked(name: str, locked: bool) -> None:
    async def work(conn: psycopg.AsyncConnection) -> None:
        await store.set_locked(conn, name=name, locked=locked)
        change = "lock" if locked else "unlock"
        await audit.write(conn, [_event("user_admin", name, change=change)])

    _run(work)


@user_app.command("lock")
def lock_command(name: Name) -> None:
    """Lock a user: their sessions end, their tokens stop working until unlocked."""
    _set_locked(name, True)
    typer.echo(f"locked {name}")


@user_app.command("unlock")
def unlock_command(name: Name) -> None:
    """Unlock a user (also ending a lockout after wrong passwords)."""
    _set_locked(name, False)
    typer.echo(f"unlocked {name}")


@user_app.command("remove")
def remove_command(name: Name) -> None:
    """Remove a user: sessions and tokens end; the name stays in the audit trail."""

    async def work(conn: psycopg.AsyncConnection) -> None:
        await store.remove_user(conn, name=name)
        await audit.write(conn, [_event("user_admin", name, change="remove")])

    _run(work)
    typer.echo(f"removed {name}")


@user_app.command("list")
def list_command() -> None:
    """List the users: role, person, state, second factor, created."""
    users = _run(store.list_users)
    now = datetime.now(UTC)
    rows = [
        (
            u.name,
            str(u.role),
            u.person or (f"department {u.department}" if u.department else "-"),
            _user_state(u, now),
            "yes" if u.second_factor else "no",
            _when(u.created_at),
        )
        for u in users
    ]
    _table(("name", "role", "person", "state", "one-time code", "created"), rows)


@user_app.command("tokens")
def tokens_command(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
) -> None:
    """List API tokens (never their secrets), newest first."""

    async def work(conn: psycopg.AsyncConnection) -> list[store.Token]:
        return await store.list_tokens(conn, name=name)

    tokens = _run(work)
    now = datetime.now(UTC)
    rows = [
        (
            str(t.id),
            t.user,
            t.label or "-",
            _when(t.created_at),
            _when(t.expires_at),
            "revoked" if t.revoked else "expired" if t.expires_at <= now else "active",
            _when(t.last_used_at) if t.last_used_at else "never",
        )
        for t in tokens
    ]
    _table(("id", "user", "label", "created", "expires", "state", "last used"), rows)


@user_app.command("revoke-token")
def revoke_token_command(
    token_id: Annotated[int, typer.Argument(help="Token id, as user tokens lists it.")],
) -> None:
    """Revoke an API token."""

    async def work(conn: psycopg.AsyncConnection) -> None:
        owner = next((t.user for t in await store.list_tokens(conn) if t.id == token_id), None)
        await store.revoke_token(conn, token_id=token_id)
        subject = owner or f"token {token_id}"
        await audit.write(
            conn, [_event("token_admin", subject, change="revoke", token_id=token_id)]
        )

    _run(work)
    typer.echo(f"revoked token {token_id}")


@accounts_app.command("init")
def init_command(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="With users present, do nothing (make run).")
    ] = False,
    credentials_file: Annotated[
        Path, typer.Option(help="Where the passwords are written (mode 600, never overwritten).")
    ] = initial.DEFAULT_CREDENTIALS_FILE,
    print_passwords: Annotated[
        bool, typer.Option(help="Print the passwords too (off: only the file has them).")
    ] = True,
) -> None:
    """Make admin and one sample account per role on a database with no users.

    Each gets a random password, printed once and written to the credentials file."""
    settings = load_settings()
    try:
        second_factor = second_factor_roles(settings)
    except DomainError as error:
        _fail(error)

    async def work(conn: psycopg.AsyncConnection) -> initial.Initialised | None:
        return await initial.initialise(
            conn, path=credentials_file, actor=operator(), second_factor=second_factor
        )

    done = _run(work, transaction=False)
    if done is None:
        message = "the database has users already; no initial accounts made"
        if if_empty:
            typer.echo(message)
            return
        _fail(DomainError(message + " (geo-service user add NAME --role ROLE)"))
    typer.echo(f"Initial accounts, written to {credentials_file.resolve()} (mode 600):")
    if print_passwords:
        for line in initial.account_table(done.accounts):
            typer.echo("  " + line)
    else:
        typer.echo("  " + ", ".join(a.name for a in done.accounts))
    for line in initial.advice(done, path=credentials_file, second_factor=second_factor):
        typer.echo(line)


def _user_state(user: store.User, now: datetime) -> str:
    if user.removed:
        return "removed"
    if user.locked:
        return "locked"
    if user.locked_until and user.locked_until > now:
        return f"locked until {_when(user.locked_until)}"
    return "active"


def _when(moment: datetime) -> str:
    return moment.astimezone(STATION_TZ).strftime("%Y-%m-%d %H:%M")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns on stdout."""
    lines = [header, *rows]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for row in lines:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo(line.rstrip())
