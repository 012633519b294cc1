"""Recommended units by road (issue 12, section 2): the sample's roads as one noded network, the
routing graph against networkx, and GET /api/v1/incidents/{call_no}/recommend against networkx
on the GeoPackage's roads, pyproj's geodesics and the assignment table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely.geometry import LineString

from geo_service.sample.roads import node_roads
from geo_service.services import recommend as recommend_service
from geo_service.services.routing import RoadGraph
from tests.reference import Reference
from tests.routing_fixtures import (
    KINDS,
    SPEEDS,
    TO_METRES,
    ReferenceRoads,
    Unit,
    add_incident,
    put_units,
)
from tests.test_rls import Context, service_url

pytest_plugins = ["tests.routing_fixtures"]
GEOD = Geod(ellps="WGS84")


# ------------------------------------------------------------------------- the sample's roads


def _ends_graph(lines: list[LineString]) -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for k, g in enumerate(lines):
        graph.add_edge(tuple(g.coords[0]), tuple(g.coords[-1]), key=k)
    return graph


def _assert_noded(lines: list[LineString]) -> None:
    """Two pieces meet only at ends of both (shapely)."""
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        ends = shapely.MultiPoint(
            [lines[i].coords[0], lines[i].coords[-1], lines[j].coords[0], lines[j].coords[-1]]
        )
        meet = shapely.intersection(lines[i], lines[j])
        assert meet.geom_type in ("Point", "MultiPoint"), (i, j, meet.geom_type)
        assert ends.buffer(1e-9).covers(meet), (i, j, meet)


def test_the_sample_roads_are_one_noded_network(sample_path: Path) -> None:
    roads = pyogrio.read_dataframe(sample_path, layer="road")
    lines = list(roads.geometry.values)
    assert len(lines) > 100
    assert nx.is_connected(_ends_graph(lines))
    _assert_noded(lines)
    # without the expressways (cars only) the network still joins everything but them
    others = [g for g, k in zip(lines, roads["kind"], strict=True) if k != "highway"]
    assert nx.is_connected(_ends_graph(others))


def test_node_roads_joins_parts_and_drops_cut_off_tracks() -> None:
    rng = np.random.default_rng(7)
    for _ in range(30):
        roads = []
        for k in range(int(rng.integers(3, 12))):
            a, b = rng.uniform(0, 1000, 2), rng.uniform(0, 1000, 2)
            kind = str(rng.choice(["main", "village", "track"]))
            roads.append((f"r{k}", kind, LineString([a, (a + b) / 2 + rng.normal(0, 50, 2), b])))
        out = node_roads(roads)
        lines = [g for _, _, g in out]
        assert nx.is_connected(_ends_graph(lines))
        _assert_noded(lines)
        # every non-track road is kept whole (its pieces cover it); only links are new
        kept = shapely.union_all(lines)
        for name, kind, g in roads:
            if kind != "track":
                assert kept.buffer(1e-6).covers(g), name


# ------------------------------------------------------------------- the graph, without a database


def _random_network(rng: np.random.Generator) -> list[tuple[str, str, LineString]]:
    """A noded random network: a jittered street grid with some pieces removed, diagonal roads,
    a loop hanging on it and a closed ring on its own; random road kinds."""
    lines = []
    n = int(rng.integers(3, 7))
    pts = np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1) * 300.0
    pts = pts + rng.normal(0, 30, pts.shape)
    for i in range(n):
        for j in range(n):
            if i + 1 < n and rng.random() < 0.85:
                lines.append(LineString([pts[i, j], pts[i + 1, j]]))
            if j + 1 < n and rng.random() < 0.85:
                lines.append(LineString([pts[i, j], pts[i, j + 1]]))
    for _ in range(int(rng.integers(0, 4))):
        a, b = rng.uniform(0, 300.0 * (n - 1), 2), rng.uniform(0, 300.0 * (n - 1), 2)
        lines.append(LineString([a, b]))
    c = pts[0, 0]
    square = np.array([(0, 0), (-100, 0), (-100, -100), (0, -100), (0, 0)], dtype=float)
    lines.append(LineString(c + square))
    lines.append(LineString([(-900, -900), (-800, -900), (-800, -800), (-900, -900)]))
    noded = shapely.get_parts(shapely.node(shapely.MultiLineString(lines)))
    kinds = rng.choice(["highway", "main", "village", "track"], len(noded), p=[0.1, 0.3, 0.3, 0.3])
    return [(f"R{k}", str(kinds[k]), g) for k, g in enumerate(noded)]


def _networkx_seconds(
    roads: list[tuple[str, str, LineString]], kind: str, origin, targets
) -> list[float | None]:
    ref = ReferenceRoads.__new__(ReferenceRoads)
    ref.codes = [c for c, _, _ in roads]
    ref.kinds = [k for _, k, _ in roads]
    ref.lines = [g for _, _, g in roads]
    return ref.seconds(kind, origin, targets)


def test_road_graph_equals_networkx_on_random_networks() -> None:
    """Junction compression, parallel chains, loops, mixed kinds, snapping: 200 random networks
    with random points, each unit kind."""
    rng = np.random.default_rng(12)
    checked = 0
    for _ in range(200):
        roads = _random_network(rng)
        graph = RoadGraph(roads)
        lo, hi = -1000.0, 1800.0
        origin = tuple(rng.uniform(lo, hi, 2))
        points = [tuple(rng.uniform(lo, hi, 2)) for _ in range(8)]
        # points on vertices and ends of roads (ties between pieces), and on the origin's road
        for _, _, g in roads[:: max(1, len(roads) // 3)]:
            points.append(tuple(g.coords[-1]))
        points.append(origin)
        for kind in KINDS:
            got = graph.travel_seconds(origin, [(kind, p) for p in points])
            want = _networkx_seconds(roads, kind, origin, points)
            for g, w in zip(got, want, strict=True):
                if w is None:
                    assert g is None
                else:
                    assert g is not None and abs(g - w) <= 1e-6 * max(1.0, w), (kind, g, w)
                    checked += 1
    assert checked > 5000


# ------------------------------------------------------------------------------ the endpoint


def _station_points(sample_path: Path, rng: np.random.Generator, n: int) -> np.ndarray:
    """Random lon/lat points inside the station (some far off any road)."""
    station = pyogrio.read_dataframe(sample_path, layer="station").geometry.values[0]
    minx, miny, maxx, maxy = station.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if station.contains(shapely.Point(x, y)):
            out.append((x, y))
    return np.array(out)


def _road_vertices(sample_path: Path, rng: np.random.Generator, n: int) -> np.ndarray:
    """Random vertices and ends of the sample's roads (points right on the network)."""
    roads = pyogrio.read_dataframe(sample_path, layer="road")
    coords = shapely.get_coordinates(roads.geometry.values)
    return coords[rng.choice(len(coords), n, replace=False)]


