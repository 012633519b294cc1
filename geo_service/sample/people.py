"""Beats and beat plans, people with their roles, and their assignments to areas."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from geo_service.sample import names as nm
from geo_service.sample.shapes import nearest
from geo_service.sample.world import DAY, TZ, Params, Points, World, epoch, iso

PLAN_META: dict[str, tuple[str, str, str | None]] = {
    "2025": ("2025年度警格方案", "published", "2025-07-01T00:00:00+08:00"),
    "2026": ("2026年度警格方案(调整)", "published", "2026-07-01T00:00:00+08:00"),
    "2027-draft": ("2027年度警格方案(草案)", "draft", None),
}


@dataclass
class Beats:
    """Beat membership per plan: plan code -> beat index of each grid."""

    codes: list[str]
    names: list[str]
    plans: dict[str, np.ndarray]


def build_beats(rng: np.random.Generator, world: World, params: Params, incidents: Points) -> Beats:
    """Beats of whole, edge-connected grids, balanced by workload; later plans move a few grids.

    A deterministic region growing over the rook adjacency graph: spopt's regionalisation is
    far too slow for 20,000 grids, and balance within a few per cent is all a sample needs.
    """
    n = len(world.grid_ll)
    k = params.beats
    xy_ll = world.frame.to_ll(incidents.xy_m)
    tree = shapely.STRtree(world.grid_ll)
    step = 200_000
    count = np.zeros(n)
    for s in range(0, len(xy_ll), step):
        _, hit_grid = tree.query(shapely.points(xy_ll[s : s + step]), predicate="within")
        count += np.bincount(hit_grid, minlength=n)
    area = shapely.area(world.frame.geom_to_m(world.grid_ll))
    work = count / max(count.mean(), 1e-9) + area / area.mean()
    gi, gj, _ = world.grid_adj
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(gi.tolist(), gj.tolist(), strict=True):
        nbrs[a].append(b)
        nbrs[b].append(a)
    centroid = shapely.get_coordinates(shapely.centroid(world.frame.geom_to_m(world.grid_ll)))
    beat = _grow_beats(rng, centroid, work, nbrs, k)
    beat = _rebalance(beat, work, nbrs, k)
    plans = {params.plans[0]: beat}
    if len(params.plans) > 1:
        moved: set[int] = set()
        plans["2026"] = _move_border_grids(rng, beat, nbrs, int(rng.integers(3, 6)), moved)
        plans["2027-draft"] = _move_border_grids(rng, plans["2026"], nbrs, 1, moved)
    width = 2 if k < 100 else 4
    codes = [f"B{b + 1:0{width}d}" for b in range(k)]
    names_ = [
        f"枫桥第{nm.chinese_numeral(b + 1)}警格" if k < 100 else f"警格{codes[b]}" for b in range(k)
    ]
    for plan, assign in plans.items():
        for b in range(k):
            members = np.flatnonzero(assign == b)
            if len(members) == 0 or not _connected(set(members.tolist()), nbrs):
                raise AssertionError(f"beat {codes[b]} of plan {plan} is empty or not contiguous")
    return Beats(codes, names_, plans)


def _grow_beats(
    rng: np.random.Generator, xy: np.ndarray, work: np.ndarray, nbrs: list[list[int]], k: int
) -> np.ndarray:
    """Grow k regions from workload-weighted k-means seeds, always feeding the lightest."""
    n = len(xy)
    centres = xy[rng.choice(n, k, replace=False, p=work / work.sum())].copy()
    for _ in range(10):
        lab = nearest(xy, centres)
        wsum = np.bincount(lab, weights=work, minlength=k)
        ok = wsum > 0
        for d in range(2):
            centres[ok, d] = np.bincount(lab, weights=work * xy[:, d], minlength=k)[ok] / wsum[ok]
    used = np.zeros(n, dtype=bool)
    seeds = []
    for c in centres:
        d = np.hypot(*(xy - c).T)
        d[used] = np.inf
        g = int(np.argmin(d))
        used[g] = True
        seeds.append(g)
    beat = np.full(n, -1)
    load = np.zeros(k)
    frontier: list[set[int]] = [set() for _ in range(k)]
    for b, g in enumerate(seeds):
        beat[g] = b
        load[b] = work[g]
    for b, g in enumerate(seeds):
        frontier[b].update(h for h in nbrs[g] if beat[h] < 0)
    heap = [(load[b], b) for b in range(k)]
    heapq.heapify(heap)
    while heap:
        lb, b = heapq.heappop(heap)
        if lb != load[b]:
            continue
        cand = sorted(h for h in frontier[b] if beat[h] < 0)
        frontier[b] = set(cand)
        if not cand:
            continue
        sx, sy = xy[seeds[b]]
        g = min(cand, key=lambda h: ((xy[h, 0] - sx) ** 2 + (xy[h, 1] - sy) ** 2, h))
        beat[g] = b
        load[b] += work[g]
        frontier[b].discard(g)
        frontier[b].update(h for h in nbrs[g] if beat[h] < 0)
        heapq.heappush(heap, (load[b], b))
    if (beat < 0).any():
        raise AssertionError("the grid adjacency graph is not connected")
    return beat


def _connected(members: set[int], nbrs: list[list[int]]) -> bool:
    """Whether a set of grids is edge-connected."""
    if not members:
        return False
    start = min(members)
    seen = {start}
    stack = [start]
    while stack:
        g = stack.pop()
        for h in nbrs[g]:
            if h in members and h not in seen:
                seen.add(h)
                stack.append(h)
    return len(seen) == len(members)


def _rebalance(beat: np.ndarray, work: np.ndarray, nbrs: list[list[int]], k: int) -> np.ndarray:
    """Move border grids from heavier to lighter neighbouring beats while both stay contiguous."""
    beat = beat.copy()
    load = np.bincount(beat, weights=work, minlength=k)
    members = [set(np.flatnonzero(beat == b).tolist()) for b in range(k)]
    for _ in range(40):
        moved = False
        for g in range(len(beat)):
            a = beat[g]
            options = sorted({beat[h] for h in nbrs[g] if beat[h] != a}, key=lambda b: (load[b], b))
            for b in options:
                if load[a] - load[b] <= work[g] or len(members[a]) < 2:
                    break
                members[a].discard(g)
                if _connected(members[a], nbrs):
                    members[b].add(g)
                    beat[g] = b
                    load[a] -= work[g]
                    load[b] += work[g]
                    moved = True
                    break
                members[a].add(g)
        if not moved:
            break
    return beat


def _move_border_grids(
    rng: np.random.Generator, beat: np.ndarray, nbrs: list[list[int]], count: int, moved: set[int]
) -> np.ndarray:
    """A copy of beat with count border grids moved to a neighbouring beat (all stay contiguous)."""
    beat = beat.copy()
    pairs = sorted(
        {(g, int(beat[h])) for g in range(len(beat)) for h in nbrs[g] if beat[h] != beat[g]}
    )
    donors: set[int] = set()
    done = 0
    for p in rng.permutation(len(pairs)):
        if done == count:
            break
        g, b = pairs[p]
        a = int(beat[g])
        # each beat gives at most one grid; g must still border b after earlier moves
        if g in moved or a in donors or a == b or all(beat[h] != b for h in nbrs[g]):
            continue
        rest = set(np.flatnonzero(beat == a).tolist()) - {g}
        if len(rest) < 2 or not _connected(rest, nbrs):
            continue
        beat[g] = b
        moved.add(g)
        donors.add(a)
        done += 1
    if done < count:
        raise AssertionError("could not move enough border grids between beats")
    return beat


def police_work_points(world: World, beats: Beats) -> list[tuple[str, str, np.ndarray]]:
    """One police work point per beat (first plan), on a road near the beat's middle."""
    first = next(iter(beats.plans.values()))
    road_xy, _ = world.road_points(("main", "village"), 30.0)
    road_xy = road_xy[world.accept_points(road_xy, world.water_union())]
    order = np.argsort(road_xy[:, 0], kind="stable")
    road_xy = road_xy[order]
    out = []
    for b in range(len(beats.codes)):
        area_m = world.frame.geom_to_m(shapely.coverage_union_all(world.grid_ll[first == b]))
        inner = area_m.buffer(-10.0)
        if inner.is_empty:
            inner = area_m
        minx, miny, maxx, maxy = inner.bounds
        lo, hi = np.searchsorted(road_xy[:, 0], [minx, maxx])
        cand = road_xy[lo:hi]
        cand = cand[(cand[:, 1] >= miny) & (cand[:, 1] <= maxy)]
        cand = cand[shapely.contains_xy(inner, cand[:, 0], cand[:, 1])]
        mid = np.array(shapely.get_coordinates(area_m.centroid)[0])
        if len(cand):
            p = cand[np.argmin(np.hypot(*(cand - mid).T))]
        else:
            p = np.array(shapely.get_coordinates(shapely.point_on_surface(inner))[0])
        out.append((f"{beats.names[b]}警务工作点", "police_work_point", p))
    return out


