"""Events: incidents over a year and the position fixes of officers on patrol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from shapely import Geometry
from tqdm import tqdm

from geo_service.sample.people import PLAN_META, Beats, phones
from geo_service.sample.shapes import sample_in
from geo_service.sample.world import DAY, END_OF_DATA, TZ, Params, Points, World, epoch, iso

INCIDENT_START = datetime(2025, 11, 1, tzinfo=TZ)
INCIDENT_DAYS = 365  # 2025-11-01 .. 2026-10-31
FIX_START = datetime(2026, 10, 1, tzinfo=TZ)

_CATEGORY_SHARE: dict[str, float] = {
    "theft": 0.16,
    "fraud": 0.09,
    "dispute": 0.22,
    "traffic": 0.17,
    "public_order": 0.08,
    "assistance": 0.14,
    "drowning": 0.004,
    "non_police": 0.136,
}

# Where each category happens: weights over the hot-spot sources of build_incidents.
_CATEGORY_SOURCES: dict[str, dict[str, float]] = {
    "theft": {"rental": 0.35, "market": 0.2, "community": 0.25, "village": 0.1, "road": 0.05,
              "background": 0.05},
    "fraud": {"rental": 0.3, "community": 0.4, "village": 0.2, "background": 0.1},
    "dispute": {"rental": 0.3, "community": 0.3, "village": 0.25, "market": 0.1,
                "background": 0.05},
    "traffic": {"road": 0.85, "community": 0.1, "background": 0.05},
    "public_order": {"market": 0.3, "community": 0.4, "rental": 0.2, "road": 0.1},
    "assistance": {"community": 0.3, "village": 0.3, "road": 0.2, "background": 0.2},
    "drowning": {"shore": 1.0},
    "non_police": {"community": 0.35, "village": 0.35, "rental": 0.2, "background": 0.1},
}  # fmt: skip

# Hour-of-day rhythm (00..23) per category: night low, evening peaks, rush hours for traffic.
_HOURS_BASE = [2, 1, 1, 1, 1, 2, 4, 7, 9, 9, 9, 9, 8, 8, 9, 9, 9, 10, 11, 12, 12, 10, 7, 4]
_HOURS: dict[str, Sequence[float]] = {
    "theft": [3, 3, 2, 2, 1, 1, 2, 4, 6, 8, 9, 9, 8, 8, 9, 9, 9, 10, 10, 10, 9, 8, 6, 4],
    "fraud": [1, 1, 0.5, 0.5, 0.5, 0.5, 1, 3, 7, 10, 11, 11, 9, 9, 11, 11, 10, 9, 8, 8, 7, 5, 3, 2],
    "dispute": [4, 3, 2, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 8, 10, 13, 15, 15, 13, 9, 6],
    "traffic": [2, 1, 1, 1, 1, 3, 7, 14, 12, 7, 6, 7, 8, 7, 6, 7, 9, 14, 13, 8, 6, 5, 4, 3],
    "public_order": [8, 7, 5, 3, 2, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 6, 7, 9, 11, 13, 14, 13, 11],
    "assistance": _HOURS_BASE,
    "drowning": [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 15, 14, 10, 6,
                 3, 1, 0.5, 0.3],
    "non_police": _HOURS_BASE,
}  # fmt: skip
_WEEKDAY = [0.95, 0.93, 0.95, 0.98, 1.08, 1.12, 1.02]  # Monday .. Sunday
_DROWNING_MONTH = [0.05, 0.05, 0.1, 0.3, 0.8, 2.5, 4.0, 3.5, 0.8, 0.3, 0.1, 0.05]  # Jan .. Dec


def build_incidents(
    rng: np.random.Generator, world: World, params: Params, rentals: Points, progress: bool
) -> Points:
    """Incidents over a year with hot spots, hour-of-day, weekday and seasonal rhythm."""
    water = world.water_union()
    comm = np.array([k == "community" for k in world.village_kind])
    comm_grid = world.grid_seed_m[comm[world.grid_village]]
    markets = np.array([xy for _, kind, xy in world.places if kind == "market"])
    road_xy, road_idx = world.road_points(("highway", "main", "village"), 25.0)
    road_kind = np.array([world.roads[k][1] for k in road_idx])
    busy = np.where(road_kind == "village", 1.0, 3.0)
    shore = np.vstack(
        [
            shapely.get_coordinates(shapely.segmentize(shapely.boundary(g), 20.0))
            for _, _, g in world.water
        ]
    )
    minx, miny, maxx, maxy = world.safe_m.bounds
    sources = {
        "rental": (rentals.xy_m, 30.0, None),
        "market": (markets, 90.0, None),
        "community": (comm_grid if len(comm_grid) else world.village_seed_m, 160.0, None),
        "village": (world.village_seed_m, 280.0, None),
        "road": (road_xy, 12.0, busy / busy.sum()),
        "shore": (shore, 8.0, None),
    }
    start = epoch(INCIDENT_START)
    day = np.arange(INCIDENT_DAYS)
    dates = np.datetime64("2025-11-01") + day
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    month = dates.astype("datetime64[M]").astype(int) % 12
    base_day = np.array(_WEEKDAY)[weekday]
    base_day *= 1.0 + 0.12 * np.cos(2 * np.pi * (day - 270) / 365.0)  # a little busier in summer
    festival = (dates >= np.datetime64("2026-02-10")) & (dates <= np.datetime64("2026-02-24"))
    xs: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    cats: list[np.ndarray] = []
    cat_names = list(_CATEGORY_SHARE)
    bar = tqdm(total=params.incidents, desc="incidents", disable=not progress, leave=False)
    for ci, cat in enumerate(cat_names):
        n = round(params.incidents * _CATEGORY_SHARE[cat])
        if ci == len(cat_names) - 1:
            n = params.incidents - sum(len(t) for t in ts)
        mix = _CATEGORY_SOURCES[cat]
        got, total = [], 0
        while total < n:
            m = int((n - total) * 1.25) + 64
            keys = list(mix)
            src = rng.choice(len(keys), m, p=np.array([mix[k] for k in keys]))
            xy = np.empty((m, 2))
            for s, key in enumerate(keys):
                sel = np.flatnonzero(src == s)
                if key == "background":
                    xy[sel] = rng.uniform((minx, miny), (maxx, maxy), (len(sel), 2))
                    continue
                anchors, sigma, p = sources[key]
                pick = rng.choice(len(anchors), len(sel), p=p)
                xy[sel] = anchors[pick] + rng.normal(0, sigma, (len(sel), 2))
            ok = world.accept_points(xy, None if cat == "drowning" else water)
            got.append(xy[ok])
            total += int(ok.sum())
        xs.append(np.vstack(got)[:n])
        w_day = base_day.copy()
        if cat == "drowning":
            w_day = np.array(_DROWNING_MONTH)[month] * (1.0 + 0.3 * (weekday >= 5))
        elif cat in ("theft", "dispute", "public_order"):
            w_day = w_day * np.where(festival, 1.35, 1.0)
        hours = np.array(_HOURS[cat], dtype=float)
        d = rng.choice(INCIDENT_DAYS, n, p=w_day / w_day.sum())
        h = rng.choice(24, n, p=hours / hours.sum())
        ts.append(start + d * DAY + h * 3600 + rng.integers(0, 3600, n))
        cats.append(np.full(n, cat, dtype=object))
        bar.update(n)
    bar.close()
    xy = np.vstack(xs)
    t = np.concatenate(ts)
    category = np.concatenate(cats)
    order = np.lexsort((rng.random(len(t)), t))
    xy, t, category = xy[order], t[order], category[order]
    n = len(t)
    status = np.full(n, "closed", dtype=object)
    np_mask = category == "non_police"
    status[np_mask & (rng.random(n) < 0.9)] = "diverted"
    recent = (t >= epoch(END_OF_DATA) - 3 * 3600) & ~np_mask
    status[recent] = rng.choice(
        ["received", "dispatched", "arrived", "closed"], int(recent.sum()), p=[0.25, 0.3, 0.3, 0.15]
    )
    local_day = (t + 8 * 3600) // DAY
    first = np.searchsorted(local_day, local_day, side="left")
    seq = np.arange(n) - first + 1
    ymd = np.datetime_as_string(local_day.astype("datetime64[D]"), unit="D")
    ymd = np.char.replace(ymd, "-", "")
    call_no = [f"110{d}{s:06d}" for d, s in zip(ymd.tolist(), seq.tolist(), strict=True)]
    return Points(
        xy,
        {
            "call_no": call_no,
            "received_at": list(iso(t)),
            "category": category.tolist(),
            "status": status.tolist(),
        },
    )


# Caller phones (issue 12 §6): about half the calls give one; some callers call again, about
# the same matter, within days (repeat callers, 重复报警).
CALLER_SHARE = 0.5  # calls that give a phone
CALLER_AGAIN = 0.15  # of those, calls from a caller who called shortly before
CALLER_LOOKBACK = 200  # an earlier call among the last this many with a phone (about a week)


def caller_phones(rng: np.random.Generator, incidents: Points) -> list[str | None]:
    """A caller phone for about half the incidents (None for the rest), in time order: most
    from callers who call once, the others the phone of the nearest call among the last
    CALLER_LOOKBACK with a phone (the same caller again, about the same place or matter)."""
    n = len(incidents.columns["call_no"])
    given = np.flatnonzero(rng.random(n) < CALLER_SHARE)  # incidents are in time order
    again = rng.random(len(given)) < CALLER_AGAIN
    again[0] = False
    fresh = iter(phones(rng, int((~again).sum())))
    out: list[str | None] = [None] * n
    xy = incidents.xy_m
    for k, i in enumerate(given.tolist()):
        if not again[k]:
            out[i] = next(fresh)
            continue
        earlier = given[max(0, k - CALLER_LOOKBACK) : k]
        nearest = earlier[np.argmin(np.hypot(*(xy[earlier] - xy[i]).T))]
        out[i] = out[nearest]
    return out


@dataclass
class _PatrolGraph:
    """Points of a beat (road points and free points) linked to their nearest neighbours."""

    pool: np.ndarray
    on_road: list[bool]
    near: list[list[int]]
    unit: list[list[tuple[float, float]]]

    @classmethod
    def build(cls, rng: np.random.Generator, area_m: Geometry, road_xy: np.ndarray) -> _PatrolGraph:
        """The patrol graph of one beat area (metric)."""
        shapely.prepare(area_m)
        on_road = road_xy[shapely.contains_xy(area_m, road_xy[:, 0], road_xy[:, 1])]
        on_road = np.unique(np.round(on_road, 1), axis=0)
        inner = area_m.buffer(-20.0)
        free = sample_in(rng, inner if not inner.is_empty else area_m, 40)
        pool = np.vstack([on_road, free])
        d = np.sqrt(((pool[:, None, :] - pool[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        k = min(8, len(pool) - 1)
        near = np.argsort(d, axis=1, kind="stable")[:, :k]
        vec = pool[near] - pool[:, None, :]
        unit = vec / np.maximum(np.hypot(vec[..., 0], vec[..., 1]), 1e-9)[..., None]
        return cls(
            pool,
            [True] * len(on_road) + [False] * len(free),
            near.tolist(),
            [[(float(x), float(y)) for x, y in row] for row in unit],
        )

    def walk(
        self, rng: np.random.Generator, start: int, length: float, driving: bool
    ) -> np.ndarray:
        """A random walk of at least length metres that prefers to keep its direction."""
        path = [start]
        cur, prev = start, -1
        hx = hy = 0.0
        total = 0.0
        draws = rng.random(4_096)
        for step in range(4_096):
            if total >= length:
                break
            opts = [m for m, j in enumerate(self.near[cur]) if j != prev]
            if driving:
                opts = [m for m in opts if self.on_road[self.near[cur][m]]] or opts
            w = [
                np.exp(1.5 * (hx * self.unit[cur][m][0] + hy * self.unit[cur][m][1])) for m in opts
            ]
            r = draws[step] * sum(w)
            pick = opts[-1]
            for m, wm in zip(opts, w, strict=True):
                r -= wm
                if r <= 0:
                    pick = m
                    break
            nxt = self.near[cur][pick]
            hx, hy = self.unit[cur][pick]
            total += float(np.hypot(*(self.pool[nxt] - self.pool[cur])))
            prev, cur = cur, nxt
            path.append(cur)
        return self.pool[path]


def build_fixes(
    rng: np.random.Generator,
    world: World,
    params: Params,
    beats: Beats,
    officers: list[tuple[str, int]],
) -> Points:
    """Patrol sessions of the beat officers: along roads and through their beat, a fix per 30 s."""
    plan = [p for p in beats.plans if PLAN_META[p][1] == "published"][-1]
    assign = beats.plans[plan]
    if params.fix_officers is not None:
        officers = [
            officers[k]
            for k in sorted(rng.choice(len(officers), params.fix_officers, replace=False))
        ]
    road_xy, _ = world.road_points(("highway", "main", "village", "track"), 150.0)
    work_points = {name: xy for name, kind, xy in world.places if kind == "police_work_point"}
    pools: dict[int, _PatrolGraph] = {}
    start0 = epoch(FIX_START)
    out_xy, out_t, out_who = [], [], []
    for code, b in officers:
        if b not in pools:
            area_m = world.frame.geom_to_m(shapely.coverage_union_all(world.grid_ll[assign == b]))
            pools[b] = _PatrolGraph.build(rng, area_m, road_xy)
        graph = pools[b]
        home = work_points.get(f"{beats.names[b]}警务工作点", graph.pool[0])
        home_k = int(np.argmin(np.hypot(*(graph.pool - home).T)))
        for day in range(params.fix_days):
            for session in range(2):
                if session == 0:
                    begin = start0 + day * DAY + int(rng.integers(8 * 3600, 10 * 3600 + 1800))
                else:
                    begin = start0 + day * DAY + int(rng.integers(18 * 3600 + 1800, 21 * 3600))
                duration = int(rng.uniform(3_600, 7_200))
                driving = bool(rng.random() < 0.45)
                # patrol cars average 3-6 m/s with stops; on foot 1.1-1.5 m/s
                speed = rng.uniform(3.0, 6.0) if driving else rng.uniform(1.1, 1.5)
                pts = graph.walk(rng, home_k, speed * duration, driving)
                cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
                tt = np.arange(0, duration + 1, 30)
                s = np.minimum(tt * speed, cum[-1])
                xy = np.column_stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])])
                xy += rng.normal(0, 4.0, xy.shape)
                out_xy.append(xy)
                out_t.append(begin + tt)
                out_who.append(np.full(len(tt), code, dtype=object))
    xy = np.vstack(out_xy)
    t = np.concatenate(out_t)
    who = np.concatenate(out_who)
    ok = world.accept_points(xy, None)
    xy, t, who = xy[ok], t[ok], who[ok]
    order = np.lexsort((t, who))
    return Points(
        xy[order], {"person_code": who[order].tolist(), "recorded_at": list(iso(t[order]))}
    )
