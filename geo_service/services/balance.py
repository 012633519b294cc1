"""Rebalance a plan's beats with the fewest moved grids: an exact integer program (PuLP with
HiGHS) for a station, neighbourhoods of the beats out of tolerance solved the same way for a
county; every beat contiguous, the number of beats fixed, locked grids and beats in place.

Objective, in this order: the fewest grids moved, then the fewest villages split (a village in
several beats counts once per extra beat), then the least workload moved. Contiguity is a
single-commodity flow per beat from a root grid the program chooses (Shirabe 2009). When the
tolerance cannot be met, the least possible maximum deviation is found first and then the
fewest moves that reach it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
import pulp

from geo_service.errors import InvalidParameter
from geo_service.services.workload import (
    PlanGrids,
    Weights,
    beat_table,
    load_plan_grids,
    weights_answer,
)

EPS = 1e-9
# An absolute gap below half a move: proves the fewest moves (see _objective)
GAP = 0.4
# A region's program stops within this share of its best bound (its excess dominates)
LOCAL_GAP = 0.01


@dataclass
class Districting:
    """Grids with their workload (``load``, the mean beat is ``mean``), their beat in the plan
    (``origin``) and now (``beat``), neighbours (edges), villages and locks."""

    load: np.ndarray
    origin: np.ndarray
    beats: int
    edges: np.ndarray
    village: np.ndarray
    grid_locked: np.ndarray
    beat_locked: np.ndarray
    mean: float = 0.0
    beat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if not self.mean:
            self.mean = float(self.load.sum()) / max(self.beats, 1)
        if len(self.beat) != len(self.origin):
            self.beat = self.origin.copy()

    @property
    def n(self) -> int:
        return len(self.load)

    def neighbours(self) -> list[list[int]]:
        adj: list[list[int]] = [[] for _ in range(self.n)]
        for a, b in self.edges:
            adj[int(a)].append(int(b))
            adj[int(b)].append(int(a))
        return adj

    def fixed(self) -> np.ndarray:
        """Grids that may not move: locked, or in a locked beat."""
        return self.grid_locked | self.beat_locked[self.origin]


@dataclass
class Outcome:
    """A proposed assignment and how it was found."""

    beat: np.ndarray
    method: str  # exact | local
    optimal: bool
    seconds: float
    note: str = ""


def deviations(d: Districting, beat: np.ndarray) -> np.ndarray:
    """Each beat's deviation from the mean, as a fraction."""
    loads = np.bincount(beat, weights=d.load, minlength=d.beats)
    return loads / d.mean - 1.0


def pieces(d: Districting, beat: np.ndarray) -> np.ndarray:
    """Edge-connected pieces of each beat (1 is contiguous, 0 empty)."""
    adj = d.neighbours()
    seen = np.zeros(d.n, dtype=bool)
    count = np.zeros(d.beats, dtype=np.int64)
    for start in range(d.n):
        if seen[start]:
            continue
        count[beat[start]] += 1
        seen[start] = True
        queue = deque([start])
        while queue:
            g = queue.popleft()
            for h in adj[g]:
                if not seen[h] and beat[h] == beat[start]:
                    seen[h] = True
                    queue.append(h)
    return count


def floor_of(d: Districting, tolerance: float) -> tuple[float, list[int]]:
    """A lower bound of the achievable maximum deviation (fraction): a beat holds at least its
    heaviest unmovable share, a grid heavier than the mean plus the tolerance alone exceeds it,
    and a locked beat keeps its load. Answers the bound and the beats it pins."""
    bound = 0.0
    pinned: list[int] = []
    dev = deviations(d, d.origin)
    for b in range(d.beats):
        if d.beat_locked[b]:
            if abs(dev[b]) > tolerance:
                pinned.append(b)
            bound = max(bound, abs(dev[b]))
    # a beat cannot be lighter than the locked grids it keeps
    locked = np.bincount(d.origin[d.grid_locked], weights=d.load[d.grid_locked], minlength=d.beats)
    for b in range(d.beats):
        over = locked[b] / d.mean - 1.0
        if over > tolerance and b not in pinned:
            pinned.append(b)
        bound = max(bound, over)
    heaviest = float(d.load.max(initial=0.0)) / d.mean - 1.0
    if heaviest > tolerance:
        for g in np.flatnonzero(d.load / d.mean - 1.0 > tolerance):
            if int(d.origin[g]) not in pinned:
                pinned.append(int(d.origin[g]))
    return max(bound, heaviest), sorted(pinned)


