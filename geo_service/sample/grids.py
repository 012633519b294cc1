"""Grids: a Voronoi tiling noded on the lattice, made contiguous and checked exact."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon

from geo_service.sample.shapes import kmeans_pick, nearest, sample_in
from geo_service.sample.world import LATTICE, Frame, Params


def grid_seeds(
    rng: np.random.Generator,
    params: Params,
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
        cand = sample_in(rng, cell, max(40, 25 * k))
        picked = kmeans_pick(rng, cand, k)
        gseed_list.append(picked)
        gvill_list.append(np.full(len(picked), i))
    gseeds = np.vstack(gseed_list)
    gvill = np.concatenate(gvill_list)
    return gseeds, gvill


def tile(
    frame: Frame, town_ll: Polygon, town_m: Polygon, seeds_m: np.ndarray
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
        owner[lost] = nearest(rep_m, seeds_m)
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


def adjacency(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def components(n: int, i: np.ndarray, j: np.ndarray, use: np.ndarray) -> np.ndarray:
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


def make_contiguous(
    labels: np.ndarray, i: np.ndarray, j: np.ndarray, w: np.ndarray, area: np.ndarray
) -> np.ndarray:
    """Relabel stray pieces so each label's atoms form one edge-connected piece.

    A label's largest piece (by area) keeps it; every other piece joins the neighbouring label
    with which it shares the longest boundary. Repeats until no label is split.
    """
    labels = labels.copy()
    n = len(labels)
    for _ in range(100):
        comp = components(n, i, j, labels[i] == labels[j])
        comp_area = np.bincount(comp, weights=area, minlength=n)
        comp_label = np.full(n, -1)
        comp_label[comp] = labels
        roots = np.flatnonzero(comp_label >= 0)
        best: dict[int, int] = {}
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
        choice: dict[int, int] = {}
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


def check_tiling(
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
