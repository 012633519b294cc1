"""Fixtures of the recommended-units tests: a database of their own (they write incidents,
duty shifts and unit states), a command-room client, calls and units through the desk's API,
and the independent side of the checks: the sample's roads as a networkx graph in EPSG:4549
with points split into it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
import psycopg
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database

# The speeds of the README's table (km/h; None: not allowed), written again here on purpose:
# the test does not read them from the code it checks.
SPEEDS = {
    "car": {"highway": 80.0, "main": 40.0, "village": 25.0, "track": 12.0},
    "motorbike": {"highway": None, "main": 35.0, "village": 25.0, "track": 15.0},
    "ebike": {"highway": None, "main": 20.0, "village": 18.0, "track": 12.0},
    "foot": {"highway": None, "main": 5.0, "village": 5.0, "track": 4.5},
}
KINDS = tuple(SPEEDS)
TO_METRES = Transformer.from_crs(4326, 4549, always_xy=True)


@pytest.fixture(scope="module")
def routing_db(sample_path: Path) -> Iterator[str]:
    """A database of the recommended-units tests, the sample loaded."""
    with loaded_database("geo_routing", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def dispatcher(routing_db: str) -> Iterator[TestClient]:
    """The app on that database, signed in as a command-room user."""
    token = make_user(routing_db, Role.command_room)
    with TestClient(create_app(Settings(database_url=routing_db)), headers=bearer(token)) as c:
        yield c


def add_incident(client: TestClient, call_no: str, lon: float, lat: float) -> None:
    """A call taken now at lon/lat through the desk's POST /api/v1/incidents."""
    reply = client.post(
        "/api/v1/incidents",
        json={"call_no": call_no, "lon": lon, "lat": lat, "category": "theft"},
    )
    assert reply.status_code == 201, reply.text


@dataclass(frozen=True)
class Unit:
    """A unit to put on duty: call sign, person code, kind, last position (None: none yet),
    status and whether its shift covers now."""

    call_sign: str
    person: str
    kind: str
    lonlat: tuple[float, float] | None
    status: str = "available"
    on_duty: bool = True


def put_units(
    url: str, client: TestClient, units: Sequence[Unit], incident_call_no: str | None = None
) -> None:
    """Replace every duty shift and unit state by these units: shifts written as the operator
    (as an import would), positions of the units on duty sent by POST /api/v1/positions; the
    others' state, and a status other than available (tied to the incident named), set as the
    operator."""
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM unit_state")
        conn.execute("DELETE FROM duty_shift")
        for u in units:
            person = conn.execute("SELECT id FROM person WHERE code = %s", (u.person,)).fetchone()
            assert person, u.person
            starts = now - timedelta(hours=2) if u.on_duty else now - timedelta(hours=10)
            conn.execute(
                """INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at)
                   VALUES (%s, %s, %s, %s, %s)""",
                (person[0], u.call_sign, u.kind, starts, starts + timedelta(hours=6)),
            )
    fixes = [
        {"call_sign": u.call_sign, "at": now.isoformat(), "lon": u.lonlat[0], "lat": u.lonlat[1]}
        for u in units
        if u.on_duty and u.lonlat
    ]
    if fixes:
        reply = client.post("/api/v1/positions", json={"fixes": fixes})
        assert reply.status_code in (200, 201), reply.text
    with psycopg.connect(url) as conn:
        for u in units:
            if u.on_duty and u.status == "available":
                continue  # its fix went through the API; without one it has no state yet
            lon, lat = u.lonlat if u.lonlat else (None, None)
            conn.execute(
                """INSERT INTO unit_state AS s (call_sign, person_id, status, incident_id, geom,
                                                fixed_at, grid_id)
                   SELECT %(cs)s, d.person_id, %(status)s,
                          CASE WHEN %(status)s IN ('dispatched', 'on_scene')
                               THEN (SELECT id FROM incident WHERE call_no = %(call_no)s) END,
                          p, CASE WHEN p IS NOT NULL THEN now() END,
                          CASE WHEN p IS NOT NULL THEN grid_at_point(p) END
                   FROM duty_shift d,
                        (SELECT ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)
                         AS p) q
                   WHERE d.call_sign = %(cs)s
                   ON CONFLICT ON CONSTRAINT unit_state_pkey DO UPDATE
                   SET status = excluded.status, incident_id = excluded.incident_id""",
                {
                    "cs": u.call_sign,
                    "status": u.status,
                    "call_no": incident_call_no,
                    "lon": lon,
                    "lat": lat,
                },
            )


class ReferenceRoads:
    """The sample's road layer read from the GeoPackage, in EPSG:4549 by pyproj: per unit kind
    a networkx graph of the pieces as they are (ends meeting at equal coordinates), and the
    nearest usable piece of a point by brute force."""

    def __init__(self, sample_path: Path) -> None:
        roads = pyogrio.read_dataframe(sample_path, layer="road")
        self.codes = roads["code"].tolist()
        self.kinds = roads["kind"].tolist()
        self.lines = [
            shapely.transform(g, lambda xy: np.column_stack(TO_METRES.transform(*xy.T)))
            for g in roads.geometry.values
        ]

    def seconds(
        self, kind: str, origin: tuple[float, float], targets: Sequence[tuple[float, float]]
    ) -> list[float | None]:
        """Travel seconds from origin to each target (x, y in EPSG:4549) for a unit kind: the
        points joined in a straight line (at the kind's track speed) to their nearest usable
        road, split into it there, then networkx's Dijkstra."""
        speed = {k: (None if v is None else v / 3.6) for k, v in SPEEDS[kind].items()}
        access = speed["track"]
        assert access is not None
        usable = [i for i, k in enumerate(self.kinds) if speed[k] is not None]
        lines = [self.lines[i] for i in usable]
        if not lines:
            return [None] * len(targets)
        points = [origin, *targets]
        cuts: dict[int, list[tuple[float, int]]] = {}
        graph = nx.MultiGraph()
        for n, xy in enumerate(points):
            p = shapely.Point(xy)
            best = int(np.argmin(shapely.distance(p, lines)))
            along = lines[best].project(p)
            cuts.setdefault(best, []).append((along, n))
            on = lines[best].interpolate(along)
            graph.add_edge(("point", n), ("on", n), weight=p.distance(on) / access)
        for j, line in enumerate(lines):
            v = speed[self.kinds[usable[j]]]
            assert v is not None
            ends = [tuple(line.coords[0]), tuple(line.coords[-1])]
            stops = (
                [(0.0, ends[0])]
                + [(a, ("on", n)) for a, n in sorted(cuts.get(j, []))]
                + [(line.length, ends[1])]
            )
            for (a0, u), (a1, w) in itertools.pairwise(stops):
                graph.add_edge(u, w, weight=(a1 - a0) / v)
        dist = nx.single_source_dijkstra_path_length(graph, ("point", 0), weight="weight")
        return [dist.get(("point", n)) for n in range(1, len(points))]


@pytest.fixture(scope="module")
def reference_roads(sample_path: Path) -> ReferenceRoads:
    return ReferenceRoads(sample_path)