def _people(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT code FROM person WHERE role IN ('community_officer', 'auxiliary_officer') "
            "ORDER BY code"
        ).fetchall()
    return [r[0] for r in rows]


def _metres(lon: float, lat: float) -> tuple[float, float]:
    x, y = TO_METRES.transform(lon, lat)
    return float(x), float(y)


def test_road_times_equal_networkx_over_random_incidents(
    dispatcher: TestClient, routing_db: str, sample_path: Path, reference_roads: ReferenceRoads
) -> None:
    """Random incidents and units (on and off the roads, every kind): each unit's road time
    equals networkx's shortest path on the GeoPackage's roads, its distance pyproj's geodesic,
    and the list is sorted by road time."""
    rng = np.random.default_rng(2026)
    people = _people(routing_db)
    compared = 0
    for round_ in range(6):
        spots = np.vstack(
            [_station_points(sample_path, rng, 12), _road_vertices(sample_path, rng, 6)]
        )
        rng.shuffle(spots)
        units = [
            Unit(
                f"T{round_}U{k}",
                people[(7 * round_ + k) % len(people)],
                str(rng.choice(KINDS)),
                (float(x), float(y)),
            )
            for k, (x, y) in enumerate(spots)
        ]
        put_units(routing_db, dispatcher, units)
        incidents = np.vstack(
            [_station_points(sample_path, rng, 10), _road_vertices(sample_path, rng, 3)]
        )
        for i, (lon, lat) in enumerate(incidents):
            call_no = f"T{round_}I{i:03d}"
            add_incident(dispatcher, call_no, float(lon), float(lat))
            reply = dispatcher.get(f"/api/v1/incidents/{call_no}/recommend")
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["incident"]["call_no"] == call_no
            got = {u["call_sign"]: u for u in body["units"]}
            assert set(got) == {u.call_sign for u in units}
            seconds = [u["road_seconds"] for u in body["units"]]
            assert seconds == sorted(seconds, key=lambda s: (s is None, s or 0.0))
            origin = _metres(float(lon), float(lat))
            for kind in KINDS:
                mine = [u for u in units if u.kind == kind]
                if not mine:
                    continue
                want = reference_roads.seconds(
                    kind, origin, [_metres(*u.lonlat) for u in mine if u.lonlat]
                )
                for u, w in zip(mine, want, strict=True):
                    g = got[u.call_sign]
                    assert w is not None
                    assert g["road_seconds"] is not None
                    assert abs(g["road_seconds"] - w) <= 0.05 + 1e-6 * w, (u, g, w)
                    assert g["road_minutes"] == pytest.approx(g["road_seconds"] / 60, abs=0.051)
                    assert g["unit_kind"] == kind and g["person"] == u.person
                    _, _, d = GEOD.inv(lon, lat, *u.lonlat)
                    assert g["distance_m"] == pytest.approx(d, abs=0.01)
                    compared += 1
    assert compared >= 6 * 13 * 18