# ---------------------------------------------------------------------------- the program


def _hops(d: Districting, sources: np.ndarray, reach: int) -> np.ndarray:
    """Hops from the nearest source grid (reach + 1 when further)."""
    adj = d.neighbours()
    dist = np.full(d.n, reach + 1, dtype=np.int64)
    queue = deque(int(s) for s in sources)
    for s in sources:
        dist[int(s)] = 0
    while queue:
        g = queue.popleft()
        if dist[g] >= reach:
            continue
        for h in adj[g]:
            if dist[h] > dist[g] + 1:
                dist[h] = dist[g] + 1
                queue.append(h)
    return dist


def candidates(d: Districting, reach: int | None) -> list[list[int]]:
    """The beats each grid may end in: its own when it may not move; otherwise every unlocked
    beat (reach None) or those with a grid within reach hops of it now."""
    fixed = d.fixed()
    free = [b for b in range(d.beats) if not d.beat_locked[b]]
    cand: list[list[int]] = [[int(d.beat[g])] for g in range(d.n)]
    near: dict[int, np.ndarray] = {}
    if reach is not None:
        for b in free:
            near[b] = _hops(d, np.flatnonzero(d.beat == b), reach) <= reach
    for g in range(d.n):
        if fixed[g]:
            cand[g] = [int(d.origin[g])]
            continue
        mine = {int(d.beat[g]), int(d.origin[g])} - {b for b in range(d.beats) if d.beat_locked[b]}
        others = [b for b in free if reach is None or near[b][g]]
        cand[g] = sorted(mine | set(others))
    return cand


@dataclass
class Program:
    """The integer program of a districting: its variables, ready for an objective."""

    lp: pulp.LpProblem
    x: dict[tuple[int, int], pulp.LpVariable]
    load: dict[int, pulp.LpAffineExpression]
    moved: pulp.LpAffineExpression
    splits: pulp.LpAffineExpression
    moved_load: pulp.LpAffineExpression
    cand: list[list[int]]
    cuts: int = 0
    gap_rel: float = 0.0


def build(d: Districting, cand: list[list[int]], *, max_moves: int | None) -> Program:
    """Assignment, no empty beat, moves and village terms; contiguity is added as cuts."""
    lp = pulp.LpProblem("rebalance", pulp.LpMinimize)
    x = {(g, b): pulp.LpVariable(f"x_{g}_{b}", cat="Binary") for g in range(d.n) for b in cand[g]}
    members: dict[int, list[int]] = {b: [] for b in range(d.beats)}
    for g, b in x:
        members[b].append(g)
    for g in range(d.n):
        lp += pulp.lpSum(x[g, b] for b in cand[g]) == 1, f"one_{g}"
    for b in range(d.beats):
        if members[b]:
            lp += pulp.lpSum(x[g, b] for g in members[b]) >= 1, f"some_{b}"
    load = {
        b: pulp.lpSum(float(d.load[g]) * x[g, b] for g in members[b])
        for b in range(d.beats)
        if members[b]
    }
    moving = [(g, b) for (g, b) in x if b != d.origin[g]]
    moved = pulp.lpSum(x[g, b] for g, b in moving)
    total = float(d.load.sum()) or 1.0
    moved_load = pulp.lpSum(float(d.load[g]) / total * x[g, b] for g, b in moving)
    y: dict[tuple[int, int], pulp.LpVariable] = {}
    for g, b in x:
        key = (int(d.village[g]), b)
        if key not in y:
            y[key] = pulp.LpVariable(f"y_{key[0]}_{b}", lowBound=0, upBound=1)
        lp += y[key] >= x[g, b], f"vil_{g}_{b}"
    splits = pulp.lpSum(y.values())
    # a grid joining a beat touches it, unless the beat kept none of its own grids
    adj = d.neighbours()
    own: dict[int, list[int]] = {b: [] for b in range(d.beats)}
    for g in range(d.n):
        own[int(d.origin[g])].append(g)
    for g, b in moving:
        kept = [k for k in own[b] if (k, b) in x]
        if not own[b] or len(kept) < len(own[b]):
            continue  # some of the beat's grids cannot stay: no such bound
        touching = pulp.lpSum(x[k, b] for k in adj[g] if (k, b) in x)
        rest = pulp.lpSum(1 - x[k, b] for k in kept) * (1.0 / len(kept))
        lp += x[g, b] <= touching + rest, f"touch_{g}_{b}"
    if max_moves is not None:
        lp += moved <= max_moves, "cap"
    return Program(lp, x, load, moved, splits, moved_load, cand)


