"""The cast of the access tests: one user of each role (person-bound ones tied to sample people
with assignments in force), their tokens, and the areas their assignments give them, read from
the assignment table as the operator."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import psycopg
from psycopg import sql

from geo_service.accounts import store
from geo_service.accounts.credentials import new_password
from geo_service.accounts.roles import Role
from tests.accounts import DEPARTMENT, PASSWORD, PERSON_ROLE_OF, make_user, person_with_role

# The password of every cast member (they sign in through the login form with it).
CAST_PASSWORD = PASSWORD
# The department of the cast's department user (the reports of category help are routed to it).
CAST_DEPARTMENT = DEPARTMENT


@dataclass(frozen=True)
class Member:
    """A user of the cast: name, role, an API token, the person the account is tied to."""

    role: Role
    name: str
    token: str
    person: str | None

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the member's token."""
        return {"Authorization": f"Bearer {self.token}"}


def make_member(database_url: str, role: Role, *, person: str | None = None) -> Member:
    """A new user of this role with a token (a person-bound role takes the first sample person
    of that role with an assignment in force unless a person is given)."""
    if person is None and role in PERSON_ROLE_OF:
        person = person_with_role(database_url, PERSON_ROLE_OF[role])
    name = f"c_{role}_{new_password()[:8]}".replace("-", "_")
    token = make_user(database_url, role, name=name, person=person, password=CAST_PASSWORD)
    return Member(role, name, token, person)


def make_cast(database_url: str) -> dict[Role, Member]:
    """One member of each role."""
    return {role: make_member(database_url, role) for role in Role}


def areas_of(database_url: str, person: str, kind: str) -> list[str]:
    """Codes of the grids or villages (``kind``) a person is assigned to now (grid_worker
    assignments for grids, volunteer assignments for villages)."""
    role = {"grid": "grid_worker", "village": "volunteer"}[kind]
    with psycopg.connect(database_url) as conn:
        query = sql.SQL(
            """SELECT DISTINCT x.code FROM assignment a
               JOIN person p ON p.id = a.person_id
               JOIN {table} x ON x.id = a.{column}
               WHERE p.code = %s AND a.role = %s AND a.area_kind = %s AND a.validity @> now()
               ORDER BY x.code"""
        ).format(table=sql.Identifier(kind), column=sql.Identifier(f"{kind}_id"))
        rows = conn.execute(query, (person, role, kind)).fetchall()
    return [str(r[0]) for r in rows]


def token_id_of(database_url: str, name: str) -> int:
    """A new API token of a user, for a request that revokes one: its id."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await store.issue_token(conn, name=name, days=1, label="to revoke")

    asyncio.run(run())
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT max(t.id) FROM api_token t JOIN app_user u ON u.id = t.user_id "
            "WHERE u.name = %s",
            (name,),
        ).fetchone()
    assert row and row[0]
    return int(row[0])


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ (Web Mercator, rows from the top) tile holding a point."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, x, y
