"""Benchmark: the rebalance (POST /api/v1/plans/{code}/balance's search) against gerrychain's
ReCom chain run until it reaches the same tolerance, in the same run, from the plan in force
with a perturbed workload: a new housing estate doubles the incidents of a few grids.

Run with `python -m bench --only balance [--scale small|large]` (or `python -m bench.balance`).
The database `geo_bench_balance_<scale>` holds the sample with the estate's incidents added
(copies of the chosen grids' incidents, call numbers starting with E), made on first use.
Goal (issue 13): the same tolerance with at most a third of the grids ReCom moves, within 10 s
for the station and 10 minutes for the county. Also timed: the workload table of the plan
(what the planner's page recomputes after each move).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from functools import partial

import geopandas as gpd
import numpy as np
import psycopg
from gerrychain import Graph, Partition
from gerrychain.proposals import recom
from gerrychain.proposals.tree_proposals import MetagraphError
from gerrychain.tree import PopulationBalanceError, bipartition_tree
from gerrychain.updaters import Tally

from bench.harness import machine_line, parser, print_ratio, sample_database, sample_file
from geo_service.db import connect
from geo_service.services.balance import deviations, districting_of, floor_of, pieces, rebalance
from geo_service.services.workload import Weights, load_plan_grids, plan_workload

# per scale: grids of the estate, our time limit (s), ReCom's time limit (s), the time goal (s)
SCALES = {"small": (3, 8.0, 300.0, 10.0), "large": (40, 600.0, 600.0, 600.0)}
MOVED_GOAL = 1 / 3


def add_estate(url: str, grids: int, seed: int = 1) -> list[str]:
    """Double the incidents of ``grids`` grids of the plan in force (chosen with the seed, each
    with incidents): copies of their incidents, call numbers prefixed with E. Done once."""
    with connect(url) as conn:
        done = conn.execute("SELECT count(*) FROM incident WHERE call_no LIKE 'E%'").fetchone()
        codes = [
            r[0]
            for r in conn.execute(
                """SELECT g.code FROM grid g
                   WHERE EXISTS (SELECT 1 FROM incident i WHERE i.grid_id = g.id)
                   ORDER BY g.code"""
            ).fetchall()
        ]
        chosen = sorted(np.random.default_rng(seed).choice(codes, grids, replace=False).tolist())
        if done and done[0]:
            return chosen
        conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, beat_id, h3, h3_r7, h3_r8, h3_r9)
               SELECT 'E' || i.call_no, i.received_at, i.category, i.status, i.geom,
                      i.village_id, i.grid_id, i.beat_id, i.h3, i.h3_r7, i.h3_r8, i.h3_r9
               FROM incident i JOIN grid g ON g.id = i.grid_id
               WHERE g.code = ANY(%s)""",
            (chosen,),
        )
        conn.commit()
    return chosen


def recom_until(
    graph: Graph,
    assignment: dict[int, int],
    mean: float,
    target: float,
    seconds: float,
    seed: int = 1,
) -> tuple[int, int, float, float]:
    """ReCom (gerrychain) from the plan until every beat is within ``target`` of the mean or
    the time is up: answers steps, grids moved from the plan, max deviation reached, seconds.

    Each step merges two touching beats and splits them again along a random spanning tree
    with both parts within a bound of the mean; the bound is the worst deviation of the plan
    at that step (never looser than it, never tighter than the target), so a step never makes
    the worst beat worse and a pair holding it is split closer to the mean. A pair that
    cannot be split within the bound is skipped for another (pair reselection)."""
    rng = random.Random(seed)
    start = time.monotonic()
    state = Partition(graph, assignment=assignment, updaters={"load": Tally("load", alias="load")})
    split = partial(bipartition_tree, allow_pair_reselection=True, max_attempts=2_000)
    steps = 0

    def worst_of(p: Partition) -> float:
        return max(abs(v / mean - 1.0) for v in p["load"].values())

    worst = worst_of(state)
    while worst > target + 1e-9 and time.monotonic() - start < seconds:
        try:
            state = recom(
                state, "load", mean, max(worst, target), bipartition_tree_fn=split, rng=rng
            )
        except MetagraphError:
            break  # no touching pair can be split within the bound
        except PopulationBalanceError:
            continue  # this tree's split left one part out of the bound: draw again
        worst = worst_of(state)
        steps += 1
    moved = sum(1 for node, part in assignment.items() if state.assignment[node] != part)
    return steps, moved, worst, time.monotonic() - start


