"""The station area and its villages: real names and codes, synthetic shapes."""

from __future__ import annotations

import csv
import json

import numpy as np
import shapely
from shapely import Geometry
from shapely.geometry import Point, Polygon

from geo_service.crs import InputCRS, to_wgs84_arrays
from geo_service.sample import names as nm
from geo_service.sample.grids import (
    adjacency,
    check_tiling,
    components,
    grid_seeds,
    make_contiguous,
    tile,
)
from geo_service.sample.shapes import scaled, star_polygon
from geo_service.sample.world import STATION_CODE, Frame, Params, Scale, World, quantise
from geo_service.settings import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "data" / "boundaries" / "reference"
VILLAGES_CSV = "fengqiao_villages.csv"
OUTLINE_GEOJSON = "zhuji_outline.geojson"

SYNTHETIC_VILLAGE_PREFIX = "330681900"
TOWN_CENTRE_LONLAT = (120.36, 29.84)
TOWN_AREA_M2 = 160e6


def build_jurisdiction(
    rng: np.random.Generator, frame: Frame, params: Params, scale: Scale
) -> World:
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
    gseeds, gvill = grid_seeds(rng, params, town_m, seeds, [k == "community" for k in kinds])

    faces, face_seed = tile(frame, town_ll, town_m, gseeds)
    fi, fj, fw = adjacency(faces)
    # keep the faces connected to the main body of the town
    comp = components(len(faces), fi, fj, np.ones(len(fi), bool))
    area = shapely.area(faces)
    main = np.argmax(np.bincount(comp, weights=area))
    keep = comp == main
    faces, face_seed, area = faces[keep], face_seed[keep], area[keep]
    fi, fj, fw = adjacency(faces)
    face_seed = make_contiguous(face_seed, fi, fj, fw, area)

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

    gi, gj, gw = adjacency(grid_ll)
    grid_vill = make_contiguous(grid_vill, gi, gj, gw, shapely.area(grid_ll))

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

    grid_ll = quantise(grid_ll)
    village_ll = quantise(village_ll)
    station_ll = quantise(station_ll)
    check_tiling(station_ll, village_ll, grid_ll, grid_vill)
    station_m = frame.geom_to_m(station_ll)
    return World(
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
        grid_adj=adjacency(grid_ll),
    )


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


def _town_blob(rng: np.random.Generator, outline_m: Polygon, centre: np.ndarray) -> Polygon:
    """An irregular smooth town of about TOWN_AREA_M2 around centre, clipped inside the county."""
    unit = star_polygon(rng, np.zeros(2), 720, amp=0.4, kmax=14, decay=1.3)
    unit = shapely.transform(unit, lambda c: c + centre)
    limit = outline_m.buffer(-400.0)

    def clipped(radius: float) -> Polygon:
        return _largest_polygon(scaled(unit, centre, radius).intersection(limit))

    lo, hi = 2_000.0, 15_000.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if clipped(mid).area < TOWN_AREA_M2:
            lo = mid
        else:
            hi = mid
    return clipped(0.5 * (lo + hi))


def _village_seeds(
    rng: np.random.Generator,
    params: Params,
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
