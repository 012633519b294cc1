"""Fixtures of the live map's tests: a database of their own with the sample, the service served
with several workers, writers of incidents, steps and unit states (as the desk's requests write
them, one transaction each, so the log's triggers NOTIFY), and a Server-Sent Events reader."""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import psycopg
import pytest
from shapely.geometry import Point

from geo_service.accounts.roles import Role
from geo_service.cells import incident_cells
from tests.browser import serving
from tests.cast import Member, make_member
from tests.conftest import loaded_database


@pytest.fixture(scope="module")
def sample_grids(sample_path: Path) -> gpd.GeoDataFrame:
    """The sample's grids from its GeoPackage (the independent side)."""
    return gpd.read_file(sample_path, layer="grid")


@pytest.fixture(scope="module")
def leader(live_database: str) -> Member:
    """A leader of the live database (sees and takes every call)."""
    return make_member(live_database, Role.leader)


@pytest.fixture(scope="session")
def live_database(sample_path: Path) -> Iterator[str]:
    """A database of the live tests' own (they write calls): the sample loaded."""
    with loaded_database("geo_live", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def live_service(live_database: str) -> Iterator[str]:
    """The service with two workers on the live database, checking credentials every second."""
    env = {
        "STREAM_RECHECK_SECONDS": "1",
        "STREAM_HEARTBEAT_SECONDS": "2",
        "STREAM_REPLAY_MAX": "30",
    }
    with (
        tempfile.TemporaryFile() as log,
        serving(live_database, log, workers=2, env=env) as (url, _),
    ):
        yield url


# ---------------------------------------------------------------- writing what the desk writes


@dataclass(frozen=True)
class Placed:
    """An incident written for a test: its call number, point and the grid shapely puts it in."""

    call_no: str
    lon: float
    lat: float
    grid: str


def random_point_in(grid_geom: Any, rng: random.Random) -> Point:
    """A random point strictly inside a grid (rejection sampling in its bounds)."""
    west, south, east, north = grid_geom.bounds
    while True:
        p = Point(rng.uniform(west, east), rng.uniform(south, north))
        if grid_geom.contains(p) and grid_geom.boundary.distance(p) > 1e-6:
            return p


def write_incident(
    database_url: str,
    grids: gpd.GeoDataFrame,
    rng: random.Random,
    *,
    grid: str | None = None,
    category: str = "theft",
    within: psycopg.Connection | None = None,
) -> Placed:
    """A call stored as one request stores it (one transaction: the log NOTIFYs at commit), at a
    random point of a grid (random unless given), stamped with the grid shapely finds; written
    in the open transaction of ``within`` (left uncommitted) when given."""
    if within is None:
        with psycopg.connect(database_url) as conn:  # committed on leaving
            return write_incident(
                database_url, grids, rng, grid=grid, category=category, within=conn
            )
    row = grids[grids["code"] == grid].iloc[0] if grid else grids.iloc[rng.randrange(len(grids))]
    p = random_point_in(row.geometry, rng)
    found = grids[grids.contains(p)]["code"].tolist()
    assert len(found) == 1
    call_no = f"T{rng.randrange(10**12):012d}"
    cells = incident_cells(np.array([p.x]), np.array([p.y]))
    within.execute(
        """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, beat_id, h3, h3_r7, h3_r8, h3_r9)
               SELECT %s, now(), %s, 'received', ST_SetSRID(ST_MakePoint(%s, %s), 4326),
                      g.village_id, g.id,
                      (SELECT bg.beat_id FROM beat_grid bg
                       WHERE bg.grid_id = g.id AND bg.plan_id = plan_in_force(now())),
                      %s, %s, %s, %s
               FROM grid g WHERE g.code = %s""",
        (
            call_no,
            category,
            p.x,
            p.y,
            int(cells["h3"][0]),
            int(cells["h3_r7"][0]),
            int(cells["h3_r8"][0]),
            int(cells["h3_r9"][0]),
            found[0],
        ),
    )
    return Placed(call_no, p.x, p.y, found[0])


def write_step(database_url: str, call_no: str, kind: str, call_sign: str | None = None) -> None:
    """A step of an incident's timeline and its new status, in one transaction."""
    status = {"dispatch": "dispatched", "arrive": "arrived", "close": "closed"}[kind]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO incident_step (incident_id, kind, at, actor, call_sign)
               SELECT id, %s, now(), 'test', %s FROM incident WHERE call_no = %s""",
            (kind, call_sign, call_no),
        )
        conn.execute("UPDATE incident SET status = %s WHERE call_no = %s", (status, call_no))


def start_shift(database_url: str, call_sign: str, kind: str = "car") -> None:
    """A shift under this call sign from an hour ago (as the operator: shifts come by import)."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at)
               SELECT id, %s, %s, now() - interval '1 hour', now() + interval '8 hours'
               FROM person WHERE role IN ('community_officer', 'auxiliary_officer')
               ORDER BY code LIMIT 1""",
            (call_sign, kind),
        )


def write_unit(
    database_url: str,
    call_sign: str,
    *,
    status: str,
    lon: float,
    lat: float,
    call_no: str | None = None,
    shift: bool = True,
) -> None:
    """A unit's state (and a shift covering now, the first time), as the desk keeps it."""
    with psycopg.connect(database_url) as conn:
        person = conn.execute(
            "SELECT id FROM person ORDER BY id LIMIT 1 OFFSET %s", (hash(call_sign) % 20,)
        ).fetchone()
        assert person
        if shift:
            conn.execute(
                """INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at)
                   SELECT %s, %s, 'car', now() - interval '1 hour', now() + interval '8 hours'
                   WHERE NOT EXISTS (SELECT 1 FROM duty_shift WHERE call_sign = %s
                                     AND tstzrange(starts_at, ends_at) @> now())""",
                (person[0], call_sign, call_sign),
            )
        conn.execute(
            """INSERT INTO unit_state (call_sign, person_id, status, incident_id, geom, fixed_at,
                                       grid_id)
               SELECT %s, %s, %s, (SELECT id FROM incident WHERE call_no = %s), pt, now(),
                      (SELECT g.id FROM grid g WHERE ST_Intersects(g.geom, pt) LIMIT 1)
               FROM (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS pt) x
               ON CONFLICT (call_sign) DO UPDATE SET status = EXCLUDED.status,
                   incident_id = EXCLUDED.incident_id, geom = EXCLUDED.geom,
                   fixed_at = EXCLUDED.fixed_at, grid_id = EXCLUDED.grid_id,
                   updated_at = now()""",
            (call_sign, person[0], status, call_no, lon, lat),
        )


# ---------------------------------------------------------------- reading a stream


@dataclass
class Received:
    """One event a stream sent: its id, type, data and when it arrived (monotonic)."""

    id: int | None
    event: str
    data: Any
    t: float


@dataclass
class StreamReader:
    """Reads an SSE stream in a thread of its own; ``events`` grows as they arrive."""

    url: str
    headers: dict[str, str]
    events: list[Received] = field(default_factory=list)
    status: int | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    comments: int = 0

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as r:
                self.status = r.status_code
                self.opened.set()
                event, data, ident = "message", [], None
                for line in r.iter_lines():
                    if line.startswith(":"):
                        self.comments += 1
                    elif line == "":
                        if data:
                            text = "\n".join(data)
                            self.events.append(
                                Received(
                                    int(ident) if ident else None,
                                    event,
                                    json.loads(text) if text.startswith(("{", "[")) else text,
                                    time.monotonic(),
                                )
                            )
                        event, data, ident = "message", [], None
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            data.append(value)
                        elif name == "event":
                            event = value
                        elif name == "id":
                            ident = value
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def ids(self, kind: str | None = None) -> list[int]:
        """Ids of the data events received so far (of one kind, if given)."""
        return [
            e.id
            for e in list(self.events)
            if e.event == "message"
            and e.id is not None
            and (kind is None or e.data["kind"] == kind)
        ]

    def close(self) -> None:
        """Stop reading (the server sees the client go)."""
        self._client.close()
        self._thread.join(timeout=10)


def wait_for(condition: Any, *, seconds: float = 20.0, what: str = "") -> None:
    """Wait until ``condition()`` is true (polling); fail saying what did not happen."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what or condition}")
