"""Water bodies cut into pieces: the pieces are the outline, follow every change, and give the
lookup the same water within 200 m as shapely over the whole outlines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pyogrio
import pytest
import shapely
import shapely.affinity
from pyproj import Transformer

RADIUS_M = 200.0
AT = "2026-08-01T12:00:00+08:00"
TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def water(sample_path: Path) -> gpd.GeoDataFrame:
    """The sample's water bodies in EPSG:4549, read with pyogrio (the independent side)."""
    return pyogrio.read_dataframe(sample_path, layer="water_body").to_crs("EPSG:4549")


@pytest.fixture()
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection whose transaction is rolled back afterwards: the shared database stays."""
    with psycopg.connect(database_url) as connection:
        yield connection
        connection.rollback()


def points_near_water(
    water: gpd.GeoDataFrame, station: shapely.Geometry, n: int, seed: int
) -> np.ndarray:
    """n points (EPSG:4549) within 0-400 m of water outlines, long rivers weighted by length,
    and inside the station (where the lookup answers)."""
    rng = np.random.default_rng(seed)
    outlines = shapely.boundary(water.geometry.values)
    lengths = shapely.length(outlines)
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        which = rng.choice(len(outlines), size=n, p=lengths / lengths.sum())
        along = shapely.line_interpolate_point(
            outlines[which], rng.uniform(0, 1, n), normalized=True
        )
        xy = shapely.get_coordinates(along)
        angle = rng.uniform(0, 2 * np.pi, n)
        reach = rng.uniform(0, 400, n)
        xy = xy + np.column_stack([reach * np.cos(angle), reach * np.sin(angle)])
        found.append(xy[shapely.contains_xy(station, xy[:, 0], xy[:, 1])])
    return np.vstack(found)[:n]


def lookup_water(conn: psycopg.Connection, lon: float, lat: float) -> dict[str, float]:
    """The lookup's water bodies within RADIUS_M: code -> distance (m)."""
    row = conn.execute(
        "SELECT inside, answer FROM lookup_point(%s, %s, %s, 500, %s)", (lon, lat, AT, RADIUS_M)
    ).fetchone()
    assert row is not None and row[0], (lon, lat)
    return {w["code"]: w["distance_m"] for w in row[1]["water_bodies"]}


def compare(
    conn: psycopg.Connection, water: gpd.GeoDataFrame, points: np.ndarray
) -> tuple[int, list]:
    """How many water bodies the lookup found near the points, and every disagreement with
    shapely's distances to the whole outlines (codes within 200 m, distances to 0.1 m)."""
    found = 0
    wrong = []
    tree = shapely.STRtree(water.geometry.values)
    codes = water["code"].to_numpy()
    lons, lats = TO_WGS84.transform(points[:, 0], points[:, 1])
    for (x, y), lon, lat in zip(points, lons, lats, strict=True):
        here = shapely.Point(x, y)
        near = tree.query(here, predicate="dwithin", distance=RADIUS_M + 1)
        dist = {codes[i]: float(shapely.distance(water.geometry.values[i], here)) for i in near}
        got = lookup_water(conn, float(lon), float(lat))
        want = {c: d for c, d in dist.items() if d <= RADIUS_M - 0.01}
        unsure = {c for c, d in dist.items() if abs(d - RADIUS_M) < 0.01}
        if set(want) != set(got) - unsure or any(
            abs(got[c] - want[c]) > 0.11 for c in want if c in got
        ):
            wrong.append((lon, lat, want, got))
        found += len(got)
    return found, wrong


def station_metric(conn: psycopg.Connection) -> shapely.Geometry:
    """The station's outline in EPSG:4549, shrunk by 1 m (points stay clearly inside)."""
    wkb = conn.execute("SELECT ST_AsBinary(geom) FROM station").fetchone()[0]
    town = shapely.transform(
        shapely.from_wkb(bytes(wkb)), lambda c: np.column_stack(TO_METRIC.transform(*c.T))
    )
    return shapely.buffer(town, -1.0)


