"""Benchmark: /api/v1/me for a grid worker, server time against a bare query counting the same
due items.

Run with `python -m bench --only me --scale large` or `python -m bench.me` (large by default).
The grid worker is the person assigned to the grid with the most rental houses (a busy grid),
signed in with a bearer token of their own account as the phone page's requests are. The
service runs as `geo-service serve` does and logs each request's server time (``ms``, from
the first byte in to the answer written: sign-in, the transaction, my_area, JSON). The baseline,
timed in the same run on a connection of the tables' owner (no row-level security, no sign-in),
is one bare statement counting what the page's lists count: rental houses and water markers
whose check falls due within ME_DUE_WITHIN_DAYS, missing or damaged markers, cameras out of
order (each meeting the worker's grid) and the grid's incidents of the last ME_RECENT_DAYS; its
counts must equal the answer's. Also printed: /ping/db for the same user (sign-in and an empty
transaction: the floor of any signed-in answer), and in PostgreSQL alone app_enter and my_area.
Goal: /api/v1/me at most 2x the bare count.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from bench.harness import (
    BASE,
    BENCH_DIR,
    CpuMeter,
    bearer,
    cpu_seconds,
    machine_line,
    parser,
    print_ratio,
    sample_database,
    start_service,
    stop,
)
from geo_service.accounts import store
from geo_service.accounts.credentials import new_password, secret_hash
from geo_service.accounts.roles import Role
from geo_service.settings import load_settings

GOAL = 2.0
BARE = """
WITH g AS (SELECT id, geom FROM grid WHERE id = %(grid)s)
SELECT
  (SELECT count(*) FROM rental_house r, g WHERE ST_Intersects(g.geom, r.geom)
     AND (r.last_fire_check_at IS NULL OR r.last_fire_check_at <= %(rental_cut)s)),
  (SELECT count(*) FROM water_marker m, g WHERE ST_Intersects(g.geom, m.geom)
     AND (m.last_inspected_at IS NULL OR m.last_inspected_at <= %(marker_cut)s)),
  (SELECT count(*) FROM water_marker m, g WHERE ST_Intersects(g.geom, m.geom)
     AND m.status IN ('missing', 'damaged')),
  (SELECT count(*) FROM camera c, g WHERE ST_Intersects(g.geom, c.geom)
     AND c.status IN ('faulty', 'offline')),
  (SELECT count(*) FROM incident i, g WHERE i.grid_id = g.id
     AND i.received_at > %(since)s AND i.received_at <= %(at)s)
