"""Roads: highways, main roads, village roads and farm tracks."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import Geometry
from shapely.geometry import LineString, MultiPoint, Polygon

from geo_service.sample import names as nm
from geo_service.sample.shapes import kmeans_pick, nearest, wiggly_path
from geo_service.sample.world import Scale, World


def build_roads(
    rng: np.random.Generator, world: World, scale: Scale
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
            LineString(wiggly_path(rng, mid - span * u, mid + span * u, 0.015, 100.0)),
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
        hubs = np.unique(nearest(kmeans_pick(rng, seeds, 40), seeds))
        for i, j in _spanning_tree_plus(rng, seeds[hubs], 0.3):
            a, b = hubs[i], hubs[j]
            name = f"{world.village_short[a]}—{world.village_short[b]}公路"
            add(name, "main", LineString(wiggly_path(rng, seeds[a], seeds[b], 0.04, 60.0)))
    streets = iter(nm.STREET_NAMES[4:])
    for i, j in _spanning_tree_plus(rng, seeds, 0.35):
        line = LineString(wiggly_path(rng, seeds[i], seeds[j], 0.06, 40.0))
        if world.village_kind[i] == world.village_kind[j] == "community":
            add(next(streets, f"{world.village_short[i]}路"), "main", line)
        else:
            add(f"{world.village_short[i]}—{world.village_short[j]}村道", "village", line)
    return roads


def build_tracks(rng: np.random.Generator, world: World) -> list[tuple[str, str, LineString]]:
    """Farm tracks from village centres into the fields, cut where they would cross water."""
    region = world.station_m.buffer(-10.0)
    still = [g for _, kind, g in world.water if kind in ("pond", "reservoir", "lake")]
    blocked = shapely.union_all([shapely.buffer(g, 5.0) for g in still]) if still else None
    out: list[tuple[str, str, LineString]] = []
    for v, p in enumerate(world.village_seed_m):
        if world.village_kind[v] == "community":
            continue
        for k in range(int(rng.integers(1, 4))):
            th = rng.uniform(0, 2 * np.pi)
            end = p + rng.uniform(300.0, 1_200.0) * np.array([np.cos(th), np.sin(th)])
            line = LineString(wiggly_path(rng, p, end, 0.08, 30.0))
            if blocked is not None:
                line = line.difference(blocked)
            name = f"{world.village_short[v]}机耕路{k + 1}"
            out.extend((name, "track", g) for g in _clip_lines(line, region, 50.0))
    return out


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
    one = wiggly_path(rng, centre, centre + half * u, amp, 60.0)
    two = wiggly_path(rng, centre, centre - half * u, amp, 60.0)
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


_KIND_RANK = {"highway": 0, "main": 1, "village": 2, "track": 3}


def node_roads(roads: list[tuple[str, str, LineString]]) -> list[tuple[str, str, LineString]]:
    """The roads as a connected, noded network: every crossing is an end of the pieces that
    meet there; a part made only of farm tracks that touches no other road (cut off by water)
    is left out; any other part is joined to the rest by a straight link road between their
    closest vertices (a village road; a track between tracks). Each piece keeps its road's name
    and kind."""
    pieces = _node(roads)
    for _ in range(10):
        parts = _components(pieces)
        if len(parts) == 1:
            return pieces
        main = max(parts, key=len)
        keep = [pieces[k] for k in main]
        links: list[tuple[str, str, LineString]] = []
        rest = shapely.get_coordinates([pieces[k][2] for k in main])
        rest_tree = shapely.STRtree(shapely.points(rest))
        for part in sorted((p for p in parts if p is not main), key=min):
            members = [pieces[k] for k in part]
            if all(kind == "track" for _, kind, _ in members):
                continue
            mine = shapely.get_coordinates([g for _, _, g in members])
            (i_mine, i_rest), dist = rest_tree.query_nearest(
                shapely.points(mine), return_distance=True, all_matches=False
            )
            best = int(np.argmin(dist))
            here, there = mine[i_mine[best]], rest[i_rest[best]]
            name, kind = min(((n, k) for n, k, _ in members), key=lambda nk: _KIND_RANK[nk[1]])
            keep += members
            link_kind = "village" if kind != "track" else "track"
            links.append((f"{name}连接线", link_kind, LineString([here, there])))
        pieces = _node(keep + links)
    raise AssertionError("the roads could not be joined into one network")


def _node(roads: list[tuple[str, str, LineString]]) -> list[tuple[str, str, LineString]]:
    """The roads cut at every crossing and touch; each piece named after the highest-ranking
    road it lies on (the first such road on a tie)."""
    lines = [g for _, _, g in roads]
    cut = shapely.get_parts(shapely.node(shapely.MultiLineString(lines)))
    tree = shapely.STRtree(lines)
    mids = shapely.line_interpolate_point(cut, 0.5, normalized=True)
    hit_piece, hit_road = tree.query(mids, predicate="dwithin", distance=1e-6)
    owner = np.full(len(cut), -1)
    for p, r in zip(hit_piece.tolist(), hit_road.tolist(), strict=True):
        o = owner[p]
        if o < 0 or (_KIND_RANK[roads[r][1]], r) < (_KIND_RANK[roads[o][1]], o):
            owner[p] = r
    if (owner < 0).any():
        raise AssertionError("a noded road piece lies on no road")
    order = np.lexsort(
        (shapely.get_coordinates(mids)[:, 1], shapely.get_coordinates(mids)[:, 0], owner)
    )
    return [(roads[owner[p]][0], roads[owner[p]][1], cut[p]) for p in order if cut[p].length > 0]


def _components(pieces: list[tuple[str, str, LineString]]) -> list[list[int]]:
    """The pieces grouped by connected part of the network (pieces meet at equal end points)."""
    parent = list(range(len(pieces)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    at: dict[tuple[float, float], int] = {}
    for k, (_, _, g) in enumerate(pieces):
        for end in (g.coords[0], g.coords[-1]):
            key = (end[0], end[1])
            if key in at:
                parent[find(k)] = find(at[key])
            else:
                at[key] = k
    groups: dict[int, list[int]] = {}
    for k in range(len(pieces)):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())
