"""Benchmark: the station's numbers (station_kpis, one call, as the service runs it: its own
role in a leader's context, row-level security on) for 30 and 90 days up to the latest
incident, against a bare scan of the same rows in the same run: the incidents of the period
and the previous one joined with their steps, which is what the figures are made of. The
floor of the stored-rows design, a bare count of those incidents' incident_kpi rows, is
printed too.

Run with `python -m bench --only kpis --scale large` (or `python -m bench.kpis`). Timelines:
the sample's own (incident_step) when it has them; otherwise GENERATED here once, in SQL, for
every incident (dispatch 0.5-3 min, arrival after a gamma-like delay, about 40 % of non-police
calls diverted, callbacks mostly satisfied) and kept in the bench database.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg

from bench.harness import machine_line, median_time, parser, print_ratio, sample_database
from geo_service.db import connect
from geo_service.settings import SERVICE_ROLE

GOAL = 2.0  # the numbers within twice a bare scan of the rows they are made of
DAYS = (30, 90)
KPIS_SQL = """SELECT level, code, current::text, previous::text, repeat_rate_change
              FROM station_kpis(%(t0)s, %(t1)s, 5, 10, 30, 7, 100)"""
BARE_SQL = """SELECT count(*), sum(extract(epoch FROM s.at)) FROM incident i
              JOIN incident_step s ON s.incident_id = i.id
              WHERE i.received_at >= %(p0)s AND i.received_at < %(t1)s"""
FLOOR_SQL = """SELECT count(*), sum(hour) FROM incident_kpi
               WHERE received_at >= %(p0)s AND received_at < %(t1)s"""
# A leader's context, as app_enter sets it for the service's role (15_accounts.sql).
LEADER = {
    "geo.user_id": "0",
    "geo.user_name": "bench_leader",
    "geo.role": "leader",
    "geo.scope": "station",
    "geo.grids": "{}",
    "geo.villages": "{}",
    "geo.own_people": "{}",
}
TIMELINES_SQL = """
CREATE TEMP TABLE draw ON COMMIT DROP AS
SELECT i.id, i.received_at AS t, i.category = 'non_police' AS np,
       random() AS r_div, random() AS r_acc, random() AS r_disp, random() AS r_arr,
       random() AS r_cb, random() AS r_ans,
       make_interval(secs => 30 + 150 * random()) AS to_dispatch,
       make_interval(secs => -150 * ln(greatest(random() * random(), 1e-9))) AS to_arrive,
       make_interval(secs => -1080 * ln(greatest(random(), 1e-9))) AS to_accept,
       make_interval(secs => 300 + 6900 * random()) AS to_close,
       make_interval(secs => 7200 + 250000 * random()) AS to_callback
FROM incident i;
INSERT INTO incident_step (incident_id, kind, at, actor, source, call_sign, result)
SELECT id, 'divert', t + to_dispatch, 'sample', 'reported', NULL, NULL
    FROM draw WHERE np AND r_div < 0.4
UNION ALL
SELECT id, 'accept', t + to_dispatch + to_accept, 'sample', 'reported', NULL, NULL
    FROM draw WHERE np AND r_div < 0.4 AND r_acc < 0.9
UNION ALL
SELECT id, 'dispatch', t + to_dispatch, 'sample', 'reported', 'U' || (id % 40), NULL
    FROM draw WHERE NOT (np AND r_div < 0.4) AND r_disp < 0.97
UNION ALL
SELECT id, 'arrive', t + to_dispatch + to_arrive, 'sample', 'reported', 'U' || (id % 40), NULL
    FROM draw WHERE NOT (np AND r_div < 0.4) AND r_disp < 0.97 AND r_arr < 0.95
UNION ALL
SELECT id, 'close', t + to_dispatch + to_arrive + to_close, 'sample', 'reported', NULL, 'done'
    FROM draw WHERE NOT (np AND r_div < 0.4) AND r_disp < 0.97 AND r_arr < 0.95
UNION ALL
SELECT id, 'callback', t + to_dispatch + to_arrive + to_close + to_callback, 'sample',
       'reported', NULL,
       CASE WHEN r_ans < 0.9 THEN 'satisfied' WHEN r_ans < 0.98 THEN 'basically_satisfied'
            ELSE 'unsatisfied' END
    FROM draw WHERE r_cb < 0.8 AND (r_disp < 0.97 AND r_arr < 0.95 OR np AND r_div < 0.4);
"""


def ensure_timelines(url: str) -> int:
    """The steps in the database: the sample's, or generated here once (see the module)."""
    with connect(url) as conn:
        steps = conn.execute("SELECT count(*) FROM incident_step").fetchone()
        if steps and steps[0]:
            return int(steps[0])
        t0 = time.perf_counter()
        conn.execute("SET LOCAL geo.bulk_load = 'on'")  # history, not the live map's news
        conn.execute("SELECT setseed(0.12)")
        conn.execute(TIMELINES_SQL)
        made = conn.execute("SELECT count(*) FROM incident_step").fetchone()
        conn.commit()
        print(f"generated {made[0] if made else 0:,} steps in {time.perf_counter() - t0:.0f} s")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE incident_step")
        conn.execute("VACUUM ANALYZE incident_kpi")
    return int(made[0]) if made else 0


