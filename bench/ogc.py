"""Benchmark: OGC API - Features items with one bbox per request, this service against tipg.

Run with `python -m bench --only ogc [--scale small|large] [--seconds N]` (or
`python -m bench.ogc`). tipg (PyPI) is installed by this benchmark into its own venv
`var/bench/tipg-venv` and serves the same `public.grid` table of the same database; both
servers run on loopback, one after the other, loaded by wrk with 16 connections, the same
random bboxes and the same limit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
from psycopg.conninfo import conninfo_to_dict

from bench.harness import (
    BASE,
    BENCH_DIR,
    PORT,
    bearer,
    bench_token,
    ensure_wrk,
    machine_line,
    parser,
    path_file,
    print_wrk_table,
    run_wrk,
    sample_database,
    start_service,
    stop,
    wait_until_up,
)
from geo_service.db import connect
from geo_service.settings import load_settings

TIPG_VENV = BENCH_DIR / "tipg-venv"
LIMIT = 100
BOXES = 5_000


def ensure_tipg() -> Path:
    """tipg and uvicorn in their own venv (tipg pins its own FastAPI/pydantic); made once."""
    python = TIPG_VENV / "bin" / "python"
    if not (TIPG_VENV / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(TIPG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "tipg", "uvicorn"], check=True)
    return TIPG_VENV / "bin" / "uvicorn"


def start_tipg(url: str, pool_size: int) -> subprocess.Popen[bytes]:
    """tipg serving only public.grid of the database at url, on the benchmark port."""
    params = conninfo_to_dict(url)
    params.setdefault("host", "127.0.0.1")
    params.setdefault("port", "5432")
    params.setdefault("user", "postgres")
    dsn = (
        f"postgresql://{params['user']}{':' + params['password'] if params.get('password') else ''}"
        f"@{params['host']}:{params['port']}/{params['dbname']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.grid"]',
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]',
        "DB_MIN_CONN_SIZE": "2",
        "DB_MAX_CONN_SIZE": str(pool_size),  # the same pool size as the service's
    }
    proc = subprocess.Popen(
        [str(ensure_tipg()), "tipg.main:app", "--host", "127.0.0.1", "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return wait_until_up(proc, f"{BASE}/collections/public.grid", "tipg")


def random_boxes(url: str, n: int, seed: int) -> np.ndarray:
    """n boxes of 0.5-2 km a side, at random inside the grids' extent."""
    with connect(url) as conn:
        minx, miny, maxx, maxy = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) AS e FROM grid) x"
        ).fetchone()
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.005, 0.02, (n, 2))
    x = rng.uniform(minx, maxx - size[:, 0])
    y = rng.uniform(miny, maxy - size[:, 1])
    return np.column_stack([x, y, x + size[:, 0], y + size[:, 1]])


def box_paths(prefix: str, boxes: np.ndarray) -> Path:
    """wrk's request paths: one bbox per request, all with the same limit."""
    return path_file(
        f"{prefix}?bbox={a:.6f},{b:.6f},{c:.6f},{d:.6f}&limit={LIMIT}" for a, b, c, d in boxes
    )


def matched(path: str, headers: dict[str, str] | None = None) -> list[int]:
    """numberMatched and the sorted feature codes of one request (to check both agree)."""
    body = httpx.get(f"{BASE}{path}", headers=headers, timeout=30).json()
    return [body["numberMatched"], *sorted(f["properties"]["code"] for f in body["features"])]


def bench_ogc(url: str, seconds: int) -> None:
    """Items requests/s of this service and of tipg on the same table, and their ratio."""
    wrk = ensure_wrk()
    ensure_tipg()
    boxes = random_boxes(url, BOXES, 3)
    ours_paths = box_paths("/ogc/collections/grid/items", boxes)
    tipg_paths = box_paths("/collections/public.grid/items", boxes)
    probes = [line.strip() for line in ours_paths.read_text().splitlines()[:20]]
    auth = bearer(bench_token(url))  # ours answers signed-in users (tipg: anyone)
    proc = start_service(url)
    try:
        ours_answers = [matched(p, auth) for p in probes]
        run_wrk(wrk, ours_paths, 3, auth)  # warm up
        ours = run_wrk(wrk, ours_paths, seconds, auth)
    finally:
        stop(proc)
    proc = start_tipg(url, load_settings().pool_max_size)
    try:
        tipg_probes = [
            p.replace("/ogc/collections/grid/", "/collections/public.grid/") for p in probes
        ]
        tipg_answers = [matched(p) for p in tipg_probes]
        run_wrk(wrk, tipg_paths, 3)
        tipg = run_wrk(wrk, tipg_paths, seconds)
    finally:
        stop(proc)
        ours_paths.unlink()
        tipg_paths.unlink()
    agree = sum(a == b for a, b in zip(ours_answers, tipg_answers, strict=True))
    with connect(url) as conn:
        grids = conn.execute("SELECT count(*) FROM grid").fetchone()[0]
    print(f"\n## OGC API - Features items, one bbox per request, limit {LIMIT}, 16 clients")
    print(f"grid table: {grids:,} grids; {BOXES:,} random boxes of 0.5-2 km")
    print_wrk_table({"tipg (public.grid)": tipg, "this service (/ogc, grid)": ours})
    print(
        f"ratio service/tipg: {ours['rps'] / tipg['rps']:.2f} (goal >= 1.0); "
        f"same features on {agree} of {len(probes)} probe boxes"
    )


def run(args: argparse.Namespace) -> None:
    """The OGC benchmark on the sample of args.scale."""
    url = sample_database(args.scale)
    print(machine_line(args.scale))
    bench_ogc(url, args.seconds)


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser."""
    run(parser(__doc__).parse_args(argv))


if __name__ == "__main__":
    main()