"""
LISTS = ("rentals_due", "markers_due", "markers_broken", "cameras_out", "incidents_recent")


def busy_grid_worker(url: str) -> tuple[str, int, str]:
    """(person code, grid id, grid code) of the grid worker whose grid has the most rental
    houses (ties: lowest grid code)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT p.code, g.id, g.code
               FROM grid g
               JOIN LATERAL (SELECT count(*) AS n FROM rental_house r
                             WHERE ST_Intersects(g.geom, r.geom)) r ON true
               JOIN assignment a ON a.grid_id = g.id AND a.role = 'grid_worker'
                                AND a.validity @> now()
               JOIN person p ON p.id = a.person_id
               ORDER BY r.n DESC, g.code LIMIT 1"""
        ).fetchone()
    assert row, "no grid worker in force"
    return str(row[0]), int(row[1]), str(row[2])


def worker_token(url: str, person: str) -> str:
    """A token of the benchmark's own grid worker account tied to ``person`` (made on first
    use with a random password nobody learns)."""
    name = f"bench_gw_{person}"

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            if name not in {u.name for u in await store.list_users(conn) if not u.removed}:
                await store.add_user(
                    conn, name=name, role=Role.grid_worker, password=new_password(), person=person
                )
            return await store.issue_token(conn, name=name, days=1, label="benchmark")

    return asyncio.run(make())


def served_ms(path: str, since: int) -> list[float]:
    """The server times (ms) the service logged for ``path`` after byte ``since`` of its log."""
    out = []
    with (BENCH_DIR / "service.log").open("rb") as log:
        log.seek(since)
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("path") == path and entry.get("status") == 200:
                out.append(float(entry["ms"]))
    return out


def log_size() -> int:
    return (BENCH_DIR / "service.log").stat().st_size


def timed_sql(
    conn: psycopg.Connection, query: str, params: Any, repeat: int
) -> tuple[float, float, Any]:
    """Median ms of ``repeat`` runs (after two warm-ups), the CPU ms per run of the backend
    serving them, and the last row."""
    row = None
    for _ in range(2):
        row = conn.execute(query, params).fetchone()
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    cpu0 = cpu_seconds(backend)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        row = conn.execute(query, params).fetchone()
        times.append((time.perf_counter() - t) * 1000)
    cpu = (cpu_seconds(backend) - cpu0) * 1000 / repeat
    return statistics.median(times), cpu, row


def main(argv: list[str] | None = None) -> None:
    """Time /api/v1/me, /ping/db and the bare count for one busy grid worker; print ratios."""
    p = parser(__doc__)
    p.set_defaults(scale="large")
    p.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    p.add_argument("--database", default=None, help="database name (default geo_bench_SCALE)")
    args = p.parse_args(argv)
    url = sample_database(args.scale, name=args.database)
    settings = load_settings(database_url=url)
    person, grid, grid_code = busy_grid_worker(url)
    token = worker_token(url, person)
    at = datetime.now(UTC)
    print(machine_line(args.scale))
    print(f"grid worker {person}, grid {grid_code}; {args.requests} requests each, sequential")

    params = {
        "grid": grid,
        "at": at,
        "since": at - timedelta(days=settings.me_recent_days),
        "rental_cut": at + timedelta(days=settings.me_due_within_days - settings.rental_check_days),
        "marker_cut": at
        + timedelta(days=settings.me_due_within_days - settings.inspection_due_days),
    }
    options = "-c TimeZone=Asia/Shanghai -c jit=off"  # as the service's pool sets them
    with psycopg.connect(url, autocommit=True, options=options) as conn:
        bare_ms, bare_cpu, counts = timed_sql(conn, BARE, params, args.requests * 5)
        # PostgreSQL alone: sign-in (app_enter) and my_area, as the service's role
        conn.execute("SET ROLE geo_service_app")
        enter = "SELECT * FROM app_enter('token', %s, interval '30 min', interval '12 h')"
        with conn.transaction():
            enter_ms, enter_cpu, _ = timed_sql(conn, enter, (secret_hash(token),), args.requests)
            area = "SELECT my_area(%s, %s, %s, %s, %s, %s)::text"
            area_args = (
                at,
                settings.inspection_due_days,
                settings.rental_check_days,
                settings.me_due_within_days,
                settings.me_recent_days,
                settings.me_list_limit,
            )
            area_ms, area_cpu, _ = timed_sql(conn, area, area_args, args.requests)
        conn.execute("RESET ROLE")

    proc = start_service(url)
    try:
        with httpx.Client(base_url=BASE, headers=bearer(token), timeout=30) as client:
            for _ in range(20):  # warm the pool's connections and their plans
                client.get("/api/v1/me", params={"at": at.isoformat()})
                client.get("/ping/db")
            # CPU of the service and its PostgreSQL backends per request (what a request costs
            # whatever else the machine is doing), and the server time each request logged
            meter = CpuMeter(url, proc)
            start = log_size()
            meter.start()
            for _ in range(args.requests):
                client.get("/ping/db").raise_for_status()
            ping_cpu = sum(meter.stop()) * 1000 / args.requests
            answer: dict[str, Any] = {}
            meter.start()
            for _ in range(args.requests):
                reply = client.get("/api/v1/me", params={"at": at.isoformat()})
                reply.raise_for_status()
                answer = reply.json()
            me_cpu = sum(meter.stop()) * 1000 / args.requests
            time.sleep(0.5)  # the last log lines
            me_ms = statistics.median(served_ms("/api/v1/me", start))
            ping_ms = statistics.median(served_ms("/ping/db", start))
    finally:
        stop(proc)

    got = tuple(answer["lists"][name]["count"] for name in LISTS)
    assert got == tuple(counts), f"the answer counts {got}, the bare query {tuple(counts)}"
    print(f"due items counted: {dict(zip(LISTS, got, strict=True))}")
    print(f"{'what':<48}{'median ms':>10}{'CPU ms':>10}")
    for what, ms, cpu in (
        ("bare count (owner, no sign-in; its backend)", bare_ms, bare_cpu),
        ("PostgreSQL: app_enter (sign-in)", enter_ms, enter_cpu),
        ("PostgreSQL: my_area", area_ms, area_cpu),
        ("server: /ping/db (sign-in, empty transaction)", ping_ms, ping_cpu),
        ("server: /api/v1/me", me_ms, me_cpu),
    ):
        print(f"{what:<48}{ms:>10.2f}{cpu:>10.2f}")
    print("(server rows: time as the service logged it; CPU of the service and PostgreSQL)")
    print_ratio("my_area in PostgreSQL / bare count (time)", area_ms / bare_ms)
    print_ratio("my_area in PostgreSQL / bare count (CPU)", area_cpu / bare_cpu)
    print_ratio("/ping/db / bare count (time)", ping_ms / bare_ms)
    print_ratio("/api/v1/me / bare count (CPU)", me_cpu / bare_cpu)
    ratio = me_ms / bare_ms
    print_ratio("/api/v1/me / bare count (time)", ratio, f"<= {GOAL:g}", ratio <= GOAL)


if __name__ == "__main__":
    main()