def _objective(d: Districting, prog: Program) -> pulp.LpAffineExpression:
    """Moves first, then villages split, then workload moved (the coefficients keep the order:
    all split terms together weigh less than half a move, the workload term less than one
    split; with an absolute gap of GAP the fewest moves are proven, the rest preferred)."""
    villages = int(d.village.max(initial=0)) + 1
    split_weight = 0.5 / (villages * d.beats + 1)
    return prog.moved + split_weight * prog.splits + 0.5 * split_weight * prog.moved_load


def _run(prog: Program, seconds: float) -> tuple[str, bool]:
    """Run HiGHS; answers (status, optimal) with status optimal | feasible | infeasible | none."""
    solver = pulp.HiGHS(msg=False, timeLimit=max(seconds, 0.2), gapRel=0.0, gapAbs=GAP, threads=1)
    prog.lp.solve(solver)
    model = prog.lp.solverModel
    status = str(model.getModelStatus())
    if "Infeasible" in status:
        return "infeasible", True
    if "Optimal" in status:
        return "optimal", True
    has = getattr(model.getInfo(), "primal_solution_status", 0) == 2
    return ("feasible" if has else "none"), False


def _components(d: Districting, beat: np.ndarray, b: int, adj: list[list[int]]) -> list[list[int]]:
    """The edge-connected pieces of beat b under an assignment."""
    grids = [int(g) for g in np.flatnonzero(beat == b)]
    inside = set(grids)
    seen: set[int] = set()
    parts = []
    for s in grids:
        if s in seen:
            continue
        piece = [s]
        seen.add(s)
        queue = deque([s])
        while queue:
            g = queue.popleft()
            for h in adj[g]:
                if h in inside and h not in seen:
                    seen.add(h)
                    piece.append(h)
                    queue.append(h)
        parts.append(piece)
    return parts


def _cut(d: Districting, prog: Program, beat: np.ndarray, adj: list[list[int]]) -> int:
    """Separator cuts for every beat in more than one piece: a grid g of a piece C and a grid
    h of another piece can both be in the beat only if one grid around C is too
    (x_gb + x_hb - 1 <= sum of x_kb over the neighbours k of C). Answers how many were added."""
    fixed = d.fixed()
    added = 0
    for b in range(d.beats):
        if d.beat_locked[b]:
            continue
        parts = _components(d, beat, b, adj)
        if len(parts) < 2:
            continue

        # the piece kept: the one holding a grid that may not move, else the one holding most
        # of the beat's grids in the plan, else the largest
        def keep_rank(piece: list[int], b: int = b) -> tuple[int, int, int]:
            return (
                int(any(fixed[g] for g in piece)),
                int(sum(d.origin[g] == b for g in piece)),
                len(piece),
            )

        parts.sort(key=keep_rank, reverse=True)
        anchor = next((g for g in parts[0] if fixed[g]), parts[0][0])
        for piece in parts[1:]:
            inside = set(piece)
            around = {k for g in piece for k in adj[g] if k not in inside}
            rhs = pulp.lpSum(prog.x[k, b] for k in around if (k, b) in prog.x)
            for g in piece:
                prog.lp += (
                    prog.x[g, b] + prog.x[anchor, b] - 1 <= rhs,
                    f"cut{prog.cuts + added}_{g}_{b}",
                )
                added += 1
            # and the kept piece seen from the other side
            inside0 = set(parts[0])
            around0 = {k for g in parts[0] for k in adj[g] if k not in inside0}
            rhs0 = pulp.lpSum(prog.x[k, b] for k in around0 if (k, b) in prog.x)
            prog.lp += (
                prog.x[piece[0], b] + prog.x[anchor, b] - 1 <= rhs0,
                f"cut{prog.cuts + added}_{anchor}_{b}",
            )
            added += 1
    prog.cuts += added
    return added


