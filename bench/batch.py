"""Benchmark: batch assignment of a million points over HTTP against a plain shapely STRtree.

Run with `python -m bench --only batch [--scale large] [--points N]` (or
`python -m bench.batch`). The points are random in the grids' box (about a quarter outside),
plus 1 % taken from the grids' own vertices, where the boundary rule decides. The baseline is
written here, not taken from the service: an STRtree over the grids in code order, and for each
point the lowest-coded grid whose closed outline contains it. The service's answers are checked
against it point by point.
"""

from __future__ import annotations

import argparse
import io
import time

import httpx
import numpy as np
import pandas as pd
import shapely

from bench.harness import (
    BASE,
    bearer,
    bench_token,
    machine_line,
    parser,
    print_ratio,
    sample_database,
    start_service,
    stop,
)
from geo_service.db import connect

GOAL = 0.5
COLUMNS = ["village_code", "grid_code", "beat_code"]
EMPTY = ""


def grids_in_code_order(url: str) -> tuple[np.ndarray, np.ndarray]:
    """The grids' outlines and their (village, grid, beat) codes, in grid code order; the beat
    is that of the plan in force now ('' when the grid has none)."""
    with connect(url) as conn:
        rows = conn.execute(
            """SELECT v.code, g.code, coalesce(b.code, ''), ST_AsBinary(g.geom)
               FROM grid g JOIN village v ON v.id = g.village_id
               LEFT JOIN beat_grid bg ON bg.grid_id = g.id AND bg.plan_id = plan_in_force(now())
               LEFT JOIN beat b ON b.id = bg.beat_id
               ORDER BY g.code"""
        ).fetchall()
    outlines = shapely.from_wkb([bytes(r[3]) for r in rows])
    codes = np.array([r[:3] for r in rows], dtype=object)
    return outlines, codes


def strtree_codes(
    outlines: np.ndarray, codes: np.ndarray, xy: np.ndarray
) -> tuple[np.ndarray, int]:
    """Baseline: the (village, grid, beat) codes of each point ('' outside), by the boundary
    rule, with an in-process shapely STRtree; and how many points lie in two grids or more
    (where the rule decides)."""
    tree = shapely.STRtree(outlines)
    point, grid = tree.query(shapely.points(xy), predicate="intersects")
    lowest = np.full(len(xy), len(outlines))
    np.minimum.at(lowest, point, grid)  # the lowest position is the lowest code
    table = np.vstack([codes, np.full((1, 3), EMPTY, dtype=object)])
    shared = int((np.bincount(point, minlength=len(xy)) > 1).sum())
    return table[lowest], shared


def batch_points(outlines: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n points: 99 % random over the grids' box, 1 % vertices of the grids' outlines."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(outlines)
    on_edges = n // 100
    vertices = shapely.get_coordinates(outlines)
    picked = vertices[rng.integers(0, len(vertices), on_edges)]
    random = np.column_stack(
        [rng.uniform(minx, maxx, n - on_edges), rng.uniform(miny, maxy, n - on_edges)]
    )
    xy = np.vstack([random, picked])
    return xy[rng.permutation(n)]


def bench_batch(url: str, *, n: int) -> None:
    """Points/s of POST /api/v1/lookup/batch (CSV) and of the STRtree, their ratio and how
    many answers agree."""
    outlines, codes = grids_in_code_order(url)
    xy = batch_points(outlines, n, seed=2)
    body = pd.DataFrame({"lon": xy[:, 0], "lat": xy[:, 1]}).to_csv(index=False).encode()

    start = time.perf_counter()
    expected, shared = strtree_codes(outlines, codes, xy)
    strtree_s = time.perf_counter() - start

    auth = bearer(bench_token(url))  # the batch lookup is for the command room (and others)
    proc = start_service(url)
    try:
        start = time.perf_counter()
        with httpx.stream(
            "POST",
            f"{BASE}/api/v1/lookup/batch",
            content=body,
            headers={"content-type": "text/csv", **auth},
            timeout=600,
        ) as reply:
            reply.raise_for_status()
            text = b"".join(reply.iter_bytes())
        service_s = time.perf_counter() - start
    finally:
        stop(proc)
    got = pd.read_csv(io.BytesIO(text), dtype=str, keep_default_na=False)
    if len(got) != n:
        raise RuntimeError(f"the service answered {len(got):,} points of {n:,}")
    agree = (got[COLUMNS].to_numpy(dtype=object) == expected).all(axis=1)
    inside = expected[:, 1] != EMPTY
    print(f"\n## Batch assignment of {n:,} points ({len(outlines):,} grids)")
    print(f"{'method':<34}{'seconds':>10}{'points/s':>12}")
    print(f"{'shapely STRtree (in process)':<34}{strtree_s:>10.2f}{n / strtree_s:>12.0f}")
    print(f"{'POST /api/v1/lookup/batch (CSV)':<34}{service_s:>10.2f}{n / service_s:>12.0f}")
    ratio = strtree_s / service_s
    print_ratio("service/STRtree", ratio, f">= {GOAL:g}", ratio >= GOAL)
    print(
        f"agreement: {agree.sum():,} of {n:,} points ({inside.sum():,} inside, "
        f"{n // 100:,} on grid vertices, {shared:,} in two grids or more); "
        f"{n - agree.sum():,} differ"
    )


def run(args: argparse.Namespace) -> None:
    """The batch benchmark on the sample of args.scale."""
    url = sample_database(args.scale)
    print(machine_line(args.scale))
    bench_batch(url, n=args.points)


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser."""
    run(parser(__doc__).parse_args(argv))


if __name__ == "__main__":
    main()
