"""Users, sign-in, sessions and tokens in PostgreSQL: the one place their SQL is written.

Every function takes an async connection; the command line runs them with asyncio.run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pyotp
from anyio import to_thread

from geo_service.accounts.credentials import (
    TOKEN_PREFIX,
    hash_password,
    new_secret,
    password_matches,
    secret_hash,
)
from geo_service.accounts.roles import DEPARTMENT_ROLES, PERSON_ROLES, Role
from geo_service.db import one
from geo_service.errors import Conflict, InvalidParameter, NotFound

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class User:
    """An account as the admin sees it (never its password hash or code secret)."""

    name: str
    role: Role
    person: str | None
    department: str | None  # the department code of a department user
    locked: bool
    locked_until: datetime | None
    removed: bool
    second_factor: bool
    created_at: datetime


@dataclass(frozen=True)
class Token:
    """An API token as its owner and the admin see it (never its secret)."""

    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    last_used_at: datetime | None


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: a session secret, or why not (for the audit trail only;
    the user is told the same thing whatever the reason)."""

    secret: str | None
    outcome: str  # signed_in, unknown_user, wrong_password, wrong_code, locked, lockout
    role: Role | None = None
    needs_code: bool = False


async def add_user(
    conn: psycopg.AsyncConnection,
    *,
    name: str,
    role: Role,
    password: str,
    person: str | None = None,
    department: str | None = None,
) -> None:
    """Create a user; a person is required for community officers, grid workers, volunteers,
    a department (its code) for a department user and for no one else."""
    if role in PERSON_ROLES and not person:
        raise InvalidParameter(
            f"A {role} account needs --person (a person code)", parameter="person"
        )
    department_id = await _department_id(conn, role=role, department=department)
    person_id = None
    if person:
        cur = await conn.execute("SELECT app_person_id(%s)", (person,))
        row = await cur.fetchone()
        if row is None or row[0] is None:
            raise NotFound(f"No person with code {person!r}", parameter="person")
        person_id = row[0]
    hashed = await to_thread.run_sync(hash_password, password)
    try:
        await conn.execute(
            """INSERT INTO app_user (name, role, person_id, department_id, password_hash)
               VALUES (%s, %s, %s, %s, %s)""",
            (name, str(role), person_id, department_id, hashed),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"A user named {name!r} exists already", parameter="name") from exc
    except psycopg.errors.CheckViolation as exc:
        raise InvalidParameter(
            "A user name is 2-64 letters, digits, '.', '_' or '-'", parameter="name"
        ) from exc


async def _department_id(
    conn: psycopg.AsyncConnection, *, role: Role, department: str | None
) -> int | None:
    """The id of a department user's department (None for the other roles); InvalidParameter
    for a department user without one or another role with one, NotFound for an unknown code,
    each naming the departments' codes."""
    if role not in DEPARTMENT_ROLES and not department:
        return None
    cur = await conn.execute("SELECT app_department_codes()")
    codes = ", ".join(one(await cur.fetchone(), "the departments")[0])
    if role not in DEPARTMENT_ROLES:
        raise InvalidParameter(
            f"Only a department account names a department, not a {role}",
            parameter="department",
        )
    if not department:
        raise InvalidParameter(
            f"A {role} account needs --department (a department code: {codes})",
            parameter="department",
        )
    cur = await conn.execute("SELECT app_department_id(%s)", (department,))
    row = await cur.fetchone()
    if row is None or row[0] is None:
        raise NotFound(
            f"No department with code {department!r}; the departments are {codes}",
            parameter="department",
        )
    return int(row[0])