def test_pieces_cover_each_water_body_exactly(
    conn: psycopg.Connection, water: gpd.GeoDataFrame
) -> None:
    rows = conn.execute(
        """SELECT wb.code, count(*), max(ST_NPoints(wp.geom)),
                  ST_AsBinary(ST_Transform(ST_Collect(wp.geom), 4549))
           FROM water_body_piece wp JOIN water_body wb ON wb.id = wp.water_body_id
           GROUP BY wb.code ORDER BY wb.code"""
    ).fetchall()
    assert [r[0] for r in rows] == sorted(water["code"])
    outlines = dict(zip(water["code"], water.geometry, strict=True))
    for code, pieces, most_vertices, wkb in rows:
        assert most_vertices <= 64 + 1
        parts = shapely.get_parts(shapely.from_wkb(bytes(wkb)))
        assert len(parts) == pieces
        union = shapely.union_all(parts)
        outline = outlines[code]
        # same area, no overlaps: pieces' areas add up to the outline's
        assert abs(sum(shapely.area(parts)) - outline.area) < 1e-4 * outline.area + 1.0
        assert shapely.symmetric_difference(union, outline).area < 1e-4 * outline.area + 1.0
    assert sum(r[1] for r in rows) > len(rows), "long rivers should be cut into several pieces"
    assert len(rows) == len(water)


def test_lookup_water_within_200_m_agrees_with_shapely(
    conn: psycopg.Connection, water: gpd.GeoDataFrame
) -> None:
    points = points_near_water(water, station_metric(conn), 1500, seed=11)
    found, wrong = compare(conn, water, points)
    assert not wrong, f"{len(wrong)} of {len(points)} points disagree, first: {wrong[:3]}"
    assert len(points) == 1500
    assert found > 1000, "most points should have water within 200 m"


def test_pieces_follow_an_update_an_insert_and_a_delete(
    conn: psycopg.Connection, water: gpd.GeoDataFrame
) -> None:
    longest = water.loc[shapely.length(shapely.boundary(water.geometry.values)).argmax()]
    old = conn.execute(
        "SELECT count(*) FROM water_body_piece wp JOIN water_body wb ON wb.id = wp.water_body_id "
        "WHERE wb.code = %s",
        (longest["code"],),
    ).fetchone()[0]
    # move the longest river 150 m east and north (in EPSG:4549), as an edit would
    moved = shapely.affinity.translate(longest.geometry, 150.0, 150.0)
    moved_wgs84 = shapely.transform(moved, lambda c: np.column_stack(TO_WGS84.transform(*c.T)))
    conn.execute(
        "UPDATE water_body SET geom = ST_Multi(ST_GeomFromWKB(%s, 4326)) WHERE code = %s",
        (shapely.to_wkb(moved_wgs84), longest["code"]),
    )
    after = water.copy()
    after.loc[after["code"] == longest["code"], "geometry"] = moved
    pieces = conn.execute(
        "SELECT count(*) FROM water_body_piece wp JOIN water_body wb ON wb.id = wp.water_body_id "
        "WHERE wb.code = %s",
        (longest["code"],),
    ).fetchone()[0]
    assert pieces >= old > 1
    station = station_metric(conn)
    river = after[after["code"] == longest["code"]]
    points = points_near_water(river, station, 300, seed=12)
    found, wrong = compare(conn, after, points)
    assert not wrong, f"{len(wrong)} of {len(points)} points disagree after the update: {wrong[:3]}"
    assert found >= 200
    # the old outline's pieces are gone: shapely over the old outlines no longer agrees
    _, wrong_before = compare(conn, water, points)
    assert wrong_before, "the answers should have moved with the river"

    # a new pond gets its pieces; deleting it takes them away
    centre = points[0]  # inside the station, near the river
    pond = shapely.buffer(shapely.Point(*centre), 40.0, quad_segs=64)
    pond_wgs84 = shapely.transform(pond, lambda c: np.column_stack(TO_WGS84.transform(*c.T)))
    conn.execute(
        "INSERT INTO water_body (code, name, kind, geom) "
        "VALUES ('W-TEST', 'test pond', 'pond', ST_Multi(ST_GeomFromWKB(%s, 4326)))",
        (shapely.to_wkb(pond_wgs84),),
    )
    pond_id = conn.execute("SELECT id FROM water_body WHERE code = 'W-TEST'").fetchone()[0]
    count_sql = "SELECT count(*) FROM water_body_piece WHERE water_body_id = %s"
    assert conn.execute(count_sql, (pond_id,)).fetchone()[0] >= 4  # 257 vertices: 4+ pieces
    assert "W-TEST" in lookup_water(conn, *TO_WGS84.transform(*centre))
    conn.execute("DELETE FROM water_body WHERE id = %s", (pond_id,))
    assert conn.execute(count_sql, (pond_id,)).fetchone()[0] == 0