def test_the_beats_own_units(
    dispatcher: TestClient, routing_db: str, sample_path: Path, reference: Reference
) -> None:
    """own_beat is true exactly for units whose person the assignment table gives the
    incident's beat (plan in force now) now."""
    now = datetime.now(UTC)
    assignment = pyogrio.read_dataframe(sample_path, layer="assignment", read_geometry=False)
    assignment["valid_from"] = pd.to_datetime(assignment["valid_from"], utc=True)
    assignment["valid_to"] = pd.to_datetime(assignment["valid_to"], utc=True)
    live = assignment[
        (assignment["area_kind"] == "beat")
        & (assignment["valid_from"] <= now)
        & (assignment["valid_to"].isna() | (assignment["valid_to"] > now))
    ]
    plan = reference.plan_at(now.isoformat())
    rng = np.random.default_rng(5)
    people = _people(routing_db)
    points = _station_points(sample_path, rng, 40)
    located = reference.locate(shapely.points(points), now.isoformat())
    seen_own = 0
    for i, ((lon, lat), where) in enumerate(zip(points, located, strict=True)):
        if where is None or where[2] is None:
            continue
        beat = where[2]
        theirs = sorted(
            set(live[(live["area_code"] == beat) & (live["plan_code"] == plan)]["person_code"])
        )
        others = [p for p in people if p not in theirs]
        chosen = theirs[:2] + [others[int(k)] for k in rng.choice(len(others), 3, replace=False)]
        units = [
            Unit(f"B{i}U{k}", person, "car", (float(lon) + 0.001 * k, float(lat)))
            for k, person in enumerate(chosen)
        ]
        put_units(routing_db, dispatcher, units)
        call_no = f"B{i:03d}"
        add_incident(dispatcher, call_no, float(lon), float(lat))
        body = dispatcher.get(f"/api/v1/incidents/{call_no}/recommend").json()
        assert body["incident"]["beat"] == beat
        own = {u["person"]: u["own_beat"] for u in body["units"]}
        assert own == {p: p in theirs for p in chosen}
        seen_own += sum(own.values())
    assert seen_own >= 10


def test_only_units_on_duty_and_available(dispatcher: TestClient, routing_db: str, sample_path):
    """A unit off its shift or dispatched is not listed; one with no position is, last, with no
    road time or distance."""
    rng = np.random.default_rng(9)
    (lon, lat), *spots = _station_points(sample_path, rng, 6)
    people = _people(routing_db)
    add_incident(dispatcher, "D001", float(lon), float(lat))
    units = [
        Unit("D1", people[0], "car", tuple(spots[0])),
        Unit("D2", people[1], "foot", tuple(spots[1])),
        Unit("D3", people[2], "car", tuple(spots[2]), on_duty=False),
        Unit("D4", people[3], "motorbike", tuple(spots[3]), status="dispatched"),
        Unit("D5", people[4], "ebike", tuple(spots[4]), status="on_scene"),
        Unit("D6", people[5], "ebike", None),
        Unit("D7", people[6], "car", None, status="off_duty"),
    ]
    put_units(routing_db, dispatcher, units, incident_call_no="D001")
    body = dispatcher.get("/api/v1/incidents/D001/recommend").json()
    assert [u["call_sign"] for u in body["units"]][-1] == "D6"
    assert {u["call_sign"] for u in body["units"]} == {"D1", "D2", "D6"}
    last = body["units"][-1]
    assert last["road_seconds"] is None and last["distance_m"] is None and last["lon"] is None