def _assignment(d: Districting, prog: Program) -> np.ndarray:
    beat = d.beat.copy()
    for (g, b), var in prog.x.items():
        if (var.varValue or 0) > 0.5:
            beat[g] = b
    return beat


def _solve(d: Districting, prog: Program, deadline: float) -> tuple[str, bool, np.ndarray]:
    """Solve and cut until every beat is in one piece (or time is up): answers the status,
    whether optimal, and the assignment (the plan's when no contiguous one was found)."""
    adj = d.neighbours()
    optimal_all = True
    while True:
        status, optimal = _run(prog, deadline - time.monotonic())
        if status in ("infeasible", "none"):
            return status, optimal, d.beat.copy()
        optimal_all = optimal_all and optimal
        beat = _assignment(d, prog)
        if not _cut(d, prog, beat, adj):
            return status, optimal_all, beat
        if time.monotonic() >= deadline:
            return "none", False, d.beat.copy()


def _within(d: Districting, prog: Program, tolerance: float) -> None:
    """Every beat that may change within the tolerance of the mean."""
    for b, load in prog.load.items():
        if not d.beat_locked[b]:
            prog.lp += load <= (1 + tolerance) * d.mean, f"hi_{b}"
            prog.lp += load >= (1 - tolerance) * d.mean, f"lo_{b}"


def solve_exact(
    d: Districting,
    *,
    tolerance: float,
    max_moves: int | None,
    seconds: float,
) -> Outcome:
    """The exact program: fewest moves within the tolerance. Grids first may join only a beat
    they touch, then beats two grids away, then any beat, each time asking for fewer moves
    than found so far: when that last program has no answer, the fewest moves are proven.
    When the tolerance cannot be met at all: the least maximum deviation, then the fewest
    moves reaching it."""
    start = time.monotonic()
    deadline = start + seconds
    best: np.ndarray | None = None
    proven = False
    for reach in (1, 2, None):
        found = int(np.count_nonzero(best != d.origin)) if best is not None else None
        cap = max_moves if found is None else min(found - 1, max_moves or found)
        if cap is not None and cap < 0:
            proven = True
            break
        prog = build(d, candidates(d, reach), max_moves=cap)
        _within(d, prog, tolerance)
        prog.lp += _objective(d, prog)
        status, optimal, beat = _solve(d, prog, deadline)
        if status in ("optimal", "feasible"):
            best = beat
            proven = reach is None and optimal
        elif status == "infeasible" and reach is None:
            proven = best is not None
        if status == "none" or time.monotonic() >= deadline:
            break
    if best is not None:
        return Outcome(best, "exact", proven, time.monotonic() - start)
    # the tolerance cannot be met (or no answer in time): least maximum deviation first
    free = [b for b in range(d.beats) if not d.beat_locked[b]]
    cand = candidates(d, 2)
    prog = build(d, cand, max_moves=max_moves)
    z = pulp.LpVariable("z", lowBound=0)
    for b, load in prog.load.items():
        if not d.beat_locked[b]:
            prog.lp += load - d.mean <= z * d.mean, f"zhi_{b}"
            prog.lp += d.mean - load <= z * d.mean, f"zlo_{b}"
    prog.lp += z + 1e-5 * prog.moved / max(d.n, 1)
    middle = time.monotonic() + 0.6 * max(deadline - time.monotonic(), 0.0)
    status, optimal, least = _solve(d, prog, middle)
    if status not in ("optimal", "feasible"):
        return Outcome(d.beat.copy(), "exact", False, time.monotonic() - start, "no answer in time")
    reached = float(np.abs(deviations(d, least)[free]).max(initial=0.0))
    prog = build(d, cand, max_moves=max_moves)
    _within(d, prog, reached + 1e-7)
    prog.lp += _objective(d, prog)
    status2, _, fewer = _solve(d, prog, deadline)
    if status2 in ("optimal", "feasible"):
        least = fewer
    return Outcome(least, "exact", False, time.monotonic() - start)