def build_people(
    rng: np.random.Generator, world: World, params: Params, beats: Beats
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, int]]]:
    """People with roles, their assignments with validity, and the patrolling officers.

    Returns persons, assignments and (person code, beat index) of the officers on patrol in
    the last published plan.
    """
    roles: list[str] = []
    assign: list[tuple[int, str, str, str, str | None, str | None, str | None]] = []
    plans = list(beats.plans)
    published = [p for p in plans if PLAN_META[p][1] == "published"]
    eff = {p: PLAN_META[p][2] for p in published}
    last = published[-1]
    officers: list[tuple[int, int]] = []
    replaced_beat = int(rng.integers(0, len(beats.codes))) if len(published) > 1 else -1

    def person(role: str) -> int:
        roles.append(role)
        return len(roles) - 1

    for b, code in enumerate(beats.codes):
        for role in ("community_officer", "auxiliary_officer", "auxiliary_officer"):
            p = person(role)
            for k, plan in enumerate(published):
                until = eff[published[k + 1]] if k + 1 < len(published) else None
                if role == "community_officer" and b == replaced_beat and plan != published[0]:
                    continue
                assign.append((p, role, "beat", code, plan, eff[plan], until))
            if not (role == "community_officer" and b == replaced_beat):
                officers.append((p, b))
        if b == replaced_beat:
            p = person("community_officer")
            assign.append((p, "community_officer", "beat", code, last, eff[last], None))
            officers.append((p, b))
    gw_start = "2025-01-01T00:00:00+08:00"
    replaced_grid = int(rng.integers(0, len(world.grid_code)))
    for g, code in enumerate(world.grid_code):
        p = person("grid_worker")
        change = "2026-03-01T00:00:00+08:00"
        assign.append(
            (p, "grid_worker", "grid", code, None, gw_start, change if g == replaced_grid else None)
        )
        if g == replaced_grid:
            q = person("grid_worker")
            assign.append((q, "grid_worker", "grid", code, None, change, None))
    for code in world.village_code:
        for role in ("police_assistant", "village_cadre"):
            p = person(role)
            assign.append((p, role, "village", code, None, gw_start, None))
    t0, t1 = epoch(datetime(2025, 1, 1, tzinfo=TZ)), epoch(datetime(2026, 6, 30, tzinfo=TZ))
    vol_village = rng.integers(0, len(world.village_code), params.volunteers)
    vol_from = iso((rng.integers(t0, t1, params.volunteers) // DAY) * DAY - 8 * 3600)
    for v, since in zip(vol_village.tolist(), vol_from, strict=True):
        p = person("volunteer")
        assign.append((p, "volunteer", "village", world.village_code[v], None, since, None))

    n = len(roles)
    codes = [f"P{k + 1:05d}" for k in range(n)]
    persons = pd.DataFrame(
        {
            "code": codes,
            "name": person_names(rng, n),
            "role": roles,
            "phone": phones(rng, n),
        }
    )
    assignments = pd.DataFrame(
        {
            "person_code": [codes[a[0]] for a in assign],
            "role": [a[1] for a in assign],
            "area_kind": [a[2] for a in assign],
            "area_code": [a[3] for a in assign],
            "plan_code": [a[4] for a in assign],
            "valid_from": [a[5] for a in assign],
            "valid_to": [a[6] for a in assign],
        }
    )
    return persons, assignments, [(codes[p], b) for p, b in officers]


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """n Chinese personal names: a surname and one or two given-name characters."""
    sur = np.array([s for s, _ in nm.SURNAMES])
    w = np.array([float(x) for _, x in nm.SURNAMES])
    first = sur[rng.choice(len(sur), n, p=w / w.sum())]
    chars = np.array(nm.GIVEN_NAME_CHARS)
    g1 = chars[rng.integers(0, len(chars), n)]
    g2 = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.72
    return [f"{a}{b}{c if t else ''}" for a, b, c, t in zip(first, g1, g2, two, strict=True)]


def phones(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct mobile-looking phone numbers (11 digits, starting with 1)."""
    prefixes = np.array(nm.MOBILE_PREFIXES)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        m = n - len(out)
        pre = prefixes[rng.integers(0, len(prefixes), m)]
        tail = rng.integers(0, 100_000_000, m)
        for p, t in zip(pre.tolist(), tail.tolist(), strict=True):
            s = f"{p}{t:08d}"
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out