def test_unknown_call_number_is_404(dispatcher: TestClient) -> None:
    reply = dispatcher.get("/api/v1/incidents/NO-SUCH-CALL/recommend")
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["parameter"] == "call_no" and "NO-SUCH-CALL" in body["detail"]


def test_the_graph_is_kept_per_scope_and_reloaded_when_roads_change(
    dispatcher: TestClient, routing_db: str, sample_path: Path
) -> None:
    """A grid worker's context builds a graph of the roads row-level security gives them (fewer
    than the station's) and sees only the units of their grids; a new road makes the next
    answer use a new graph that has it."""
    rng = np.random.default_rng(3)
    lon, lat = _road_vertices(sample_path, rng, 1)[0]
    add_incident(dispatcher, "S001", float(lon), float(lat))
    people = _people(routing_db)
    put_units(
        routing_db, dispatcher, [Unit("S1", people[0], "car", (float(lon) + 0.002, float(lat)))]
    )
    assert dispatcher.get("/api/v1/incidents/S001/recommend").status_code == 200
    with psycopg.connect(routing_db) as conn:
        grid, village, n_roads = conn.execute(
            "SELECT i.grid_id, g.village_id, (SELECT count(*) FROM road) FROM incident i "
            "JOIN grid g ON g.id = i.grid_id WHERE call_no = 'S001'"
        ).fetchone()
    worker = Context("grid_worker", "areas", grids=(grid,), villages=(village,))

    async def as_worker() -> tuple[dict, int]:
        async with await psycopg.AsyncConnection.connect(service_url(routing_db)) as conn:
            for name, value in worker.settings().items():
                await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            answer = await recommend_service.recommend_units(
                conn, call_no="S001", at=datetime.now(UTC)
            )
            cur = await conn.execute("SELECT count(*) FROM road")
            row = await cur.fetchone()
            await conn.rollback()
            return answer, row[0] if row else -1

    answer, visible = asyncio.run(as_worker())
    scopes = {
        key[2]: graph
        for key, (_, graph) in recommend_service._GRAPHS.items()
        if key[1] == conninfo_db(routing_db)
    }
    assert (True, (), ()) in scopes
    mine = scopes[(False, (grid,), (village,))]
    assert 0 < visible < n_roads
    assert len(mine.piece_code) == visible
    assert len(scopes[(True, (), ())].piece_code) == n_roads
    # the worker's context names no people of theirs: no duty shift, so no unit, is theirs to see
    assert answer["units"] == []

    before = scopes[(True, (), ())]
    x, y = _metres(float(lon), float(lat))
    with psycopg.connect(routing_db) as conn:
        conn.execute(
            "INSERT INTO road (code, name, kind, geom) VALUES ('RTEST', 'test', 'track', "
            "ST_Transform(ST_SetSRID(ST_MakeLine(ST_MakePoint(%s, %s), ST_MakePoint(%s, %s)),"
            " 4549), 4326))",
            (x + 5000, y + 5000, x + 5100, y + 5000),
        )
    try:
        assert dispatcher.get("/api/v1/incidents/S001/recommend").status_code == 200
        after = next(
            g
            for key, (_, g) in recommend_service._GRAPHS.items()
            if key[1] == conninfo_db(routing_db) and key[2] == (True, (), ())
        )
        assert after is not before and "RTEST" in after.piece_code
    finally:
        with psycopg.connect(routing_db) as conn:
            conn.execute("DELETE FROM road WHERE code = 'RTEST'")


def conninfo_db(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]


def test_speeds_are_the_readmes() -> None:
    """The README's speed table is the one the tests use (and the code's)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    from geo_service.services.routing import SPEEDS_KMH

    assert SPEEDS_KMH == SPEEDS
    for kind, row in SPEEDS.items():
        cells = " | ".join("—" if v is None else f"{v:g}" for v in row.values())
        assert f"| {kind} | {cells} |" in readme, kind
