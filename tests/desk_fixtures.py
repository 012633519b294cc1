"""Fixtures of the desk's tests (calls, timelines, units): a database of their own with the sample
loaded (they write incidents, steps and fixes, which the map tests' counts must not see), duty
shifts made as the operator, and clients of the command room and the other roles."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database

UNIT_KINDS = ("car", "motorbike", "ebike", "foot")
_numbers = itertools.count(1)


def call_no(prefix: str = "T") -> str:
    """A fresh call number."""
    return f"{prefix}{next(_numbers):07d}"


@dataclass
class As:
    """The app's client, sending one user's token."""

    client: TestClient
    token: str

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=bearer(self.token), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=bearer(self.token), **kw)


@dataclass
class Desk:
    """The desk's stage: the database, the app's clients by role and the units on duty."""

    database_url: str
    settings: Settings
    clients: dict[Role, As]
    units: list[str]  # call signs on duty now
    grids: gpd.GeoDataFrame  # the sample's grids (WGS 84)

    @staticmethod
    def call_no(prefix: str = "T") -> str:
        """A fresh call number."""
        return call_no(prefix)

    @property
    def command(self) -> As:
        """The command room's client."""
        return self.clients[Role.command_room]

    def inside_point(self, rng: random.Random) -> tuple[float, float]:
        """A random point inside a random grid (never on its border)."""
        grid = self.grids.geometry.iloc[rng.randrange(len(self.grids))]
        minx, miny, maxx, maxy = grid.bounds
        while True:
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if grid.buffer(-1e-5).contains(p):
                return p.x, p.y

    def post_call(self, **fields: object) -> dict:
        """POST a call as the command room (a fresh number and a point inside unless given)."""
        body = {"call_no": call_no(), "category": "theft", **fields}
        if "lon" not in body:
            body["lon"], body["lat"] = self.inside_point(random.Random(str(body["call_no"])))
        reply = self.command.post("/api/v1/incidents", json=body)
        assert reply.status_code == 201, reply.text
        return dict(reply.json())


def make_shifts(database_url: str, count: int, *, prefix: str = "U") -> list[str]:
    """``count`` units on duty from an hour ago for twelve hours, one per sample officer (as
    the operator); their call signs."""
    start = datetime.now(UTC) - timedelta(hours=1)
    with psycopg.connect(database_url) as conn:
        people = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM person WHERE role IN ('community_officer', 'auxiliary_officer') "
                "ORDER BY code LIMIT %s",
                (count,),
            )
        ]
        assert len(people) == count, "the sample has too few officers"
        signs = []
        for i, person in enumerate(people):
            sign = f"{prefix}{i + 1:02d}"
            conn.execute(
                "INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (person, sign, UNIT_KINDS[i % 4], start, start + timedelta(hours=12)),
            )
            signs.append(sign)
    return signs


@pytest.fixture(scope="session")
def desk(sample_path: Path) -> Iterator[Desk]:
    """A database of the desk's own with the sample, 24 units on duty and a client per role."""
    with loaded_database("geo_desk", sample_path) as url:
        settings = Settings(database_url=url)
        units = make_shifts(url, 24)
        grids = gpd.read_file(sample_path, layer="grid")
        app = create_app(settings)
        roles = (Role.command_room, Role.leader, Role.planner, Role.community_officer)
        with TestClient(app) as client:
            clients = {role: As(client, make_user(url, role)) for role in roles}
            yield Desk(url, settings, clients, units, grids)