# ------------------------------------------------------------------------ local (county)


def _region(d: Districting, beat: np.ndarray, worst: int, rings: int) -> list[int]:
    """The worst beat and the unlocked beats within ``rings`` beat-neighbourhoods of it."""
    touching: dict[int, set[int]] = {}
    a, b = d.edges[:, 0], d.edges[:, 1]
    for p, q in zip(beat[a], beat[b], strict=True):
        if p != q:
            touching.setdefault(int(p), set()).add(int(q))
            touching.setdefault(int(q), set()).add(int(p))
    region = {worst}
    frontier = {worst}
    for _ in range(rings):
        frontier = {q for p in frontier for q in touching.get(p, ())} - region
        region |= {q for q in frontier if not d.beat_locked[q]}
    return sorted(region)


def _sub(d: Districting, beat: np.ndarray, region: list[int]) -> tuple[Districting, np.ndarray]:
    """The districting of the grids of a region's beats (numbered 0.. in region order), with the
    whole plan's mean; answers it and the grids' indices in the whole."""
    at = {b: i for i, b in enumerate(region)}
    grids = np.flatnonzero(np.isin(beat, region))
    local = {int(g): i for i, g in enumerate(grids)}
    edges = [
        (local[int(p)], local[int(q)]) for p, q in d.edges if int(p) in local and int(q) in local
    ]
    origin = d.origin[grids]
    # a grid whose beat in the plan is outside the region can still go back only by staying
    origin_local = np.array(
        [at.get(int(o), at[int(beat[g])]) for o, g in zip(origin, grids, strict=True)],
        dtype=np.int64,
    )
    away = np.array([int(o) not in at for o in origin], dtype=bool)
    sub = Districting(
        load=d.load[grids],
        origin=origin_local,
        beats=len(region),
        edges=np.array(edges, dtype=np.int64).reshape(-1, 2),
        village=d.village[grids],
        grid_locked=d.grid_locked[grids] | away,
        beat_locked=np.zeros(len(region), dtype=bool),
        mean=d.mean,
        beat=np.array([at[int(beat[g])] for g in grids], dtype=np.int64),
    )
    return sub, grids


def _soft(sub: Districting, *, tolerance: float, max_moves: int | None, seconds: float) -> Outcome:
    """A region's program with the tolerance as a cost: the excess over it first (a hundredth
    of a percent of the mean outweighs every move), then the objective of the exact program."""
    start = time.monotonic()
    prog = build(sub, candidates(sub, 3), max_moves=max_moves)
    excess = []
    for b, load in prog.load.items():
        e = pulp.LpVariable(f"e_{b}", lowBound=0)
        prog.lp += load - (1 + tolerance) * sub.mean <= e * sub.mean, f"ehi_{b}"
        prog.lp += (1 - tolerance) * sub.mean - load <= e * sub.mean, f"elo_{b}"
        excess.append(e)
    z = pulp.LpVariable("zmax", lowBound=0)
    for e in excess:
        prog.lp += e <= z, f"zmax_{e.name}"
    big = 1e4 * (sub.n + 1)
    prog.lp += big * (z + pulp.lpSum(excess)) + _objective(sub, prog)
    prog.gap_rel = LOCAL_GAP
    status, optimal, beat = _solve(sub, prog, start + seconds)
    if status not in ("optimal", "feasible"):
        return Outcome(sub.beat.copy(), "local", False, time.monotonic() - start)
    return Outcome(beat, "local", optimal, time.monotonic() - start)


