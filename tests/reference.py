"""The independent side of spatial checks: the boundary rule computed with shapely."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely


class Reference:
    """The boundary rule computed with shapely: lowest-coded grid whose closed outline covers."""

    def __init__(self, sample_path: Path, grids: gpd.GeoDataFrame) -> None:
        self.grids = grids.sort_values("code").reset_index(drop=True)
        self.codes = self.grids["code"].to_numpy()
        self.villages = self.grids["village_code"].to_numpy()
        self.tree = shapely.STRtree(self.grids.geometry.values)
        beat_grid = pyogrio.read_dataframe(sample_path, layer="beat_grid", read_geometry=False)
        plans = pyogrio.read_dataframe(sample_path, layer="beat_plan", read_geometry=False)
        self.plans = plans[plans["status"] == "published"].copy()
        self.plans["effective_from"] = pd.to_datetime(self.plans["effective_from"], utc=True)
        self.beat_of = {
            (row.plan_code, row.grid_code): row.beat_code for row in beat_grid.itertuples()
        }

    def plan_at(self, at: str) -> str:
        moment = pd.Timestamp(at).tz_convert("UTC")
        live = self.plans[self.plans["effective_from"] <= moment]
        return live.sort_values("effective_from").iloc[-1]["code"]

    def locate(self, points: np.ndarray, at: str) -> list[tuple[str, str, str] | None]:
        """(village, grid, beat) codes for each point, None outside."""
        plan = self.plan_at(at)
        hit, idx = self.tree.query(points, predicate="intersects")
        best: dict[int, int] = {}
        for i, j in zip(hit, idx, strict=True):
            if i not in best or j < best[i]:  # grids are sorted by code: lowest index wins
                best[i] = j
        out: list[tuple[str, str, str] | None] = []
        for i in range(len(points)):
            if i not in best:
                out.append(None)
                continue
            grid = self.codes[best[i]]
            out.append((self.villages[best[i]], grid, self.beat_of.get((plan, grid))))
        return out


def shared_edge_points(grids: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> np.ndarray:
    """Points exactly on edges shared by two grids, and on the station's outer boundary.

    Vertices lie on a 2**-24 degree lattice, so a point at k/8 of a segment is exactly on it
    for GEOS and PostGIS alike.
    """
    owners: dict[tuple, set[int]] = defaultdict(set)
    for gi, geom in enumerate(grids.geometry.values):
        for poly in getattr(geom, "geoms", [geom]):
            ring = np.asarray(poly.exterior.coords)
            for a, b in itertools.pairwise(ring):
                owners[tuple(sorted((tuple(a), tuple(b))))].add(gi)
    shared = [seg for seg, who in owners.items() if len(who) >= 2]
    outer = [seg for seg, who in owners.items() if len(who) == 1]
    assert len(shared) > 100, "the sample should have many shared edges"
    picks = [shared[i] for i in rng.integers(0, len(shared), int(n * 0.8))]
    picks += [outer[i] for i in rng.integers(0, len(outer), n - len(picks))]
    a = np.array([p[0] for p in picks])
    b = np.array([p[1] for p in picks])
    k = rng.integers(1, 8, len(picks))[:, None] / 8.0
    return a + (b - a) * k


def shared_vertices(grids: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> np.ndarray:
    """Vertices that belong to two or more grids."""
    xy = [
        shapely.get_coordinates(shapely.get_exterior_ring(poly))
        for geom in grids.geometry.values
        for poly in getattr(geom, "geoms", [geom])
    ]
    stacked = np.vstack([np.unique(c, axis=0) for c in xy])
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    multi = uniq[counts >= 2]
    return multi[rng.integers(0, len(multi), n)]