async def _user_id(conn: psycopg.AsyncConnection, name: str) -> int:
    """The id of a user that has not been removed, or NotFound naming it."""
    cur = await conn.execute(
        "SELECT id FROM app_user WHERE name = %s AND removed_at IS NULL", (name,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No user named {name!r}", parameter="name")
    return int(row[0])


async def list_users(conn: psycopg.AsyncConnection) -> list[User]:
    """Every account, removed ones last."""
    cur = await conn.execute(
        """SELECT u.name, u.role, app_person_code(u.person_id),
                  app_department_code(u.department_id), u.locked, u.locked_until,
                  u.removed_at IS NOT NULL, u.totp_secret IS NOT NULL, u.created_at
           FROM app_user u
           ORDER BY u.removed_at IS NOT NULL, u.name"""
    )
    return [
        User(name, Role(role), person, department, locked, until, removed, second, created)
        for name, role, person, department, locked, until, removed, second, created in (
            await cur.fetchall()
        )
    ]


async def count_users(conn: psycopg.AsyncConnection) -> int:
    """How many accounts exist (removed ones included)."""
    cur = await conn.execute("SELECT count(*) FROM app_user")
    return int(one(await cur.fetchone(), "the number of users")[0])


async def set_locked(conn: psycopg.AsyncConnection, *, name: str, locked: bool) -> None:
    """Lock a user (their sessions end) or unlock them (also clearing a lockout)."""
    user_id = await _user_id(conn, name)
    await conn.execute(
        "UPDATE app_user SET locked = %s, locked_until = NULL, failed_sign_ins = 0 WHERE id = %s",
        (locked, user_id),
    )
    if locked:
        await _end_sessions(conn, user_id)


async def remove_user(conn: psycopg.AsyncConnection, *, name: str) -> None:
    """Remove a user: their sessions and tokens end; the row stays for the audit trail."""
    user_id = await _user_id(conn, name)
    await conn.execute("UPDATE app_user SET removed_at = now() WHERE id = %s", (user_id,))
    await _end_sessions(conn, user_id)
    await conn.execute(
        "UPDATE api_token SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )


async def reset_password(conn: psycopg.AsyncConnection, *, name: str, password: str) -> None:
    """Set a new password; the user's sessions end."""
    user_id = await _user_id(conn, name)
    hashed = await to_thread.run_sync(hash_password, password)
    await conn.execute(
        "UPDATE app_user SET password_hash = %s, failed_sign_ins = 0, locked_until = NULL "
        "WHERE id = %s",
        (hashed, user_id),
    )
    await _end_sessions(conn, user_id)


async def _end_sessions(conn: psycopg.AsyncConnection, user_id: int) -> None:
    await conn.execute(
        "UPDATE user_session SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )


async def issue_token(
    conn: psycopg.AsyncConnection, *, name: str, days: int, label: str = ""
) -> str:
    """A new API token for the user, valid ``days`` days; the secret is answered once only."""
    secret, _ = await new_token(conn, name=name, days=days, label=label)
    return secret


async def new_token(
    conn: psycopg.AsyncConnection, *, name: str, days: int, label: str = ""
) -> tuple[str, Token]:
    """A new API token for the user, valid ``days`` days: its secret (answered once only) and
    the token as its owner lists it."""
    if not 1 <= days <= 3650:
        raise InvalidParameter("A token lasts 1 to 3650 days", parameter="days")
    user_id = await _user_id(conn, name)
    secret = new_secret(TOKEN_PREFIX)
    cur = await conn.execute(
        """INSERT INTO api_token (user_id, secret_hash, label, expires_at)
           VALUES (%s, %s, %s, now() + make_interval(days => %s))
           RETURNING id, %s::text, label, created_at, expires_at, false, last_used_at""",
        (user_id, secret_hash(secret), label, days, name),
    )
    return secret, Token(*one(await cur.fetchone(), "the new token"))


async def list_tokens(conn: psycopg.AsyncConnection, *, name: str | None = None) -> list[Token]:
    """API tokens, of one user or of everyone, newest first."""
    cur = await conn.execute(
        """SELECT t.id, u.name, t.label, t.created_at, t.expires_at, t.revoked_at IS NOT NULL,
                  t.last_used_at
           FROM api_token t JOIN app_user u ON u.id = t.user_id
           WHERE %(name)s::text IS NULL OR u.name = %(name)s
           ORDER BY t.created_at DESC, t.id DESC""",
        {"name": name},
    )
    return [Token(*row) for row in await cur.fetchall()]


async def revoke_token(
    conn: psycopg.AsyncConnection, *, token_id: int, owner: str | None = None
) -> None:
    """Revoke a token (of ``owner`` only, when given: a user revoking their own)."""
    cur = await conn.execute(
        """UPDATE api_token t SET revoked_at = coalesce(t.revoked_at, now())
           FROM app_user u
           WHERE u.id = t.user_id AND t.id = %(id)s
             AND (%(owner)s::text IS NULL OR u.name = %(owner)s)
           RETURNING t.id""",
        {"id": token_id, "owner": owner},
    )
    if await cur.fetchone() is None:
        raise NotFound(f"No token {token_id}", parameter="token_id")


async def sign_in(
    conn: psycopg.AsyncConnection,
    *,
    name: str,
    password: str,
    code: str | None,
    second_factor_roles: frozenset[Role],
) -> SignIn:
    """Check a name, password and (where enrolled) one-time code; on success a new session.

    Five wrong tries in a row lock the account for 15 minutes; the count lives in PostgreSQL so
    that every worker agrees. Run inside a transaction: the row is locked while it is checked.
    """
    cur = await conn.execute(
        """SELECT id, role, password_hash, totp_secret, failed_sign_ins,
                  locked OR coalesce(locked_until > now(), false)
           FROM app_user WHERE name = %s AND removed_at IS NULL FOR UPDATE""",
        (name,),
    )
    row = await cur.fetchone()
    stored_hash = row[2] if row else None
    matches = await to_thread.run_sync(password_matches, password, stored_hash)
    if row is None:
        return SignIn(None, "unknown_user")
    user_id, role, _, totp_secret, failed, locked = row
    role = Role(role)
    if locked:
        return SignIn(None, "locked", role)
    code_ok = totp_secret is None or bool(
        code and pyotp.TOTP(totp_secret).verify(code, valid_window=1)
    )
    if matches and code_ok:
        await conn.execute(
            "UPDATE app_user SET failed_sign_ins = 0, locked_until = NULL WHERE id = %s",
            (user_id,),
        )
        secret = new_secret()
        await conn.execute(
            "INSERT INTO user_session (secret_hash, user_id, second_factor_ok) VALUES (%s, %s, %s)",
            (secret_hash(secret), user_id, totp_secret is not None),
        )
        return SignIn(secret, "signed_in", role)
    if matches and not code:  # right password, the code still to come: not a failure
        return SignIn(None, "code_needed", role, needs_code=True)
    failed += 1
    if failed >= MAX_FAILED_SIGN_INS:
        await conn.execute(
            "UPDATE app_user SET failed_sign_ins = 0, locked_until = now() + %s WHERE id = %s",
            (LOCKOUT, user_id),
        )
        return SignIn(None, "lockout", role)
    await conn.execute("UPDATE app_user SET failed_sign_ins = %s WHERE id = %s", (failed, user_id))
    return SignIn(None, "wrong_code" if matches else "wrong_password", role)


async def sign_out(conn: psycopg.AsyncConnection, *, secret: str) -> None:
    """End a browser session."""
    await conn.execute(
        "UPDATE user_session SET revoked_at = now() WHERE secret_hash = %s AND revoked_at IS NULL",
        (secret_hash(secret),),
    )


async def begin_second_factor(conn: psycopg.AsyncConnection, *, session_secret: str) -> str:
    """A new one-time-code secret for the user of this browser session, kept with the session
    (never sent back in a form) until enrol_second_factor confirms it; answered for the QR code."""
    secret = pyotp.random_base32()
    cur = await conn.execute(
        "UPDATE user_session SET pending_totp_secret = %s "
        "WHERE secret_hash = %s AND revoked_at IS NULL RETURNING 1",
        (secret, secret_hash(session_secret)),
    )
    if await cur.fetchone() is None:
        raise NotFound("No browser session to enrol a one-time code with", parameter="session")
    return secret


async def pending_second_factor(
    conn: psycopg.AsyncConnection, *, session_secret: str
) -> str | None:
    """The one-time-code secret this browser session is enrolling, if any."""
    cur = await conn.execute(
        "SELECT pending_totp_secret FROM user_session WHERE secret_hash = %s",
        (secret_hash(session_secret),),
    )
    row = await cur.fetchone()
    return None if row is None else row[0]


async def enrol_second_factor(
    conn: psycopg.AsyncConnection,
    *,
    user_id: int,
    session_secret: str | None,
    secret: str,
    code: str,
) -> bool:
    """Store a one-time-code secret once the user proved it with a code; the current session
    then counts as signed in with both factors. False when the code is wrong."""
    if not pyotp.TOTP(secret).verify(code, valid_window=1):
        return False
    await conn.execute("UPDATE app_user SET totp_secret = %s WHERE id = %s", (secret, user_id))
    if session_secret:
        await conn.execute(
            "UPDATE user_session SET second_factor_ok = true, pending_totp_secret = NULL "
            "WHERE secret_hash = %s",
            (secret_hash(session_secret),),
        )
    return True