class Greedy:
    """Single moves of border grids between touching beats, each lowering the total excess
    over the tolerance, the beat left behind staying in one piece."""

    def __init__(self, d: Districting, beat: np.ndarray, tolerance: float) -> None:
        self.d = d
        self.beat = beat
        self.tolerance = tolerance
        self.adj = d.neighbours()
        self.fixed = d.fixed()
        self.loads = np.bincount(beat, weights=d.load, minlength=d.beats)
        self.members: list[set[int]] = [set() for _ in range(d.beats)]
        for g, b in enumerate(beat):
            self.members[int(b)].add(g)
        self.moves = int(np.count_nonzero(beat != d.origin))

    def excess(self, load: float) -> float:
        return max(abs(load / self.d.mean - 1.0) - self.tolerance, 0.0)

    def whole_without(self, b: int, g: int) -> bool:
        """Whether beat b without grid g is still in one piece (and not empty)."""
        rest = self.members[b] - {g}
        if not rest:
            return False
        first = next(iter(rest))
        seen = {first}
        queue = deque([first])
        while queue:
            k = queue.popleft()
            for h in self.adj[k]:
                if h in rest and h not in seen:
                    seen.add(h)
                    queue.append(h)
        return len(seen) == len(rest)

    def best_move(self, b: int, max_moves: int | None) -> tuple[float, int, int, int] | None:
        """The best single move touching beat b: (gain, grid, from, to), None if none helps."""
        d = self.d
        over = self.loads[b] > d.mean
        best: tuple[float, int, int, int] | None = None
        pairs: list[tuple[int, int, int]] = []  # grid, from, to
        if over:
            for g in self.members[b]:
                for h in self.adj[g]:
                    c = int(self.beat[h])
                    if c != b:
                        pairs.append((g, b, c))
        else:
            for g in self.members[b]:
                for h in self.adj[g]:
                    c = int(self.beat[h])
                    if c != b:
                        pairs.append((h, c, b))
        seen: set[tuple[int, int, int]] = set()
        for g, src, dst in pairs:
            if (g, src, dst) in seen or self.fixed[g] or d.beat_locked[dst]:
                continue
            seen.add((g, src, dst))
            w = float(d.load[g])
            gain = (
                self.excess(self.loads[src])
                + self.excess(self.loads[dst])
                - self.excess(self.loads[src] - w)
                - self.excess(self.loads[dst] + w)
            )
            if gain <= 1e-12:
                continue
            back = d.origin[g] == dst
            if max_moves is not None and not back and self.moves >= max_moves:
                continue
            # prefer what lowers the excess most, then a grid going back, then keeping villages
            same_village = sum(
                1 for h in self.adj[g] if self.beat[h] == dst and d.village[h] == d.village[g]
            )
            key = gain + 1e-9 * (2 * back + same_village)
            if (best is None or key > best[0]) and self.whole_without(src, g):
                best = (key, g, src, dst)
        return best

    def apply(self, g: int, src: int, dst: int) -> None:
        w = float(self.d.load[g])
        self.moves += int(self.d.origin[g] == src) - int(self.d.origin[g] == dst)
        self.loads[src] -= w
        self.loads[dst] += w
        self.members[src].discard(g)
        self.members[dst].add(g)
        self.beat[g] = dst

    def run(self, deadline: float, max_moves: int | None) -> int:
        """Moves until no beat out of tolerance has a helping move or the time is up."""
        done = 0
        stuck: set[int] = set()
        while time.monotonic() < deadline:
            excess = np.maximum(np.abs(self.loads / self.d.mean - 1.0) - self.tolerance, 0.0)
            order = [int(b) for b in np.argsort(-excess) if excess[b] > EPS]
            order = [b for b in order if b not in stuck and not self.d.beat_locked[b]]
            if not order:
                break
            b = order[0]
            move = self.best_move(b, max_moves)
            if move is None:
                stuck.add(b)
                continue
            _, g, src, dst = move
            self.apply(g, src, dst)
            stuck.discard(src)
            stuck.discard(dst)
            done += 1
        return done


