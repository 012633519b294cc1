"""The edge-for-edge tiling proof (checks.tiles_exactly) against shapely's overlay on the sample.

It only ever says True when shapely agrees that each village's grids are exactly the village,
and says True for the sample as generated, so imports of good files skip the overlay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_service.ingest.imports.checks import tiles_exactly


@pytest.fixture(scope="module")
def villages(sample_path: Path) -> dict[str, shapely.Geometry]:
    frame = gpd.read_file(sample_path, layer="village")
    return dict(zip(frame.code, frame.geometry.values, strict=True))


def neighbours(grids: gpd.GeoDataFrame) -> tuple[int, int]:
    """Two grids of one village sharing a border."""
    tree = shapely.STRtree(grids.geometry.values)
    for a, b in tree.query(grids.geometry.values, predicate="touches").T:
        same_village = grids.village_code[a] == grids.village_code[b]
        if a < b and same_village and grids.geometry[a].intersection(grids.geometry[b]).length:
            return int(a), int(b)
    raise AssertionError("no neighbours")


def tiled_by_overlay(
    grids: gpd.GeoDataFrame, villages: dict[str, shapely.Geometry], tolerance_m2: float = 1e-2
) -> bool:
    """shapely's answer: each village's grids cover it, stay in it and do not overlap; never a
    yes without having looked at every grid."""
    checked = 0
    for code, members in grids.groupby("village_code"):
        if code not in villages:
            return False
        pieces, village = members.geometry.values, villages[code]
        union = shapely.union_all(pieces)
        metres = 1e10  # a square degree is about 1e10 m² here
        if shapely.symmetric_difference(union, village).area * metres > tolerance_m2:
            return False
        if (shapely.area(pieces).sum() - union.area) * metres > tolerance_m2:
            return False
        checked += len(members)
    return checked == len(grids) > 0  # a grid naming no village (NaN) is in no group


def _same(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return g


def _hole(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    at = shapely.get_point(shapely.maximum_inscribed_circle(g.geometry[0]), 0)
    g.loc[0, "geometry"] = g.geometry[0].difference(at.buffer(0.0001))
    return g


def _bulge(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    a, b = neighbours(g)
    middle = g.geometry[a].intersection(g.geometry[b]).interpolate(0.5, normalized=True)
    g.loc[b, "geometry"] = g.geometry[b].union(middle.buffer(0.0002).intersection(g.geometry[a]))
    return g


def _twice(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        gpd.pd.concat([g, g.iloc[[3]]], ignore_index=True), crs=g.crs, geometry="geometry"
    )


def _other_village(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g.loc[0, "village_code"] = next(c for c in g.village_code if c != g.village_code[0])
    return g


def _unknown_village(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g.loc[0, "village_code"] = "999999999999"
    return g


def _nudged(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g.loc[0, "geometry"] = shapely.affinity.translate(g.geometry[0], 1e-9, 0)
    return g


def _clockwise(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g["geometry"] = shapely.reverse(g.geometry.values)
    return g


def _merged(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    a, b = neighbours(g)
    g.loc[a, "geometry"] = shapely.coverage_union(g.geometry[a], g.geometry[b])
    return g.drop(index=b).reset_index(drop=True)


def _island(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A grid cut into a ring and the island in its hole (rings of their own)."""
    at = shapely.get_point(shapely.maximum_inscribed_circle(g.geometry[0]), 0)
    island = shapely.box(at.x - 1e-4, at.y - 1e-4, at.x + 1e-4, at.y + 1e-4)
    row = g.iloc[[0]].copy()
    row["geometry"] = [island]
    g.loc[0, "geometry"] = g.geometry[0].difference(island)
    return gpd.GeoDataFrame(gpd.pd.concat([g, row], ignore_index=True), geometry="geometry")


def _two_parts(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Two grids of a village that do not touch, stored as one two-part grid."""
    code = g.village_code.value_counts().index[0]
    members = g.index[g.village_code == code]
    a = members[0]
    b = next(i for i in members[1:] if not g.geometry[a].intersects(g.geometry[i]))
    g.loc[a, "geometry"] = shapely.MultiPolygon(
        [*shapely.get_parts(g.geometry[a]), *shapely.get_parts(g.geometry[b])]
    )
    return g.drop(index=b).reset_index(drop=True)


CASES: dict[str, tuple[Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame], bool]] = {
    "as generated": (_same, True),
    "a hole in a grid": (_hole, False),
    "a grid bulging into its neighbour": (_bulge, False),
    "a grid twice": (_twice, False),
    "a grid naming another village": (_other_village, False),
    "a grid naming no village": (_unknown_village, False),
    "a grid moved by 1e-9 degrees": (_nudged, False),
    "every ring clockwise": (_clockwise, True),
    "two neighbours merged": (_merged, True),
    "a grid with an island grid in its hole": (_island, True),
    "a grid in two parts": (_two_parts, True),
}


@pytest.mark.parametrize("case", CASES)
def test_the_proof_agrees_with_the_overlay(
    case: str, grids: gpd.GeoDataFrame, villages: dict[str, shapely.Geometry]
) -> None:
    change, expected = CASES[case]
    changed = change(grids.copy())
    proven = tiles_exactly(
        np.asarray(changed.geometry.values, dtype=object),
        changed.village_code.to_numpy(),
        villages,
    )
    assert proven == expected
    if proven:  # never a wrong "yes"
        assert tiled_by_overlay(changed, villages)
    if case != "a grid moved by 1e-9 degrees" and not expected:
        assert not tiled_by_overlay(changed, villages)
