"""The first accounts of a new database: an admin and one sample account per role, each with a
random password, written once to a file only its owner may read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from geo_service import audit
from geo_service.accounts import store
from geo_service.accounts.credentials import new_password
from geo_service.accounts.roles import DEPARTMENT_ROLES, SECOND_FACTOR_ROLES, Role
from geo_service.errors import Conflict, InvalidParameter
from geo_service.moments import STATION_TZ

DEFAULT_CREDENTIALS_FILE = Path("var/initial-credentials.txt")

# The accounts made, in this order; each is named after its role. A person-bound account is tied
# to a person with an assignment in force in that role, over that kind of area (its scope); the
# department account to the response team (民情110), which answers help and other reports.
INITIAL_ACCOUNTS: tuple[tuple[Role, tuple[str, str] | None], ...] = (
    (Role.admin, None),
    (Role.leader, None),
    (Role.command_room, None),
    (Role.planner, None),
    (Role.community_officer, ("community_officer", "beat")),
    (Role.grid_worker, ("grid_worker", "grid")),
    (Role.volunteer, ("volunteer", "village")),
    (Role.department, None),
    (Role.auditor, None),
)
INITIAL_DEPARTMENT = "response_team"


@dataclass(frozen=True)
class InitialAccount:
    """An account made by ``accounts init``, with the password shown once."""

    name: str
    role: Role
    person: str | None
    password: str


@dataclass(frozen=True)
class Initialised:
    """What ``accounts init`` came to: the accounts made, and the roles left out for want of a
    person to tie them to (a station's own data with no volunteers yet, say)."""

    accounts: list[InitialAccount]
    skipped: list[Role]


async def person_in_force(
    conn: psycopg.AsyncConnection, *, role: str, area_kind: str
) -> str | None:
    """The code of the first person (by code) with an assignment in force in this role over this
    kind of area, or None."""
    cur = await conn.execute(
        """SELECT p.code FROM person p JOIN assignment a ON a.person_id = p.id
           WHERE a.role = %s AND a.area_kind = %s AND a.validity @> now()
           ORDER BY p.code LIMIT 1""",
        (role, area_kind),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def initialise(
    conn: psycopg.AsyncConnection,
    *,
    path: Path,
    actor: str,
    second_factor: frozenset[Role] = SECOND_FACTOR_ROLES,
) -> Initialised | None:
    """On a database with no users, make the initial accounts and write them to ``path``, in one
    transaction of its own; None (and nothing made or written) when there are users already.

    The file is created with mode 600 before anything is written to it and is never
    overwritten; when the accounts cannot be made (or committed), the file is removed again.
    """
    created = False
    try:
        async with conn.transaction():
            # new accounts made meanwhile (another init) wait for this transaction
            await conn.execute("LOCK TABLE app_user IN SHARE ROW EXCLUSIVE MODE")
            if await store.count_users(conn) > 0:
                return None
            handle = _create_private_file(path)
            created = True
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                done = await _make_accounts(conn, actor=actor)
                text = credentials_text(
                    done,
                    path=path,
                    made_at=datetime.now(STATION_TZ),
                    actor=actor,
                    second_factor=second_factor,
                )
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        if created:
            path.unlink(missing_ok=True)
        raise
    return done


async def _make_accounts(conn: psycopg.AsyncConnection, *, actor: str) -> Initialised:
    """The accounts of INITIAL_ACCOUNTS with random passwords, audited as ``actor``."""
    accounts: list[InitialAccount] = []
    skipped: list[Role] = []
    for role, tie in INITIAL_ACCOUNTS:
        person = await person_in_force(conn, role=tie[0], area_kind=tie[1]) if tie else None
        if tie and person is None:
            skipped.append(role)
            continue
        password = new_password()
        department = INITIAL_DEPARTMENT if role in DEPARTMENT_ROLES else None
        await store.add_user(
            conn,
            name=str(role),
            role=role,
            password=password,
            person=person,
            department=department,
        )
        accounts.append(InitialAccount(str(role), role, person, password))
    await audit.write(
        conn,
        [
            audit.AuditEvent(
                action="user_admin",
                actor=actor,
                role=None,
                subject=account.name,
                detail={"change": "add", "role": str(account.role), "person": account.person},
            )
            for account in accounts
        ],
    )
    return Initialised(accounts, skipped)


def _create_private_file(path: Path) -> int:
    """A new file only its owner may read and write (mode 600 from the start); an existing one
    is refused, never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise Conflict(
            f"{path} exists already: it may hold the passwords of another database. Move it "
            "away (or delete it once its passwords are changed) and run again",
            parameter="credentials_file",
        ) from exc
    except OSError as exc:
        raise InvalidParameter(
            f"Cannot create {path}: {exc.strerror}", parameter="credentials_file"
        ) from exc


def advice(
    done: Initialised, *, path: Path, second_factor: frozenset[Role] = SECOND_FACTOR_ROLES
) -> list[str]:
    """What to do with the accounts: change or remove them; who enrols a one-time code."""
    lines = [
        "Kept nowhere else: change these passwords (geo-service user password NAME) or remove the",
        f"accounts you do not need (geo-service user remove NAME), then delete {path}.",
        "Sign in at /login.",
    ]
    second = [a.name for a in done.accounts if a.role in second_factor]
    if second:
        lines[-1] += (
            f" {', '.join(second)}: enrol a one-time code at the first sign-in"
            "\n(an authenticator app; the page shows its QR code)."
        )
    if done.skipped:
        lines.append(
            "Not made, for want of a person with an assignment in force in that role: "
            + ", ".join(str(r) for r in done.skipped)
            + "\n(geo-service user add NAME --role ROLE --person CODE)."
        )
    return lines


def account_table(accounts: list[InitialAccount]) -> list[str]:
    """The accounts as aligned lines: name, role, person, password."""
    rows = [("name", "role", "person", "password")] + [
        (a.name, str(a.role), a.person or "-", a.password) for a in accounts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]


def credentials_text(
    done: Initialised,
    *,
    path: Path,
    made_at: datetime,
    actor: str,
    second_factor: frozenset[Role],
) -> str:
    """The contents of the credentials file."""
    header = [f"Initial accounts of geo-service, made {made_at:%Y-%m-%d %H:%M} by {actor}."]
    lines = advice(done, path=path, second_factor=second_factor)
    return "\n".join([*header, *lines, "", *account_table(done.accounts), ""])
