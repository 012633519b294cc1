"""Test accounts: users of each role tied to sample people, and their API tokens."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psycopg
from fastapi.testclient import TestClient

from geo_service.accounts import store
from geo_service.accounts.credentials import new_password
from geo_service.accounts.deps import SESSION_COOKIE
from geo_service.accounts.roles import DEPARTMENT_ROLES, PERSON_ROLES, Role

# The password of test users made with make_user (tests sign in with it through the form).
PASSWORD = "test-password-1234"

# The department a department account answers for unless another is given: the response team
# (民情110), to which the categories help and other are routed.
DEPARTMENT = "response_team"

# The sample person role each person-bound account role is tied to.
PERSON_ROLE_OF = {
    Role.community_officer: "community_officer",
    Role.grid_worker: "grid_worker",
    Role.volunteer: "volunteer",
}


def person_with_role(database_url: str, role: str, offset: int = 0) -> str:
    """The code of a sample person with an assignment in force in this role."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """SELECT DISTINCT p.code FROM person p JOIN assignment a ON a.person_id = p.id
               WHERE a.role = %s AND a.validity @> now() ORDER BY p.code OFFSET %s LIMIT 1""",
            (role, offset),
        ).fetchone()
    assert row, f"the sample has no {role} in force"
    return str(row[0])


def make_user(
    database_url: str,
    role: Role,
    *,
    name: str | None = None,
    person: str | None = None,
    password: str | None = None,
    days: int = 30,
    department: str | None = None,
) -> str:
    """Create a user (as the operator) with PASSWORD (or the one given) and answer an API token
    of theirs (a department user answers for DEPARTMENT unless another department is given)."""
    name = name or f"t_{role}_{new_password()[:6]}".replace("-", "_")
    if role in PERSON_ROLES and person is None:
        person = person_with_role(database_url, PERSON_ROLE_OF[role])
    if role in DEPARTMENT_ROLES and department is None:
        department = DEPARTMENT

    async def run() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await store.add_user(
                conn,
                name=name,
                role=role,
                password=password or PASSWORD,
                person=person,
                department=department,
            )
            return await store.issue_token(conn, name=name, days=days)

    # in a thread of its own: a test driving Chromium already runs an event loop in this one
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def sign_in(
    client: TestClient, name: str, password: str = PASSWORD, *, code: str = "", next: str = "/"
) -> str:
    """Sign in through the login form as a browser does; answer the session cookie's value
    (the client keeps it too)."""
    r = client.post(
        "/login",
        data={"name": name, "password": password, "code": code, "next": next},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return str(r.cookies[SESSION_COOKIE])
