"""Benchmark: patrol coverage per beat over a month of GENERATED fixes (30 units every 10 s,
about 7.8 million) against a bare count of distinct visited cells per beat, in the same run.

Run with `python -m bench --only coverage` (or `python -m bench.coverage`). The fixes are
generated once into the database `geo_bench_coverage` (the small sample's jurisdiction, its own
fixes replaced, whatever --scale says) and kept there for later runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import h3.api.basic_int as h3
import numpy as np
import orjson
import psycopg
import shapely
from pyproj import Transformer

from bench.harness import median_time, parser, sample_database
from geo_service.db import connect
from geo_service.moments import STATION_TZ
from geo_service.services.batch import GridIndex, assign
from geo_service.services.patrol import H3_RESOLUTION, refresh_grid_cells

START = datetime(2026, 10, 1, tzinfo=STATION_TZ)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
GOAL = 2.0
# Each unit walks in a square of this side around a point of its beat (a month of random walks
# over a whole beat would visit every cell).
PATROL_AREA_M = 2_500.0
COVERAGE_SQL = "SELECT patrol_coverage(%(start)s, %(end)s, NULL)::text"
BARE_SQL = """SELECT beat_id, count(DISTINCT h3) FROM position_fix
              WHERE recorded_at >= %(start)s AND recorded_at < %(end)s GROUP BY beat_id"""

# One position fix as PostgreSQL's binary COPY wants it: 7 fields, each with its length;
# geometry as EWKB (little-endian point with SRID 4326), timestamptz as µs since 2000-01-01.
FIX = np.dtype(
    [
        ("fields", ">i2"),
        ("l_person", ">i4"), ("person", ">i4"),
        ("l_time", ">i4"), ("time", ">i8"),
        ("l_geom", ">i4"), ("order", "u1"), ("type", "<u4"), ("srid", "<u4"),
        ("x", "<f8"), ("y", "<f8"),
        ("l_village", ">i4"), ("village", ">i4"),
        ("l_grid", ">i4"), ("grid", ">i4"),
        ("l_beat", ">i4"), ("beat", ">i4"),
        ("l_h3", ">i4"), ("h3", ">i8"),
    ]
)  # fmt: skip
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def grid_index(conn: psycopg.Connection, at: datetime) -> GridIndex:
    """Grids in code order with their ids, village ids and beat ids (plan in force at ``at``)."""
    rows = conn.execute(
        """SELECT g.id, g.village_id, coalesce(bg.beat_id, 0), ST_AsBinary(g.geom)
           FROM grid g
           LEFT JOIN beat_grid bg ON bg.grid_id = g.id AND bg.plan_id = plan_in_force(%s)
           ORDER BY g.code""",
        (at,),
    ).fetchall()
    return GridIndex(
        tree=shapely.STRtree(shapely.from_wkb([bytes(r[3]) for r in rows])),
        grid=np.array([r[0] for r in rows], dtype=np.int32),
        village=np.array([r[1] for r in rows], dtype=np.int32),
        beat=np.array([r[2] for r in rows], dtype=np.int32),
    )


def fold(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect a walk back into [low, high] (a triangle wave), so a unit stays near its beat."""
    width = high - low
    u = np.mod(values - low, 2 * width)
    return low + np.where(u <= width, u, 2 * width - u)


def walk(
    rng: np.random.Generator, start: shapely.Point, box: tuple[float, ...], steps: int, dt: int
) -> tuple[np.ndarray, np.ndarray]:
    """A patrol's positions (EPSG:4549) every dt seconds: a correlated random walk at 0–10 m/s,
    stopping now and then, reflected into its patrol area (a box)."""
    heading = np.cumsum(rng.normal(0.0, 0.35, steps))
    speed = rng.gamma(2.0, 2.0, steps) * (rng.random(steps) > 0.3)
    dx = np.concatenate([[0.0], (speed * dt * np.sin(heading))[1:]])
    dy = np.concatenate([[0.0], (speed * dt * np.cos(heading))[1:]])
    return fold(start.x + np.cumsum(dx), box[0], box[2]), fold(
        start.y + np.cumsum(dy), box[1], box[3]
    )


def unit_rows(
    index: GridIndex, person: int, x: np.ndarray, y: np.ndarray, times: np.ndarray
) -> bytes:
    """One unit's fixes as binary COPY rows; a fix that left the station keeps the last inside
    position (a patrol stays in its jurisdiction)."""
    found = assign(index, x, y)
    inside = np.where(found >= 0, np.arange(len(found)), 0)
    last = np.maximum.accumulate(inside)
    x, y, found = x[last], y[last], found[last]
    rows = np.zeros(len(x), dtype=FIX)
    rows["fields"] = 7
    rows["l_person"], rows["person"] = 4, person
    rows["l_time"], rows["time"] = 8, times
    rows["l_geom"], rows["order"], rows["type"], rows["srid"] = 25, 1, 0x20000001, 4326
    rows["x"], rows["y"] = x, y
    rows["l_village"], rows["village"] = 4, index.village[found]
    rows["l_grid"], rows["grid"] = 4, index.grid[found]
    rows["l_beat"], rows["beat"] = 4, index.beat[found]
    rows["l_h3"] = 8
    rows["h3"] = np.fromiter(
        (
            h3.latlng_to_cell(b, a, H3_RESOLUTION)
            for a, b in zip(x.tolist(), y.tolist(), strict=True)
        ),
        dtype=np.int64,
        count=len(x),
    )
    return rows.tobytes()


