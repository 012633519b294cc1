"""Benchmark: taking calls, `POST /api/v1/incidents`, against `/ping/db` (one SELECT 1) in the
same run, signed in as a command-room user (bearer token on both).

Run with `python -m bench --only intake` (or `python -m bench.intake`). wrk with 16 connections on
loopback posts new calls (a new call number each, at 10,000 random points inside the station,
categories in the sample's shares, a caller phone each) and asks `/ping/db` in turn, in several
short rounds from the same service process(es); each ratio is the median of the rounds'. Every
call is a real intake: the lookup's answer for the point, stamped areas and H3 cells, the repeat
search over the previous seven days, a non-police call's diversion, the audit event, the event
log with its NOTIFY, one transaction committed (its WAL flushed) before the 201 leaves. The
goal: calls at half the rate of `/ping/db` or better.

The calls go to a database of their own (geo_bench_intake_SCALE, the sample loaded once), and
the calls of earlier runs are removed first, so every run starts from the sample alone.
"""

from __future__ import annotations

import argparse
import statistics
import uuid

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
from bench.lookup import inside_points
from geo_service.db import connect

GOAL = 0.5  # of /ping/db's requests per second
PREFIX = "BENCH"
# Categories in about the sample's shares (geo_service/sample/events.py).
CATEGORIES = ["theft"] * 16 + ["fraud"] * 9 + ["dispute"] * 22 + ["traffic"] * 17
CATEGORIES += ["public_order"] * 8 + ["assistance"] * 14 + ["non_police"] * 14
# Each wrk thread posts calls numbered PREFIX<run><thread>-<n>; points from the file in turn.
INTAKE_SCRIPT = """
local points = {}
for line in io.lines(%(paths)s) do points[#points + 1] = line end
local headers = {}
%(headers)s
headers["Content-Type"] = "application/json"
local categories = {__CATEGORIES__}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  local p = points[(n * 7 + tid * 131) %% #points + 1]
  local body = string.format(
    '{"call_no":"RUN%%d-%%d","category":"%%s",%%s,"caller_phone":"13%%09d","address":"bench"}',
    tid, n, categories[n %% #categories + 1], p, (tid * 1000003 + n * 7919) %% 1000000000)
  return wrk.format("POST", "/api/v1/incidents", headers, body)
end
"""


def forget_calls(url: str) -> int:
    """Remove the calls of earlier runs (as the operator), with their steps and log; how many."""
    with connect(url) as conn:
        conn.execute(
            "DELETE FROM command_event WHERE incident_id IN "
            "(SELECT id FROM incident WHERE call_no LIKE %s)",
            (f"{PREFIX}%",),
        )
        cur = conn.execute("DELETE FROM incident WHERE call_no LIKE %s", (f"{PREFIX}%",))
        return cur.rowcount


def bench_intake(
    url: str, *, seconds: int, rounds: int, workers: int = 1
) -> dict[str, dict[str, float]]:
    """Requests/s and latencies of /ping/db and intake (medians over the rounds); prints them
    with the ratio (median of the rounds' ratios) and the CPU per request."""
    wrk = ensure_wrk()
    headers = bearer(bench_token(url))
    removed = forget_calls(url)
    pts = inside_points(url, 10_000, 2)
    points = path_file(f'"lon":{x:.7f},"lat":{y:.7f}' for x, y in pts)
    run_id = uuid.uuid4().hex[:6].upper()
    lua = INTAKE_SCRIPT.replace("__CATEGORIES__", ", ".join(f'"{c}"' for c in CATEGORIES))
    floor_paths = path_file(["/ping/db"])
    each = max(2, round(seconds / rounds))
    names = ("/ping/db (one SELECT 1)", "POST /api/v1/incidents")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    cpu = {name: [0.0, 0.0, 0.0] for name in names}
    proc = start_service(url, workers=workers)
    try:
        meter = CpuMeter(url, proc)
        for k in range(rounds + 1):  # the first round warms the pool and the plans
            script = lua.replace("RUN", f"{PREFIX}{run_id}{k:02d}")
            for name in names:
                meter.start()
                if name == names[0]:
                    result = run_wrk(wrk, floor_paths, each, headers)
                else:
                    result = run_wrk(wrk, points, each, headers, lua=script)
                service_s, db_s = meter.stop()
                if result["non_2xx"]:
                    raise RuntimeError(f"{name}: {result['non_2xx']:.0f} answers were not 2xx")
                if k == 0:
                    continue
                runs[name].append(result)
                cpu[name][0] += service_s
                cpu[name][1] += db_s
                cpu[name][2] += result["requests"]
    finally:
        stop(proc)
        points.unlink()
        floor_paths.unlink()
    results = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    floor, intake = ([r["rps"] for r in runs[name]] for name in names)
    ratios = [x / f for x, f in zip(intake, floor, strict=True)]
    print(
        f"\n## Call intake over HTTP, 16 concurrent clients on loopback, {workers} worker(s), "
        f"medians of {rounds} rounds of {each} s (calls of earlier runs removed: {removed})"
    )
    print_wrk_table(results)
    median = statistics.median(ratios)
    print_ratio("intake / (/ping/db)", median, f">= {GOAL:g}", median >= GOAL)
    print(f"{'CPU ms per request':<34}{'service':>10}{'PostgreSQL':>12}{'sum':>10}")
    per_request = {name: (a / n * 1e3, b / n * 1e3) for name, (a, b, n) in cpu.items()}
    for name, (a, b) in per_request.items():
        print(f"{name:<34}{a:>10.3f}{b:>12.3f}{a + b:>10.3f}")
    floor_cpu, intake_cpu = (sum(per_request[name]) for name in names)
    print_ratio("CPU per /ping/db request / CPU per intake", floor_cpu / intake_cpu)
    print("rounds, intake / (/ping/db): " + ", ".join(f"{r:.2f}" for r in ratios))
    return results


def run(args: argparse.Namespace) -> None:
    """The intake benchmark on a database of its own holding the sample of args.scale."""
    url = sample_database(args.scale, name=f"geo_bench_intake_{args.scale}")
    print(machine_line(args.scale))
    bench_intake(url, seconds=args.seconds, rounds=args.rounds, workers=args.workers)


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser, and --rounds."""
    p = parser(__doc__)
    p.set_defaults(seconds=24)
    p.add_argument("--rounds", type=int, default=4, help="rounds of the two endpoints")
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
