"""Water bodies (rivers, canals, reservoirs, lakes, ponds) and the markers on their shores."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import shapely
from shapely import Geometry
from shapely.geometry import LineString, Point, Polygon

from geo_service.sample import names as nm
from geo_service.sample.shapes import nearest, sample_in, scaled, star_polygon, wiggly_path
from geo_service.sample.world import DAY, END_OF_DATA, TZ, Params, Points, Scale, World, epoch, iso


def build_water(
    rng: np.random.Generator, world: World, params: Params, scale: Scale
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
    rng: np.random.Generator, world: World, inner: Polygon, scale: Scale
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


def _streams_and_canals(
    rng: np.random.Generator,
    world: World,
    params: Params,
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
                a = sample_in(rng, edge_band, 1)[0]
                b = shapely.get_coordinates(shapely.shortest_line(Point(a), river_union))[-1]
                pts = wiggly_path(rng, a, b, 0.05, 30.0)
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
    world: World,
    params: Params,
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
            p = sample_in(rng, region, 1)[0]
            k2 = 0.3 if kind == "reservoir" else 0.1
            blob = star_polygon(rng, p, 64, amp=0.5, kmax=6, k2=k2)
            blob = scaled(blob, p, np.sqrt(rng.uniform(*area_ha) * 1e4 / blob.area))
            if not inner.contains(blob):
                continue
            if any(shapely.dwithin(blob, g, 60.0) for _, _, g in water + out):
                continue
            if len(roads_tree.query(blob, predicate="dwithin", distance=20.0)):
                continue
            v = int(nearest(p[None, :], world.village_seed_m)[0])
            out.append((_water_name(kind, made, world.village_short[v], used_names), kind, blob))
            made += 1
    return out


def _ponds(
    rng: np.random.Generator,
    world: World,
    params: Params,
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
        blob = star_polygon(rng, p, 24, amp=0.6, kmax=5, k2=0.1)
        area = np.exp(rng.uniform(np.log(2_000.0), np.log(30_000.0)))
        ponds[k] = scaled(blob, p, np.sqrt(area / blob.area))
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
        v = int(nearest(centres[k][None, :], world.village_seed_m)[0])
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


def build_markers(rng: np.random.Generator, world: World) -> Points:
    """Markers on the shore (0.5-2.5 m outside the water); some shore stretches lack poles."""
    water = world.water_union()
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
    ok = world.accept_points(xy, water)
    xy, body, kind = xy[ok], body[ok], kind[ok]
    n = len(xy)
    status = rng.choice(["ok", "damaged", "missing"], n, p=[0.85, 0.08, 0.07])
    end = epoch(END_OF_DATA)
    t0, t1 = epoch(datetime(2021, 4, 1, tzinfo=TZ)), epoch(datetime(2026, 5, 31, tzinfo=TZ))
    installed = rng.integers(t0, t1, n)
    ago = np.where(rng.random(n) < 0.8, rng.uniform(1, 88, n), rng.uniform(92, 400, n)) * DAY
    inspected = np.maximum(end - ago.astype(np.int64), installed + DAY)
    inspected_text = iso(inspected)
    inspected_text[rng.random(n) < 0.03] = None
    codes = [f"WB{b + 1:05d}" for b in range(len(world.water))]
    return Points(
        xy,
        {
            "code": [f"WM{k + 1:06d}" for k in range(n)],
            "water_body_code": [codes[b] for b in body],
            "kind": kind.tolist(),
            "status": status.tolist(),
            "installed_at": list(iso(installed)),
            "last_inspected_at": list(inspected_text),
        },
    )
