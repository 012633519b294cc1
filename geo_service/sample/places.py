"""Places, rental houses and cameras: points near village centres and along roads."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from shapely import Geometry
from shapely.geometry import Point

from geo_service.sample import names as nm
from geo_service.sample.people import person_names, phones
from geo_service.sample.world import DAY, END_OF_DATA, Params, Points, Scale, World, epoch, iso

TOWN_PREFIX = "诸暨市枫桥镇"


def build_places(
    rng: np.random.Generator, world: World, params: Params, scale: Scale
) -> list[tuple[str, str, np.ndarray]]:
    """Governance stations and village committees per village, schools, hospital, markets."""
    water = world.water_union()
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


def _point_near(
    rng: np.random.Generator,
    world: World,
    near: np.ndarray,
    sigma: float,
    water: Geometry | None,
    region: Geometry | None = None,
) -> np.ndarray:
    """One point near another, safely inside the station (and region), not in water."""
    for _ in range(200):
        p = near + rng.normal(0, sigma, 2)
        if world.accept_points(p[None, :], water)[0] and (
            region is None or region.contains(Point(p))
        ):
            return p
    base = region if region is not None else world.safe_m
    return np.array(shapely.get_coordinates(shapely.point_on_surface(base))[0])


def build_rentals(rng: np.random.Generator, world: World, params: Params, scale: Scale) -> Points:
    """Rental houses clustered in the communities, at village centres and along roads."""
    water = world.water_union()
    comm = np.array([k == "community" for k in world.village_kind])
    comm_grid = world.grid_seed_m[comm[world.grid_village]]
    road_xy, _ = world.road_points(("main", "village"), 40.0)
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
    end = epoch(END_OF_DATA)
    ago = rng.exponential(70.0, n)
    ago[rng.random(n) < 0.1] += 150.0
    check = end - (ago * DAY).astype(np.int64) - rng.integers(8 * 3600, 18 * 3600, n)
    check_text = iso(check)
    check_text[rng.random(n) < 0.03] = None
    return Points(
        xy,
        {
            "code": [f"RH{k + 1:06d}" for k in range(n)],
            "address": address,
            "landlord": person_names(rng, n),
            "phone": phones(rng, n),
            "rooms": rooms.tolist(),
            "tenants": tenants.tolist(),
            "last_fire_check_at": list(check_text),
        },
    )


def _mixture_points(
    rng: np.random.Generator,
    world: World,
    sources: list[tuple[np.ndarray, float, float]],
    n: int,
    water: Geometry | None,
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
        xy = xy[world.accept_points(xy, water)]
        got.append(xy)
        total += len(xy)
    return np.vstack(got)[:n]


def build_cameras(rng: np.random.Generator, world: World, params: Params) -> Points:
    """Cameras within 10 m of roads, looking along or across the road; denser near centres."""
    water = world.water_union()
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
    ok = world.accept_points(xy, water)
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
    return Points(
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