async def run(
    url: str, scale: str, tolerance: float, ours: float | None, recom_limit: float | None
) -> None:
    estate_grids, ours_seconds, recom_seconds, time_goal = SCALES[scale]
    ours_seconds = ours or ours_seconds
    recom_seconds = recom_limit or recom_seconds
    estate = add_estate(url, estate_grids)
    print(f"estate: incidents doubled in {len(estate)} grids ({', '.join(estate[:5])}...)")
    weights = Weights.of()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (
            await conn.execute("SELECT code FROM beat_plan WHERE id = plan_in_force(now())")
        ).fetchone()
        assert row, "no plan in force"
        plan = str(row[0])
        if scale == "small":
            await load_plan_grids(conn, plan=plan, start=None, end=None)  # warms the cell cache
        times = []
        for _ in range(5 if scale == "small" else 1):
            t0 = time.perf_counter()
            await plan_workload(conn, plan=plan, start=None, end=None, weights=weights)
            times.append(time.perf_counter() - t0)
        print(
            f"workload table of plan {plan}: median {statistics.median(times) * 1000:.0f} ms"
            f" of {len(times)}"
        )
        t0 = time.perf_counter()
        pg = await load_plan_grids(conn, plan=plan, start=None, end=None)
        load_s = time.perf_counter() - t0 if scale == "small" else times[0]
    d, inside = districting_of(pg, weights)
    before = float(np.abs(deviations(d, d.origin)).max())
    floor, pinned = floor_of(d, tolerance)
    print(
        f"plan {plan}: {d.n} grids, {d.beats} beats; max deviation {before * 100:.1f} %; "
        f"floor {floor * 100:.1f} % ({len(pinned)} beats pinned by a grid or lock alone)"
    )
    t0 = time.perf_counter()
    out = rebalance(
        d, tolerance=tolerance, max_moves=None, seconds=ours_seconds, exact_max_grids=400
    )
    ours_s = time.perf_counter() - t0 + load_s
    ours_dev = float(np.abs(deviations(d, out.beat)).max())
    ours_moved = int(np.count_nonzero(out.beat != d.origin))
    whole = bool((pieces(d, out.beat) == 1).all())
    print(
        f"ours ({out.method}, {'optimal' if out.optimal else 'not proven'}): {ours_moved} grids "
        f"moved, max deviation {before * 100:.1f} % -> {ours_dev * 100:.1f} %, contiguous "
        f"{whole}, {ours_s:.1f} s (of which loading {load_s:.1f} s) {out.note}"
    )
    # ReCom on the same grids and workloads, its graph from the sample's geometries (rook)
    grids = gpd.read_file(sample_file(scale), layer="grid")[["code", "geometry"]]
    codes = [pg.grid_codes[i] for i in inside]
    grids = grids.set_index("code").loc[codes].reset_index()
    grids["load"] = d.load
    t0 = time.perf_counter()
    graph = Graph.from_geodataframe(grids.to_crs("EPSG:4549"), adjacency="rook")
    print(f"ReCom graph from the geometries: {time.perf_counter() - t0:.1f} s (not counted)")
    assignment = {i: int(b) for i, b in enumerate(d.origin)}
    target = max(tolerance, ours_dev)
    steps, moved, reached, recom_s = recom_until(graph, assignment, d.mean, target, recom_seconds)
    print(
        f"ReCom: {steps} steps, {moved} grids moved, max deviation {reached * 100:.1f} % "
        f"(target {target * 100:.1f} %), {recom_s:.1f} s"
    )
    same = reached <= target + 1e-9
    ratio = ours_moved / moved if moved else float("inf")
    print_ratio(
        "grids moved, ours / ReCom" + ("" if same else " (ReCom did not reach the target)"),
        ratio,
        f"<= {MOVED_GOAL:.2f} at the same tolerance",
        ratio <= MOVED_GOAL,
    )
    print_ratio(
        "our time / goal", ours_s / time_goal, f"<= 1 ({time_goal:.0f} s)", ours_s <= time_goal
    )
    met = ours_dev <= tolerance + 1e-9
    print(
        f"tolerance ±{tolerance * 100:g} %: ours {'met' if met else 'not met'} "
        f"({ours_dev * 100:.1f} %, floor {floor * 100:.1f} %)"
    )


def main(argv: list[str] | None = None) -> None:
    p: argparse.ArgumentParser = parser(__doc__)
    p.add_argument("--tolerance", type=float, default=0.10, help="±share of the mean index")
    p.add_argument("--ours-seconds", type=float, help="our time limit (default: per scale)")
    p.add_argument("--recom-seconds", type=float, help="ReCom's time limit (default: per scale)")
    args = p.parse_args(argv)
    print(machine_line(args.scale))
    url = sample_database(args.scale, name=f"geo_bench_balance_{args.scale}")
    asyncio.run(run(url, args.scale, args.tolerance, args.ours_seconds, args.recom_seconds))


if __name__ == "__main__":
    main()