def service_connection(url: str) -> psycopg.Connection:
    """A connection as the service's role with a leader's context for its transaction, set as
    the service's pool sets its sessions (station time zone, no JIT)."""
    conn = psycopg.connect(url, user=SERVICE_ROLE, options="-c TimeZone=Asia/Shanghai -c jit=off")
    for name, value in LEADER.items():
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    return conn


def period(url: str, days: int) -> tuple[datetime, datetime]:
    """The last ``days`` whole station days up to the latest incident."""
    with connect(url) as conn:
        row = conn.execute(
            "SELECT window_start, window_end FROM incident_default_window(%s)", (days,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def timed(conn: psycopg.Connection, query: str, params: dict, repeat: int) -> tuple[float, int]:
    """Median seconds of a query (after a warm-up) and the rows it answered."""

    def run() -> int:
        return len(conn.execute(query, params).fetchall())

    seconds, rows, _ = median_time(run, repeat)
    return seconds, rows


def bench_kpis(url: str, *, repeat: int) -> None:
    """Time the numbers against the bare scan for each period length."""
    with connect(url) as conn:
        incidents = conn.execute("SELECT count(*) FROM incident").fetchone()
    print(f"incidents: {incidents[0] if incidents else 0:,}; steps: {ensure_timelines(url):,}")
    print(
        f"{'days':>5}{'incidents':>11}{'kpis ms':>10}{'bare ms':>10}{'floor ms':>10}"
        f"{'ratio':>8}{'areas':>7}"
    )
    ratios: dict[int, float] = {}
    with service_connection(url) as conn:
        for days in DAYS:
            t0, t1 = period(url, days)
            params = {"t0": t0, "t1": t1, "p0": t0 - (t1 - t0)}
            count = conn.execute(
                """SELECT count(*) FROM incident
                   WHERE received_at >= %(p0)s AND received_at < %(t1)s""",
                params,
            ).fetchone()
            kpis, areas = timed(conn, KPIS_SQL, params, repeat)
            bare, _ = timed(conn, BARE_SQL, params, repeat)
            floor, _ = timed(conn, FLOOR_SQL, params, repeat)
            ratios[days] = kpis / bare
            print(
                f"{days:>5}{count[0] if count else 0:>11,}{kpis * 1000:>10.1f}"
                f"{bare * 1000:>10.1f}{floor * 1000:>10.1f}{kpis / bare:>8.2f}{areas:>7}"
            )
    for days, ratio in ratios.items():
        print_ratio(
            f"kpis {days} days / bare scan of its incidents and steps",
            ratio,
            f"<= {GOAL:g}",
            ratio <= GOAL,
        )


def stamp_cost(url: str, *, repeat: int) -> None:
    """What keeping the rows current costs a step stored live: one dispatch step inserted (and
    rolled back) with and without the stamping trigger, as the owner."""

    def one_step(conn: psycopg.Connection, incident: int, at: datetime) -> Callable[[], None]:
        def run() -> None:
            conn.execute(
                """INSERT INTO incident_step (incident_id, kind, at, actor, call_sign)
                   VALUES (%s, 'note', %s, 'bench', NULL)""",
                (incident, at),
            )
            conn.rollback()

        return run

    with connect(url) as conn:
        row = conn.execute(
            "SELECT id, received_at FROM incident ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        conn.commit()
        run = one_step(conn, row[0], row[1] + timedelta(minutes=1))
        times = [median_time(run, 50)[0] for _ in range(repeat)]
        with_stamp = statistics.median(times)
        conn.execute("ALTER TABLE incident_step DISABLE TRIGGER incident_kpi_stepped")
        conn.commit()
        try:
            times = [median_time(run, 50)[0] for _ in range(repeat)]
        finally:
            conn.execute("ALTER TABLE incident_step ENABLE TRIGGER incident_kpi_stepped")
            conn.commit()
        without = statistics.median(times)
    print(
        f"a step stored (insert + rollback): {with_stamp * 1000:.2f} ms with the stamp, "
        f"{without * 1000:.2f} ms without"
    )


def main(argv: list[str] | None = None) -> None:
    p: argparse.ArgumentParser = parser(__doc__)
    p.add_argument("--database", help="bench database name (default geo_bench_SCALE)")
    args = p.parse_args(argv)
    url = sample_database(args.scale, name=args.database)
    print(machine_line(args.scale))
    bench_kpis(url, repeat=args.repeat)
    stamp_cost(url, repeat=args.repeat)


if __name__ == "__main__":
    main()