def solve_local(
    d: Districting,
    *,
    tolerance: float,
    max_moves: int | None,
    seconds: float,
    region_seconds: float = 3.0,
) -> Outcome:
    """Single moves first (Greedy), then neighbourhoods of the beats still out of tolerance:
    such a beat and the beats around it are solved as a program with the rest held, kept when
    it lowers the excess over the tolerance there; then single moves again. Stops when every
    beat is within, nothing improves, or the time is up."""
    start = time.monotonic()
    deadline = start + seconds
    beat = d.beat.copy()
    floor, pinned = floor_of(d, tolerance)
    greedy = Greedy(d, beat, tolerance)
    single = greedy.run(deadline, max_moves)
    tried: set[int] = set(pinned)
    rings_of: dict[int, int] = {}
    rounds = 0
    while time.monotonic() < deadline:
        dev = deviations(d, beat)
        out = [
            int(b)
            for b in np.argsort(-np.abs(dev))
            if abs(dev[b]) > tolerance + EPS and not d.beat_locked[b] and int(b) not in tried
        ]
        if not out:
            break
        worst = out[0]
        rings = rings_of.get(worst, 1)
        region = _region(d, beat, worst, rings)
        sub, grids = _sub(d, beat, region)
        # moves the region's program cannot undo count against the cap as they are
        undoable = np.isin(d.origin[grids], region) & (beat[grids] != d.origin[grids])
        held = int(np.count_nonzero(beat != d.origin)) - int(np.count_nonzero(undoable))
        cap = None if max_moves is None else max(max_moves - held, 0)
        remaining = deadline - time.monotonic()
        found = _soft(
            sub, tolerance=tolerance, max_moves=cap, seconds=min(region_seconds, remaining)
        )
        rounds += 1
        before = _excess(sub, sub.beat, tolerance)
        after = _excess(sub, found.beat, tolerance)
        if after < before - 1e-9 and (pieces(sub, found.beat)[: sub.beats] == 1).all():
            beat[grids] = np.array(region)[found.beat]
            greedy = Greedy(d, beat, tolerance)
            single += greedy.run(deadline, max_moves)
            tried = set(pinned)
            rings_of.clear()
        elif rings < 2:
            rings_of[worst] = rings + 1
        else:
            tried.add(worst)
    note = f"{single} single moves, {rounds} neighbourhoods solved"
    if pinned:
        note += f"; {len(pinned)} beats cannot meet the tolerance (floor {floor * 100:.1f} %)"
    return Outcome(beat, "local", False, time.monotonic() - start, note)


def _excess(d: Districting, beat: np.ndarray, tolerance: float) -> float:
    """The largest excess over the tolerance and (a little) their sum, as fractions of the
    mean: what a region's answer must lower."""
    over = np.maximum(np.abs(deviations(d, beat)) - tolerance, 0.0)
    return float(over.max(initial=0.0)) + 1e-3 * float(over.sum())


def rebalance(
    d: Districting,
    *,
    tolerance: float,
    max_moves: int | None,
    seconds: float,
    exact_max_grids: int,
) -> Outcome:
    """Exact for a station of at most exact_max_grids grids, local search beyond."""
    if d.n <= exact_max_grids:
        return solve_exact(d, tolerance=tolerance, max_moves=max_moves, seconds=seconds)
    return solve_local(d, tolerance=tolerance, max_moves=max_moves, seconds=seconds)


# ----------------------------------------------------------------------------- the service


def districting_of(pg: PlanGrids, weights: Weights) -> tuple[Districting, np.ndarray]:
    """The districting of a plan's grids that are in a beat, and their indices in the plan."""
    inside = np.flatnonzero(pg.beat >= 0)
    local = {int(g): i for i, g in enumerate(inside)}
    edges = [(local[int(a)], local[int(b)]) for a, b in pg.edges if a in local and b in local]
    load = pg.grid_index(weights)[inside] / 100.0
    d = Districting(
        load=load,
        origin=pg.beat[inside].copy(),
        beats=len(pg.beats),
        edges=np.array(edges, dtype=np.int64).reshape(-1, 2),
        village=pg.villages[inside],
        grid_locked=pg.grid_locked[inside],
        beat_locked=pg.beat_locked,
    )
    return d, inside


