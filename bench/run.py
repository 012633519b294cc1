"""Benchmarks: lookup over HTTP against a trivial endpoint, batch against an in-process STRtree.

Run with `make bench` (or `python -m bench.run --scale large`). Every figure is printed as a
ratio against a baseline measured in the same run, on the same machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import shapely
from psycopg.conninfo import make_conninfo

from bench import coverage
from geo_service.db import connect, create_database, migrate
from geo_service.ingest.load import database_is_empty, load_jurisdiction
from geo_service.sample import generate_sample
from geo_service.services.batch import GridIndex, assign
from geo_service.settings import REPO_ROOT, load_settings

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def bench_database(scale: str) -> str:
    """A database holding the sample of the given scale (made and loaded on first use)."""
    settings = load_settings()
    url = make_conninfo(settings.database_url, dbname=f"geo_bench_{scale}")
    create_database(url)
    migrate(url, settings.sql_dir)
    with connect(url) as conn:
        if database_is_empty(conn):
            folder = REPO_ROOT / "var" / "bench"
            path = folder / f"fengqiao_{scale}_seed1.gpkg"
            if not path.exists():
                path = generate_sample(folder, seed=1, scale=scale, progress=True)  # type: ignore[arg-type]
            print(f"loading {path} ...", flush=True)
            load_jurisdiction(conn, path, progress=True)
    return url


def ensure_tool(command: str, package: str) -> str:
    """A command from a Debian package (wrk, ogr2ogr, ...), installed when missing."""
    if not shutil.which(command):
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False)
    if not shutil.which(command):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    return shutil.which(command) or command


def ensure_wrk() -> str:
    """wrk, the HTTP load generator."""
    return ensure_tool("wrk", "wrk")


def start_server(url: str) -> subprocess.Popen:
    """The service, as `geo-service serve` runs it, on a spare port."""
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "geo-service"), "serve", "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return wait_until_up(proc, f"{BASE}/healthz", "the service")


def wait_until_up(proc: subprocess.Popen, probe: str, name: str) -> subprocess.Popen:
    """proc once probe answers 200; a server that exits or never answers is an error."""
    for _ in range(150):
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{name} did not start: {proc.stderr.read().decode()[-2000:]}")


def run_wrk(wrk: str, path_file: Path, seconds: int) -> dict[str, float]:
    """Requests/s and p50/p99 latency (ms) with 16 connections on loopback."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % path_file)
    out = subprocess.run(
        [wrk, "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", script.name, BASE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rate,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def inside_points(url: str, n: int, seed: int) -> np.ndarray:
    """n random points inside the station (rejection sampling over its box)."""
    with connect(url) as conn:
        wkb = conn.execute("SELECT ST_AsBinary(geom) FROM station").fetchone()[0]
    town = shapely.from_wkb(bytes(wkb))
    shapely.prepare(town)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = town.bounds
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        xy = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
        found.append(xy[shapely.contains_xy(town, xy[:, 0], xy[:, 1])])
    return np.vstack(found)[:n]


def bench_lookup(url: str, seconds: int) -> None:
    """/api/v1/lookup against /ping (no database) and /ping/db (one `SELECT 1` through the
    pool: the floor under any answer that asks the database once)."""
    wrk = ensure_wrk()
    pts = inside_points(url, 10_000, 1)
    paths: dict[str, Path] = {}
    for name, lines in (
        ("trivial", ["/ping\n"]),
        ("one SQL call", ["/ping/db\n"]),
        ("lookup", [f"/api/v1/lookup?lon={x:.7f}&lat={y:.7f}\n" for x, y in pts]),
    ):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.writelines(lines)
            paths[name] = Path(f.name)
    proc = start_server(url)
    try:
        run_wrk(wrk, paths["lookup"], 3)  # warm the pool and the plans
        results = {name: run_wrk(wrk, path, seconds) for name, path in paths.items()}
    finally:
        proc.terminate()
        proc.wait()
    print("\n## Lookup over HTTP, 16 concurrent clients on loopback")
    print(f"{'endpoint':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in results.items():
        print(
            f"{name:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}"
        )
    trivial = results["trivial"]["rps"]
    print(f"ratio lookup/trivial: {results['lookup']['rps'] / trivial:.2f} (goal >= 0.6)")
    print(f"ratio one SQL call/trivial: {results['one SQL call']['rps'] / trivial:.2f} (the floor)")


def strtree_assign(grids: gpd.GeoDataFrame, beats: dict, xy: np.ndarray) -> np.ndarray:
    """Baseline: (village, grid, beat) codes by the boundary rule with an in-process STRtree."""
    codes = grids["code"].to_numpy(dtype=object)
    index = GridIndex(
        tree=shapely.STRtree(grids.geometry.values),
        grid=codes,
        village=grids["village_code"].to_numpy(dtype=object),
        beat=np.array([beats.get(c) for c in codes], dtype=object),
    )
    found = assign(index, xy[:, 0], xy[:, 1])
    inside = found >= 0
    out = np.empty((len(xy), 3), dtype=object)
    for column, values in enumerate((index.village, index.grid, index.beat)):
        out[inside, column] = values[found[inside]]
    return out


def bench_batch(url: str, n: int) -> None:
    with connect(url) as conn:
        rows = conn.execute(
            """SELECT g.code, v.code, ST_AsBinary(g.geom) FROM grid g
               JOIN village v ON v.id = g.village_id ORDER BY g.code"""
        ).fetchall()
        grids = gpd.GeoDataFrame(
            {"code": [r[0] for r in rows], "village_code": [r[1] for r in rows]},
            geometry=shapely.from_wkb([bytes(r[2]) for r in rows]),
            crs="EPSG:4326",
        )
        beats = dict(
            conn.execute(
                """SELECT g.code, b.code FROM beat_grid bg JOIN grid g ON g.id = bg.grid_id
                   JOIN beat b ON b.id = bg.beat_id WHERE bg.plan_id = plan_in_force(now())"""
            ).fetchall()
        )
    rng = np.random.default_rng(2)
    minx, miny, maxx, maxy = grids.total_bounds
    xy = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
    body = pd.DataFrame({"lon": xy[:, 0], "lat": xy[:, 1]}).to_csv(index=False).encode()

    start = time.perf_counter()
    expected = strtree_assign(grids, beats, xy)
    strtree_s = time.perf_counter() - start

    proc = start_server(url)
    try:
        start = time.perf_counter()
        lines = 0
        with httpx.stream(
            "POST",
            f"{BASE}/api/v1/lookup/batch",
            content=body,
            headers={"content-type": "text/csv"},
            timeout=600,
        ) as reply:
            reply.raise_for_status()
            text = b"".join(reply.iter_bytes())
        service_s = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()
    got = pd.read_csv(pd.io.common.BytesIO(text), dtype=str, keep_default_na=False)
    lines = len(got)
    want = np.where(pd.isna(expected), "", expected)
    columns = ["village_code", "grid_code", "beat_code"]
    agree = (got[columns].to_numpy() == want).all(axis=1).mean()
    print(f"\n## Batch assignment of {n:,} points ({len(grids):,} grids)")
    print(f"{'method':<34}{'seconds':>10}{'points/s':>12}")
    print(f"{'in-process shapely STRtree':<34}{strtree_s:>10.2f}{n / strtree_s:>12.0f}")
    print(f"{'POST /api/v1/lookup/batch (CSV)':<34}{service_s:>10.2f}{lines / service_s:>12.0f}")
    print(
        f"ratio service/STRtree: {strtree_s / service_s:.2f} (goal >= 0.5); agreement {agree:.4%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "large"], default="small")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["lookup", "batch", "coverage", "maps", "import", "ogc"])
    args = parser.parse_args()
    url = bench_database(args.scale)
    print(f"machine: {os.cpu_count()} cores; data: {args.scale} sample")
    if args.only in (None, "lookup"):
        bench_lookup(url, args.seconds)
    if args.only in (None, "batch"):
        bench_batch(url, args.points)
    if args.only in (None, "coverage"):
        coverage.main([])  # its own database of 7.8 M generated fixes (bench/coverage.py)
    if args.only in (None, "maps"):
        from bench import maps  # imported here: bench.maps imports this module

        maps.main(["--scale", args.scale])
    if args.only in (None, "import"):
        from bench import imports  # the large sample's grids against ogr2ogr (bench/imports.py)

        imports.main([])
    if args.only in (None, "ogc"):
        from bench.ogc import bench_ogc  # OGC items against tipg (bench/ogc.py)

        bench_ogc(url, args.seconds)


if __name__ == "__main__":
    main()
