"""The model's invariants hold in the database after loading the sample."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pyogrio
import pytest

from geo_service.db import connect


@pytest.fixture(scope="module")
def conn(database_url: str):
    with connect(database_url) as connection:
        yield connection


def one(conn: psycopg.Connection, query: str, *args: object) -> object:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def test_villages_tile_the_station(conn: psycopg.Connection) -> None:
    gap_overlap = one(
        conn,
        """SELECT ST_Area(ST_SymDifference(s.geom, (SELECT ST_Union(geom) FROM village))::geography)
           FROM station s""",
    )
    overlap = one(
        conn,
        """SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
           FROM village a JOIN village b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)""",
    )
    assert gap_overlap < 1.0  # m²
    assert overlap < 1.0
    assert one(conn, "SELECT count(*) FROM village") == 31


def test_grids_tile_their_villages(conn: psycopg.Connection) -> None:
    worst = one(
        conn,
        """SELECT max(ST_Area(ST_SymDifference(v.geom, u.geom)::geography))
           FROM village v
           JOIN (SELECT village_id, ST_Union(geom) AS geom FROM grid GROUP BY village_id) u
             ON u.village_id = v.id""",
    )
    overlap = one(
        conn,
        """SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
           FROM grid a JOIN grid b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)""",
    )
    assert worst < 1.0
    assert overlap < 1.0
    assert 120 <= one(conn, "SELECT count(*) FROM grid") <= 200


def test_every_grid_is_in_exactly_one_beat_of_each_plan(
    conn: psycopg.Connection, sample_path: Path
) -> None:
    # the sample's plans (drafts that other tests make through the API are theirs to check)
    sample_plans = pyogrio.read_dataframe(sample_path, layer="beat_plan", read_geometry=False)
    rows = conn.execute(
        """SELECT p.code, count(bg.grid_id), (SELECT count(*) FROM grid)
           FROM beat_plan p LEFT JOIN beat_grid bg ON bg.plan_id = p.id
           WHERE p.code = ANY(%s) GROUP BY p.code""",
        (list(sample_plans["code"]),),
    ).fetchall()
    assert len(rows) >= 2
    sample_grids = pyogrio.read_info(sample_path, layer="grid")["features"]
    checked = 0
    for plan, in_beats, grids in rows:
        assert in_beats == grids == sample_grids, plan  # the key (plan, grid) forbids two beats
        checked += 1
    assert checked == pyogrio.read_info(sample_path, layer="beat_plan")["features"]


def test_every_beat_is_contiguous(conn: psycopg.Connection, sample_path: Path) -> None:
    sample_plans = pyogrio.read_dataframe(sample_path, layer="beat_plan", read_geometry=False)
    parts = conn.execute(
        """SELECT o.plan_id, o.code, ST_NumGeometries(o.geom) FROM beat_outline o
           JOIN beat_plan p ON p.id = o.plan_id WHERE p.code = ANY(%s)""",
        (list(sample_plans["code"]),),
    ).fetchall()
    assert len(parts) >= 9
    assert len(parts) == pyogrio.read_info(sample_path, layer="beat")["features"]  # every beat
    assert all(n == 1 for _, _, n in parts), [p for p in parts if p[2] != 1]


def test_events_are_stamped_when_stored(conn: psycopg.Connection) -> None:
    unstamped = one(conn, "SELECT count(*) FROM incident WHERE grid_id IS NULL OR beat_id IS NULL")
    assert unstamped == 0
    wrong = one(
        conn,
        """SELECT count(*) FROM (SELECT * FROM incident ORDER BY id LIMIT 2000) i
           WHERE i.grid_id <> grid_at_point(i.geom)
              OR i.beat_id <> (SELECT beat_id FROM beat_grid
                               WHERE plan_id = plan_in_force(i.received_at)
                                 AND grid_id = i.grid_id)""",
    )
    assert wrong == 0
    assert one(conn, "SELECT count(*) FROM position_fix WHERE grid_id IS NULL") == 0