async def plan_balance(
    conn: psycopg.AsyncConnection,
    *,
    plan: str,
    start: datetime | None,
    end: datetime | None,
    weights: Weights,
    tolerance: float,
    max_moves: int | None,
    seconds: float,
    exact_max_grids: int,
) -> dict[str, Any]:
    """The proposed moves of a plan's rebalance, why each, and every beat before and after."""
    if not 0 < tolerance < 1:
        raise InvalidParameter(
            "tolerance must be between 0 and 1 (0.10 is ±10 %).", parameter="tolerance"
        )
    pg = await load_plan_grids(conn, plan=plan, start=start, end=end)
    if len(pg.beats) < 2:
        raise InvalidParameter(
            f"Plan {plan} has fewer than two beats: nothing to balance.", parameter="code"
        )
    d, inside = districting_of(pg, weights)
    # the search runs in a worker thread: the service answers other requests meanwhile
    outcome = await asyncio.to_thread(
        rebalance,
        d,
        tolerance=tolerance,
        max_moves=max_moves,
        seconds=seconds,
        exact_max_grids=exact_max_grids,
    )
    return proposal_answer(
        pg, weights, d, inside, outcome, tolerance=tolerance, max_moves=max_moves
    )


def proposal_answer(
    pg: PlanGrids,
    weights: Weights,
    d: Districting,
    inside: np.ndarray,
    outcome: Outcome,
    *,
    tolerance: float,
    max_moves: int | None,
) -> dict[str, Any]:
    """The answer: met or not, the moves with their reasons, each beat before and after."""
    proposed = pg.beat.copy()
    proposed[inside] = outcome.beat
    before = beat_table(pg, weights)
    after = beat_table(pg, weights, proposed)
    dev_before = {r["code"]: r["deviation_pct"] for r in before}
    dev_after = {r["code"]: r["deviation_pct"] for r in after}
    codes = pg.beat_codes
    index = pg.grid_index(weights)
    moves = []
    for g in np.flatnonzero(proposed != pg.beat):
        src, dst = codes[int(pg.beat[g])], codes[int(proposed[g])]
        moves.append(
            {
                "grid": pg.grid_codes[g],
                "village": pg.village_codes[int(pg.villages[g])],
                "from": src,
                "to": dst,
                "workload": round(float(index[g]), 2),
                "relieves": src if dev_before[src] >= dev_before[dst] else dst,
                "from_deviation_pct": [dev_before[src], dev_after[src]],
                "to_deviation_pct": [dev_before[dst], dev_after[dst]],
            }
        )
    floor, pinned = floor_of(d, tolerance)
    worst_after = max((abs(v) for v in dev_after.values()), default=0.0)
    met = worst_after <= tolerance * 100 + 1e-6
    note = outcome.note
    if not met:
        note = (note + "; " if note else "") + (
            f"the tolerance ±{tolerance * 100:g} % cannot be met"
            + (f" within {max_moves} moves" if max_moves is not None else "")
            + f": the best found reaches ±{worst_after:.2f} %"
        )
    return {
        "plan": pg.plan,
        "from": pg.period[0],
        "to": pg.period[1],
        "weights": weights_answer(weights),
        "tolerance": tolerance,
        "max_moves": max_moves,
        "met": met,
        "optimal": outcome.optimal,
        "method": outcome.method,
        "seconds": round(outcome.seconds, 3),
        "max_deviation_pct_before": max((abs(v) for v in dev_before.values()), default=0.0),
        "max_deviation_pct_after": worst_after,
        "floor_pct": round(floor * 100, 2),
        "pinned_beats": [codes[b] for b in pinned],
        "moved_grids": len(moves),
        "note": note,
        "moves": moves,
        "beats": [{"before": b, "after": a} for b, a in zip(before, after, strict=True)],
        "patch": {
            "version": pg.plan.get("version"),
            "moves": [{"grid": m["grid"], "beat": m["to"]} for m in moves],
        },
    }