def generate_fixes(url: str, *, units: int, days: int, every_s: int, seed: int) -> int:
    """Replace the database's position fixes by generated ones (cached: skipped when the same
    generation is already there); returns the number of fixes."""
    marker = (
        f"{units} units x {days} days every {every_s} s from {START.isoformat()}, "
        f"{PATROL_AREA_M / 1000:g} km patrol areas, seed {seed}"
    )
    with connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_generated (what text PRIMARY KEY, fixes bigint)"
        )
        row = conn.execute(
            "SELECT fixes FROM bench_generated WHERE what = %s", (f"coverage: {marker}",)
        ).fetchone()
        if row:
            print(f"generated fixes already in the bench database: {row[0]:,} ({marker})")
            return int(row[0])
        t0 = time.perf_counter()
        index = grid_index(conn, START)
        persons = [
            r[0] for r in conn.execute("SELECT id FROM person ORDER BY id LIMIT %s", (units,))
        ]
        outlines = conn.execute(
            """SELECT ST_AsBinary(ST_Transform(geom, 4549)) FROM beat_outline
               WHERE plan_id = plan_in_force(%s) ORDER BY code""",
            (START,),
        ).fetchall()
        beats = [shapely.from_wkb(bytes(r[0])) for r in outlines]
        to_wgs84 = Transformer.from_crs(4549, 4326, always_xy=True)
        rng = np.random.default_rng(seed)
        steps = days * 86_400 // every_s
        first = int((START - PG_EPOCH).total_seconds() * 1_000_000)
        conn.execute("TRUNCATE position_fix")
        total = 0
        copy_sql = (
            "COPY position_fix (person_id, recorded_at, geom, village_id, grid_id, beat_id, h3) "
            "FROM STDIN (FORMAT binary)"
        )
        with conn.cursor().copy(copy_sql) as copy:
            copy.write(COPY_HEADER)
            for i, person in enumerate(persons):
                base = beats[i % len(beats)].representative_point()
                half = PATROL_AREA_M / 2
                area = (base.x - half, base.y - half, base.x + half, base.y + half)
                mx, my = walk(rng, base, area, steps, every_s)
                lon, lat = to_wgs84.transform(mx, my)
                offset = int(rng.integers(0, every_s)) * 1_000_000
                times = first + offset + np.arange(steps, dtype=np.int64) * every_s * 1_000_000
                copy.write(unit_rows(index, person, np.asarray(lon), np.asarray(lat), times))
                total += steps
                print(f"\r  generated and copied {total:,} fixes", end="", flush=True)
            copy.write(COPY_TRAILER)
        print()
        conn.execute(
            "INSERT INTO bench_generated (what, fixes) VALUES (%s, %s)",
            (f"coverage: {marker}", total),
        )
        conn.commit()
        print(f"generated {total:,} fixes ({marker}) in {time.perf_counter() - t0:.0f} s")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE position_fix")
    return total


async def _refresh(url: str) -> int:
    """Make sure the cached H3 cells of the grids are fresh (not part of the timing)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await refresh_grid_cells(conn)


def bench_coverage(url: str, *, repeat: int) -> None:
    """Time patrol_coverage against the bare distinct-cell count, for 30 and 7 days."""
    cells = asyncio.run(_refresh(url))
    print(f"H3 res {H3_RESOLUTION} cells of the grids: {cells:,}")
    options = "-c TimeZone=Asia/Shanghai -c jit=off"  # as the service's pool sets them
    with psycopg.connect(url, autocommit=True, options=options) as conn:
        print(f"{'window':<10}{'fixes':>12}{'bare s':>10}{'coverage s':>12}{'ratio':>8}  goal")
        for days in (30, 7):
            params = {"start": START, "end": START + timedelta(days=days)}
            n = conn.execute(
                "SELECT count(*) FROM position_fix WHERE recorded_at >= %(start)s "
                "AND recorded_at < %(end)s",
                params,
            ).fetchone()[0]
            bare_s, bare, _ = median_time(
                lambda p=params: conn.execute(BARE_SQL, p).fetchall(), repeat
            )
            cover_s, cover, _ = median_time(
                lambda p=params: conn.execute(COVERAGE_SQL, p).fetchall(), repeat
            )
            ratio = cover_s / bare_s
            verdict = "met" if ratio <= GOAL else "not met"
            print(
                f"{days:>3} days  {n:>12,}{bare_s:>10.2f}{cover_s:>12.2f}{ratio:>8.2f}  "
                f"<= {GOAL:g} ({verdict})"
            )
            visited = orjson.loads(cover[0][0])["totals"]
            print(
                f"          visited cells: bare {sum(r[1] for r in bare if r[0]):,} (by the fix's "
                f"beat), coverage {visited['visited_cells']:,} of {visited['cells']:,} "
                "(by the cell's centre)"
            )


def run(args: argparse.Namespace) -> None:
    """Generate the fixes (once) and time the coverage against the bare count."""
    url = sample_database("small", name="geo_bench_coverage")
    print("patrol coverage vs bare count(DISTINCT h3) per beat (same fixes, same run)")
    print(
        f"position fixes are GENERATED: {args.units} units, every {args.every} s, "
        f"{args.days} days from {START.date()} (random walks, each in a "
        f"{PATROL_AREA_M / 1000:g} km square of its beat)"
    )
    generate_fixes(url, units=args.units, days=args.days, every_s=args.every, seed=args.seed)
    bench_coverage(url, repeat=args.repeat)


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser, and how the fixes are generated."""
    p = parser(__doc__)
    p.add_argument("--units", type=int, default=30)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--every", type=int, default=10, help="seconds between fixes")
    p.add_argument("--seed", type=int, default=1)
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
