"""The rebalance: the proposal applied to a draft is checked with the workload recomputed and
contiguity by networkx over shapely's shared edges; locks hold; the tolerance is met on the
sample; on small lattices the fewest moves equal a brute force over every assignment; the
county's local search keeps beats contiguous and never raises the worst excess."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_service.services.balance import (
    Districting,
    deviations,
    pieces,
    solve_exact,
    solve_local,
)
from tests.balance_fixtures import (
    draft_assignment,
    lock,
    make_draft,
    move_grids,
)
from tests.reference import Reference

pytest_plugins = ["tests.balance_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def rook_graph(reference: Reference) -> nx.Graph:
    """Grids sharing an edge (shapely), by code."""
    import shapely

    geoms = reference.grids.to_crs("EPSG:4549").geometry.values
    codes = list(reference.grids["code"])
    graph = nx.Graph()
    graph.add_nodes_from(codes)
    tree = shapely.STRtree(geoms)
    for i, j in zip(*tree.query(geoms, predicate="intersects"), strict=True):
        if i < j and shapely.intersection(geoms[i], geoms[j]).length > 0:
            graph.add_edge(codes[i], codes[j])
    return graph


def apply(answer: dict, assignment: dict[str, str]) -> dict[str, str]:
    out = dict(assignment)
    for m in answer["patch"]["moves"]:
        out[m["grid"]] = m["beat"]
    return out


def contiguous(graph: nx.Graph, assignment: dict[str, str]) -> bool:
    beats: dict[str, list[str]] = {}
    for g, b in assignment.items():
        beats.setdefault(b, []).append(g)
    return all(nx.is_connected(graph.subgraph(gs)) for gs in beats.values())


def test_meets_the_tolerance_on_the_sample(
    planner: TestClient, planning_url: str, reference: Reference
) -> None:
    code = make_draft(planning_url)
    before = draft_assignment(planning_url, code)
    r = planner.post(f"/api/v1/plans/{code}/balance", json={"tolerance": 0.10, "seconds": 8})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["met"], answer["note"]
    assert answer["max_deviation_pct_before"] > 10
    after = apply(answer, before)
    assert sum(after[g] != before[g] for g in before) == answer["moved_grids"] > 0
    assert contiguous(rook_graph(reference), after)
    for m in answer["moves"]:
        assert before[m["grid"]] == m["from"] and m["relieves"] in (m["from"], m["to"])
    # the draft with the moves applied: every beat within ±10 % by the workload endpoint
    move_grids(planning_url, code, {m["grid"]: m["beat"] for m in answer["patch"]["moves"]})
    work = planner.get(f"/api/v1/plans/{code}/workload").json()
    assert all(abs(b["deviation_pct"]) <= 10.0 + 1e-6 for b in work["beats"]), work["beats"]
    assert all(b["contiguous"] for b in work["beats"])
    assert {b["code"]: b["deviation_pct"] for b in work["beats"]} == {
        b["after"]["code"]: b["after"]["deviation_pct"] for b in answer["beats"]
    }


def test_locks_hold(planner: TestClient, planning_url: str, reference: Reference) -> None:
    code = make_draft(planning_url)
    before = draft_assignment(planning_url, code)
    first = planner.post(f"/api/v1/plans/{code}/balance", json={"tolerance": 0.10, "seconds": 5})
    moved = [m["grid"] for m in first.json()["moves"]]
    touched = {m["from"] for m in first.json()["moves"]} | {m["to"] for m in first.json()["moves"]}
    locked_beat = sorted(touched)[0]
    lock(planning_url, code, grids=moved[:3], beats=[locked_beat])
    r = planner.post(f"/api/v1/plans/{code}/balance", json={"tolerance": 0.15, "seconds": 5})
    assert r.status_code == 200, r.text
    answer = r.json()
    for m in answer["moves"]:
        assert m["grid"] not in moved[:3]
        assert locked_beat not in (m["from"], m["to"])
    after = apply(answer, before)
    assert contiguous(rook_graph(reference), after)


def test_cap_and_unreachable_tolerance(planner: TestClient, planning_url: str) -> None:
    code = make_draft(planning_url)
    r = planner.post(
        f"/api/v1/plans/{code}/balance", json={"tolerance": 0.10, "max_moves": 2, "seconds": 5}
    )
    answer = r.json()
    assert r.status_code == 200 and answer["moved_grids"] <= 2, r.text
    assert not answer["met"] and "cannot be met" in answer["note"]
    assert answer["max_deviation_pct_after"] <= answer["max_deviation_pct_before"]
    r = planner.post(f"/api/v1/plans/{code}/balance", json={"tolerance": 0.001, "seconds": 4})
    answer = r.json()
    assert r.status_code == 200 and not answer["met"], r.text
    assert answer["max_deviation_pct_after"] >= answer["floor_pct"] - 1e-6


def test_bad_requests(planner: TestClient) -> None:
    assert planner.post("/api/v1/plans/nope/balance", json={}).status_code == 404
    r = planner.post("/api/v1/plans/2026/balance", json={"tolerance": 0})
    assert r.status_code == 422, r.text
    r = planner.post("/api/v1/plans/2026/balance", json={"weights": {"x": 1}})
    assert r.status_code == 422 and "body.weights." in r.text, r.text


# ------------------------------------------------------------------ small cases, brute force


def lattice(rows: int, cols: int, beats: int, rng: np.random.Generator) -> Districting:
    """A rows x cols lattice of grids in beats of vertical stripes, random workloads."""
    n = rows * cols
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    origin = np.array([min(c * beats // cols, beats - 1) for r in range(rows) for c in range(cols)])
    return Districting(
        load=rng.gamma(2.0, 1.0, n),
        origin=origin,
        beats=beats,
        edges=np.array(edges),
        village=np.array([(r // 2) * cols + c // 2 for r in range(rows) for c in range(cols)]),
        grid_locked=np.zeros(n, dtype=bool),
        beat_locked=np.zeros(beats, dtype=bool),
    )


def brute_force(d: Districting, tolerance: float) -> int | None:
    """The fewest moves of any assignment with every beat contiguous, non-empty and within
    the tolerance (every assignment tried), None when there is none."""
    graph = nx.Graph()
    graph.add_nodes_from(range(d.n))
    graph.add_edges_from(map(tuple, d.edges))
    every = np.array(list(itertools.product(range(d.beats), repeat=d.n)))
    loads = np.stack([(every == b) @ d.load for b in range(d.beats)], axis=1)
    ok = (np.abs(loads / d.mean - 1) <= tolerance + 1e-9).all(axis=1)
    candidates = every[ok]
    moves = (candidates != d.origin).sum(axis=1)
    for i in np.argsort(moves, kind="stable"):
        a = candidates[i]
        if all(
            nx.is_connected(graph.subgraph(np.flatnonzero(a == b).tolist())) for b in range(d.beats)
        ):
            return int(moves[i])
    return None


def test_fewest_moves_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    compared = 0
    for case in range(8):
        d = lattice(3, 4, 3, rng)
        tolerance = float(rng.choice([0.1, 0.2, 0.3]))
        best = brute_force(d, tolerance)
        out = solve_exact(d, tolerance=tolerance, max_moves=None, seconds=30)
        dev = np.abs(deviations(d, out.beat))
        if best is None:
            assert (dev > tolerance + 1e-9).any(), case
            continue
        compared += 1
        assert (dev <= tolerance + 1e-7).all(), case
        assert (pieces(d, out.beat) == 1).all(), case
        assert out.optimal, case
        assert int((out.beat != d.origin).sum()) == best, (case, best)
    assert compared >= 4


def test_local_search_keeps_beats_whole() -> None:
    """A 12 x 12 lattice in 12 beats with a few heavy grids: the local search (the county's)
    keeps every beat contiguous and locked grids in place, and lowers the worst deviation."""
    rng = np.random.default_rng(5)
    d = lattice(12, 12, 12, rng)
    d.origin = np.array([(r // 3) * 3 + c // 4 for r in range(12) for c in range(12)])
    d.beat = d.origin.copy()
    d.load[rng.choice(d.n, 6, replace=False)] *= 4
    d.mean = float(d.load.sum()) / d.beats
    d.grid_locked[rng.choice(d.n, 10, replace=False)] = True
    before = np.abs(deviations(d, d.origin)).max()
    out = solve_local(d, tolerance=0.10, max_moves=None, seconds=10, region_seconds=3)
    assert (pieces(d, out.beat) == 1).all()
    assert (out.beat[d.grid_locked] == d.origin[d.grid_locked]).all()
    assert np.abs(deviations(d, out.beat)).max() < before
