"""Travel time by road: the road layer as a junction-compressed graph per unit kind, one
shortest-path search from an incident, units and incident snapped to the nearest road."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

UNIT_KINDS = ("car", "motorbike", "ebike", "foot")
ROAD_KINDS = ("highway", "main", "village", "track")
# Speeds in km/h by unit kind and road kind; None: the unit may not use that road (expressways
# are for cars only). README "Recommended units" has the same table.
SPEEDS_KMH: dict[str, dict[str, float | None]] = {
    "car": {"highway": 80.0, "main": 40.0, "village": 25.0, "track": 12.0},
    "motorbike": {"highway": None, "main": 35.0, "village": 25.0, "track": 15.0},
    "ebike": {"highway": None, "main": 20.0, "village": 18.0, "track": 12.0},
    "foot": {"highway": None, "main": 5.0, "village": 5.0, "track": 4.5},
}
# From a point off the network to its nearest road (and from the road to the incident): in a
# straight line at the unit kind's farm-track speed.
ACCESS_ROAD_KIND = "track"
# Ends of roads that round to the same point on this grid (metres, EPSG:4549) are one junction.
NODE_GRID_M = 0.01


def speed_ms(unit_kind: str, road_kind: str) -> float | None:
    """Metres per second of a unit kind on a road kind (None: not allowed)."""
    kmh = SPEEDS_KMH[unit_kind][road_kind]
    return None if kmh is None else kmh / 3.6


@dataclass(frozen=True)
class Snaps:
    """Points snapped to the network of one unit kind: the chain each lies on, seconds along it
    from its start junction, and metres off the road."""

    chain: np.ndarray
    from_start_s: np.ndarray
    off_road_m: np.ndarray


class KindGraph:
    """The network as one unit kind may use it: junctions, chains between them (runs of road
    pieces through junction-less joints, in seconds), a search tree of the usable pieces. The
    search graph has one node more than the junctions, the origin's, whose two edges (to its
    chain's ends) are set for each search."""

    def __init__(self, net: RoadGraph, unit_kind: str) -> None:
        self.unit_kind = unit_kind
        speeds = np.array([speed_ms(unit_kind, k) or np.nan for k in ROAD_KINDS], dtype=np.float64)
        piece_speed = speeds[net.piece_kind]
        self.usable = ~np.isnan(piece_speed)
        # seconds of each piece for this kind (inf where it may not go)
        self.piece_s = np.where(
            self.usable, net.piece_len / np.nan_to_num(piece_speed, nan=1.0), np.inf
        )
        access = speed_ms(unit_kind, ACCESS_ROAD_KIND)
        assert access is not None
        self.access_ms = access
        self.net = net
        # the chains' seconds, and each piece's offset along its chain (chain direction)
        chain_s = np.zeros(len(net.chain_start))
        self.offset_s = np.zeros(len(net.piece_len))
        for c, pieces in enumerate(net.chain_pieces):
            total = 0.0
            for p in pieces:
                self.offset_s[p] = total
                total += self.piece_s[p]
            chain_s[c] = total
        self.chain_s = chain_s
        n = len(net.junctions)
        ok = np.isfinite(chain_s) & (net.chain_start != net.chain_end)
        a, b, w = net.chain_start[ok], net.chain_end[ok], chain_s[ok]
        rows = np.concatenate([a, b])
        cols = np.concatenate([b, a])
        weight = np.concatenate([w, w])
        # parallel chains between the same junctions: the fastest one
        order = np.lexsort((weight, cols, rows))
        rows, cols, weight = rows[order], cols[order], weight[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols = rows[first], cols[first]
        weight = np.maximum(weight[first], 1e-9)  # csgraph: a zero is no edge
        # the origin's row n last, two edges set per search
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n + 1))])
        indptr[-1] += 2
        self.graph = csr_matrix(
            (
                np.concatenate([weight, [1.0, 1.0]]),
                np.concatenate([cols, [0, 0]]).astype(np.int32),
                indptr.astype(np.int32),
            ),
            shape=(n + 1, n + 1),
        )
        self._search = threading.Lock()
        self.tree_pieces = np.flatnonzero(self.usable)
        self.tree = shapely.STRtree(net.piece_geom[self.tree_pieces])

    def snap(self, points: np.ndarray) -> Snaps | None:
        """Each point (shapely) snapped to its nearest usable road piece (None: no usable
        road at all)."""
        if not len(self.tree_pieces):
            return None
        net = self.net
        p = self.tree_pieces[self.tree.nearest(points)]
        lines = net.piece_geom[p]
        along = shapely.line_locate_point(lines, points)
        on_road = shapely.line_interpolate_point(lines, along)
        length = net.piece_len[p]
        share = np.divide(along, length, out=np.zeros(len(p)), where=length > 0)
        part = self.piece_s[p] * np.where(net.piece_forward[p], share, 1.0 - share)
        return Snaps(
            chain=net.piece_chain[p],
            from_start_s=self.offset_s[p] + part,
            off_road_m=shapely.distance(points, on_road),
        )

    def seconds_from(self, snaps: Snaps) -> np.ndarray:
        """Travel seconds from the first snapped point (the origin) to each of the others
        (inf: no road joins them): one Dijkstra search from the origin's own node, joined to
        its chain's two ends, plus the stretch along each target's chain, the direct way along
        a shared chain, and both off-road stretches."""
        net = self.net
        n = len(net.junctions)
        c = int(snaps.chain[0])
        from_start = float(snaps.from_start_s[0])
        to_start, to_end = from_start, float(self.chain_s[c]) - from_start
        start, end = int(net.chain_start[c]), int(net.chain_end[c])
        if start == end:  # a loop: its faster way round
            to_start = to_end = min(to_start, to_end)
        with self._search:
            self.graph.indices[-2:] = (start, end)
            self.graph.data[-2:] = (max(to_start, 1e-9), max(to_end, 1e-9))
            dist = dijkstra(self.graph, directed=True, indices=[n], min_only=True)
        chain = snaps.chain[1:]
        along = snaps.from_start_s[1:]
        best = np.minimum(
            dist[net.chain_start[chain]] + along,
            dist[net.chain_end[chain]] + self.chain_s[chain] - along,
        )
        best = np.where(chain == c, np.minimum(best, np.abs(along - from_start)), best)
        return best + (snaps.off_road_m[0] + snaps.off_road_m[1:]) / self.access_ms


