"""Benchmark: the lookup over HTTP against `/ping` (no database) and `/ping/db` (one SELECT 1),
signed in: every request carries a command-room user's bearer token (made as the operator in
the benchmark database before the run), so the lookup and `/ping/db` both pay for checking it
and for the request's context (one transaction that starts with app_enter), and the lookup for
its audit event too.

Run with `python -m bench --only lookup [--scale large] [--workers 2]` (or
`python -m bench.lookup`). wrk with 16 connections on loopback asks, in turn, for `/ping`,
`/ping/db` and lookups of 10,000 random points inside the station, from the same service
process(es) in the same run. `/ping/db` is the floor under any answer that asks the database
once; the goal is a lookup that serves at least 0.6 of its requests per second.

On a machine shared with other work the load changes from one second to the next, so the three
are measured in several short rounds (--rounds, each wrk run --seconds / --rounds long), and
each ratio is the median of the rounds' ratios: the three runs of a round are close in time.
The CPU time the service's processes and its PostgreSQL backends spend per request is measured
too; it does not depend on what else the machine is doing, and its ratio is the share of the
floor's requests per second that the lookup reaches when CPU is what limits both.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import shapely

from bench.harness import (
    CpuMeter,
    bearer,
    bench_token,
    ensure_wrk,
    machine_line,
    parser,
    path_file,
    print_ratio,
    print_wrk_table,
    run_wrk,
    sample_database,
    start_service,
    stop,
)
from geo_service.db import connect

GOAL = 0.6  # of /ping/db's requests per second


def inside_points(url: str, n: int, seed: int) -> np.ndarray:
    """n random points inside the station (rejection sampling over its box)."""
    with connect(url) as conn:
        row = conn.execute("SELECT ST_AsBinary(geom) FROM station").fetchone()
    if row is None:
        raise RuntimeError("the benchmark database holds no station")
    town = shapely.from_wkb(bytes(row[0]))
    shapely.prepare(town)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = town.bounds
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        xy = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
        found.append(xy[shapely.contains_xy(town, xy[:, 0], xy[:, 1])])
    return np.vstack(found)[:n]


def bench_lookup(
    url: str, *, seconds: int, rounds: int, workers: int = 1
) -> dict[str, dict[str, float]]:
    """Requests/s and latencies of /ping, /ping/db and the lookup (medians over the rounds);
    prints them with both ratios (medians of the rounds' ratios) and returns them."""
    wrk = ensure_wrk()
    headers = bearer(bench_token(url))  # on all three (/ping, public, does not read it)
    pts = inside_points(url, 10_000, 1)
    paths = {
        "/ping (trivial)": path_file(["/ping"]),
        "/ping/db (one SELECT 1)": path_file(["/ping/db"]),
        "/api/v1/lookup": path_file(f"/api/v1/lookup?lon={x:.7f}&lat={y:.7f}" for x, y in pts),
    }
    each = max(2, round(seconds / rounds))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    cpu = {name: [0.0, 0.0, 0.0] for name in paths}  # service s, PostgreSQL s, requests
    proc = start_service(url, workers=workers)
    try:
        warm = run_wrk(wrk, paths["/api/v1/lookup"], 3, headers)  # the pool and the plans
        if warm["non_2xx"]:
            raise RuntimeError(f"{warm['non_2xx']:.0f} lookups were refused: is the token good?")
        meter = CpuMeter(url, proc)
        for _ in range(rounds):
            for name, path in paths.items():
                meter.start()
                runs[name].append(run_wrk(wrk, path, each, headers))
                service_s, db_s = meter.stop()
                cpu[name][0] += service_s
                cpu[name][1] += db_s
                cpu[name][2] += runs[name][-1]["requests"]
    finally:
        stop(proc)
        for path in paths.values():
            path.unlink()
    results = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    trivial, floor, lookup = ([r["rps"] for r in runs[name]] for name in paths)
    to_floor = [x / f for x, f in zip(lookup, floor, strict=True)]
    to_trivial = [x / t for x, t in zip(lookup, trivial, strict=True)]
    floor_share = [f / t for f, t in zip(floor, trivial, strict=True)]
    print(
        f"\n## Lookup over HTTP, 16 concurrent clients on loopback, {workers} worker(s), "
        f"medians of {rounds} rounds of {each} s"
    )
    print_wrk_table(results)
    median = statistics.median(to_floor)
    print_ratio("lookup / (/ping/db)", median, f">= {GOAL:g}", median >= GOAL)
    print_ratio("lookup / (/ping)", statistics.median(to_trivial))
    print_ratio("(/ping/db) / (/ping), the floor", statistics.median(floor_share))
    print(f"{'CPU ms per request':<34}{'service':>10}{'PostgreSQL':>12}{'sum':>10}")
    per_request = {name: (a / n * 1e3, b / n * 1e3) for name, (a, b, n) in cpu.items()}
    for name, (a, b) in per_request.items():
        print(f"{name:<34}{a:>10.3f}{b:>12.3f}{a + b:>10.3f}")
    floor_cpu, lookup_cpu = (sum(per_request[name]) for name in list(paths)[1:])
    print_ratio("CPU per /ping/db request / CPU per lookup", floor_cpu / lookup_cpu)
    print(
        "rounds, lookup / (/ping/db): "
        + ", ".join(f"{r:.2f}" for r in to_floor)
        + "; lookup / (/ping): "
        + ", ".join(f"{r:.2f}" for r in to_trivial)
    )
    return results


def run(args: argparse.Namespace) -> None:
    """The lookup benchmark on the sample of args.scale."""
    url = sample_database(args.scale)
    print(machine_line(args.scale))
    bench_lookup(url, seconds=args.seconds, rounds=args.rounds, workers=args.workers)


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser, and --rounds."""
    p = parser(__doc__)
    p.set_defaults(seconds=30)
    p.add_argument("--rounds", type=int, default=6, help="rounds of the three endpoints")
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
