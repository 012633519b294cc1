"""Benchmark: publishing a beat plan from a moment with many events after it, against stamping
those events again by the import's rule.

Run with `python -m bench --only publish` (small sample by default; `--scale large`). A draft
copied from the plan in force is published from 15 days before the last position fix, so that
every incident and fix from then (about half of the patrol month) takes one of the new beats.
Ours (plan_publish, sql/functions/75_planning.sql): the events keep the grid they are stamped
with and take that grid's beat of the new plan, in one UPDATE per table over the rows of the
period only. The baseline, timed in the same run on the same data, is what publishing cost
before: the plan marked published, then restamp_events(NULL, moment) (40_import.sql), which
locates every event of the period again (areas_at: the grid by the boundary rule, the plan in
force at its time). Each run is one transaction, rolled back; both must leave every event with
the same beat. Goal: at most half the baseline's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import psycopg

from bench.harness import machine_line, parser, print_ratio, sample_database

GOAL = 0.5
# the events' beats by plan and beat code (each run makes its draft's beats with new ids)
SNAPSHOT = """SELECT md5(string_agg(e.id || ':' || coalesce(p.code || '/' || b.code, '-'), ','
                                   ORDER BY e.id))
              FROM {table} e LEFT JOIN beat b ON b.id = e.beat_id
              LEFT JOIN beat_plan p ON p.id = b.plan_id
              WHERE e.{column} >= %(start)s"""


def _moment(conn: psycopg.Connection) -> tuple[object, str]:
    row = conn.execute("SELECT max(recorded_at) FROM position_fix").fetchone()
    assert row and row[0], "the sample has no position fixes"
    plan = conn.execute("SELECT code FROM plan_at(now())").fetchone()
    assert plan, "no plan in force"
    return row[0] - timedelta(days=15), str(plan[0])


def _draft(conn: psycopg.Connection, source: str) -> None:
    conn.execute("SELECT plan_create('bench-publish', 'bench', %s)", (source,))


def ours(conn: psycopg.Connection, start: object, source: str) -> tuple[int, int]:
    _draft(conn, source)
    row = conn.execute("SELECT plan_publish('bench-publish', NULL, %s)", (start,)).fetchone()
    assert row and "restamped" in row[0], row
    stamped = row[0]["restamped"]
    return int(stamped["incidents"]), int(stamped["position_fixes"])


def baseline(conn: psycopg.Connection, start: object, source: str) -> tuple[int, int]:
    _draft(conn, source)
    conn.execute(
        """UPDATE beat_plan SET status = 'published', effective_from = %s
           WHERE code = 'bench-publish'""",
        (start,),
    )
    row = conn.execute("SELECT * FROM restamp_events(NULL, %s)", (start,)).fetchone()
    assert row
    return int(row[0]), int(row[1])


def timed(url: str, fn: Callable[..., tuple[int, int]], start: object, source: str):
    """Seconds of one run in a transaction rolled back, its counts and the events' beats."""
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        counts = fn(conn, start, source)
        seconds = time.perf_counter() - t0
        digest = tuple(
            conn.execute(SNAPSHOT.format(table=t, column=c), {"start": start}).fetchone()
            for t, c in (("incident", "received_at"), ("position_fix", "recorded_at"))
        )
        conn.rollback()
    return seconds, counts, digest


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    url = sample_database(args.scale, name=f"geo_bench_publish_{args.scale}")
    print(machine_line(args.scale))
    with psycopg.connect(url) as conn:
        start, source = _moment(conn)
    print(f"publishing a copy of {source} from {start}")
    runs: dict[str, list[float]] = {"ours": [], "baseline": []}
    results = {}
    for _ in range(max(1, args.repeat)):
        for name, fn in (("baseline", baseline), ("ours", ours)):
            seconds, counts, digest = timed(url, fn, start, source)
            runs[name].append(seconds)
            results[name] = (counts, digest)
    assert results["ours"][1] == results["baseline"][1], "the two leave different beats"
    incidents, fixes = results["ours"][0]
    print(f"events stamped with the new beats: {incidents} incidents, {fixes} position fixes")
    best = {name: min(times) for name, times in runs.items()}
    for name, seconds in best.items():
        print(f"{name}: {seconds:.2f} s (best of {len(runs[name])})")
    ratio = best["ours"] / best["baseline"]
    print_ratio("publish / restamp_events", ratio, f"<= {GOAL}", ratio <= GOAL)


if __name__ == "__main__":
    main()