class RoadGraph:
    """The road layer as junctions and chains: pieces whose ends meet (to NODE_GRID_M) are
    joined; a joint where exactly two pieces of one road kind meet is no junction, so a run of
    pieces between junctions is one chain (one edge of the search)."""

    def __init__(self, roads: Sequence[tuple[str, str, shapely.LineString]]) -> None:
        geoms = np.array([g for _, _, g in roads], dtype=object)
        self.piece_geom = geoms
        self.piece_code = [c for c, _, _ in roads]
        self.piece_kind = np.array([ROAD_KINDS.index(k) for _, k, _ in roads], dtype=np.int64)
        self.piece_len = shapely.length(geoms).astype(np.float64) if len(geoms) else np.zeros(0)
        ends = np.array(
            [[*g.coords[0][:2], *g.coords[-1][:2]] for g in geoms], dtype=np.float64
        ).reshape(-1, 4)
        keys = np.round(ends.reshape(-1, 2) / NODE_GRID_M).astype(np.int64)
        _, node = np.unique(keys, axis=0, return_inverse=True)
        node = node.reshape(-1, 2)  # each piece's start and end node
        n_nodes = int(node.max()) + 1 if len(node) else 0
        incident: list[list[int]] = [[] for _ in range(n_nodes)]  # pieces touching each node
        for p, (a, b) in enumerate(node.tolist()):
            incident[a].append(p)
            incident[b].append(p)
        # a joint of two pieces of different road kinds stays a junction, so that every chain
        # is of one road kind (usable by a unit kind, or not, as a whole)
        is_junction = np.array(
            [len(ps) != 2 or self.piece_kind[ps[0]] != self.piece_kind[ps[1]] for ps in incident],
            dtype=bool,
        )
        seen = np.zeros(len(geoms), dtype=bool)
        chain_start: list[int] = []
        chain_end: list[int] = []
        chain_pieces: list[list[int]] = []
        self.piece_chain = np.zeros(len(geoms), dtype=np.int64)
        self.piece_forward = np.ones(len(geoms), dtype=bool)

        def walk(start: int, first: int) -> None:
            """Follow pieces from a junction through joints to the next junction."""
            pieces: list[int] = []
            at, p = start, first
            while True:
                seen[p] = True
                forward = node[p, 0] == at
                self.piece_forward[p] = forward
                self.piece_chain[p] = len(chain_pieces)
                pieces.append(p)
                at = int(node[p, 1] if forward else node[p, 0])
                if is_junction[at]:
                    break
                nxt = [q for q in incident[at] if not seen[q]]
                if not nxt:  # back at the start of a loop of joints
                    break
                p = nxt[0]
            chain_start.append(start)
            chain_end.append(at)
            chain_pieces.append(pieces)

        for j in np.flatnonzero(is_junction).tolist():
            for p in incident[j]:
                if not seen[p]:
                    walk(j, p)
        for p in range(len(geoms)):  # loops with no junction at all: start anywhere
            if not seen[p]:
                is_junction[node[p, 0]] = True
                walk(int(node[p, 0]), p)
        # junctions renumbered 0..n-1
        junctions = np.flatnonzero(is_junction)
        index = np.full(n_nodes, -1, dtype=np.int64)
        index[junctions] = np.arange(len(junctions))
        self.junctions = junctions
        self.chain_start = index[np.array(chain_start, dtype=np.int64)]
        self.chain_end = index[np.array(chain_end, dtype=np.int64)]
        self.chain_pieces = chain_pieces
        self._kinds: dict[str, KindGraph] = {}

    def kind(self, unit_kind: str) -> KindGraph:
        """The graph as this unit kind may use it (built on first use)."""
        if unit_kind not in self._kinds:
            self._kinds[unit_kind] = KindGraph(self, unit_kind)
        return self._kinds[unit_kind]

    def travel_seconds(
        self,
        origin_xy: tuple[float, float],
        targets: Sequence[tuple[str, tuple[float, float] | None]],
    ) -> list[float | None]:
        """Seconds by road from the origin (x, y in EPSG:4549) to each target (unit kind, x, y;
        None: no position), one search per unit kind among the targets; None where no road the
        unit may use joins them."""
        out: list[float | None] = [None] * len(targets)
        for unit_kind in sorted({k for k, _ in targets}):
            where = [i for i, (k, xy) in enumerate(targets) if k == unit_kind and xy is not None]
            if not where:
                continue
            graph = self.kind(unit_kind)
            xy = np.array([origin_xy, *(targets[i][1] for i in where)], dtype=np.float64)
            snaps = graph.snap(shapely.points(xy))
            if snaps is None:
                continue
            for i, s in zip(where, graph.seconds_from(snaps).tolist(), strict=True):
                out[i] = s if np.isfinite(s) else None
        return out
