"""The sample's settings, coordinate frame and the world object every stage adds to."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely import Geometry
from shapely.geometry import LineString, Polygon

from geo_service.moments import STATION_TZ

STORAGE_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: all metric work
LATTICE = 2.0**-24  # degrees; every town/village/grid vertex is a multiple of this

STATION_CODE = "330681109"
STATION_NAME = "枫桥派出所"

TZ = STATION_TZ
DAY = 86_400
END_OF_DATA = datetime(2026, 11, 1, tzinfo=TZ)  # the moment the sample "is taken"

Scale = Literal["small", "large"]


@dataclass(frozen=True)
class Params:
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


PARAMS: dict[str, Params] = {
    "small": Params(
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
    "large": Params(
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


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """The random generator of one stage: default_rng seeded by (seed, stage), so stages are
    independent of each other and of the order of unrelated code."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


class Frame:
    """Explicit transforms between storage (EPSG:4326) and the metric CRS (EPSG:4549)."""

    def __init__(self) -> None:
        self._to_m = pyproj.Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
        self._to_ll = pyproj.Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)

    def to_m(self, xy: npt.ArrayLike) -> np.ndarray:
        """Lon/lat rows to metric rows."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        x, y = self._to_m.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def to_ll(self, xy: npt.ArrayLike) -> np.ndarray:
        """Metric rows to lon/lat rows."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        x, y = self._to_ll.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    @overload
    def geom_to_m(self, geom: np.ndarray) -> np.ndarray: ...
    @overload
    def geom_to_m(self, geom: Geometry) -> Geometry: ...
    def geom_to_m(self, geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
        """A geometry (or array of them) from lon/lat to metric."""
        return shapely.transform(geom, self.to_m)

    @overload
    def geom_to_ll(self, geom: np.ndarray) -> np.ndarray: ...
    @overload
    def geom_to_ll(self, geom: Geometry) -> Geometry: ...
    def geom_to_ll(self, geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
        """A geometry (or array of them) from metric to lon/lat."""
        return shapely.transform(geom, self.to_ll)


@overload
def quantise(geom: np.ndarray) -> np.ndarray: ...
@overload
def quantise(geom: Geometry) -> Geometry: ...
def quantise(geom: Geometry | np.ndarray) -> Geometry | np.ndarray:
    """Round every vertex to the 2**-24 degree lattice, vertex by vertex (shared stay shared)."""
    return shapely.transform(geom, lambda c: np.round(c * 2.0**24) / 2.0**24)


def epoch(dt: datetime) -> int:
    """Seconds since 1970 of an aware datetime."""
    return int(dt.timestamp())


def iso(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as ISO-8601 text with the +08:00 offset (Asia/Shanghai has no DST)."""
    local = (np.asarray(seconds, dtype=np.int64) + 8 * 3600).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s"), "+08:00").astype(object)


@dataclass
class World:
    """Everything generated so far; metric geometry ends in _m, lon/lat geometry in _ll."""

    frame: Frame
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

    def water_union(self) -> Geometry:
        """All water as one prepared metric geometry."""
        u = shapely.union_all([g for _, _, g in self.water])
        shapely.prepare(u)
        return u

    def accept_points(self, xy: np.ndarray, water: Geometry | None) -> np.ndarray:
        """Mask of metric points safely inside the station and not in water."""
        shapely.prepare(self.safe_m)
        ok = shapely.contains_xy(self.safe_m, xy[:, 0], xy[:, 1])
        if water is not None:
            ok &= ~shapely.contains_xy(water, xy[:, 0], xy[:, 1])
        return ok

    def road_points(self, kinds: tuple[str, ...], step: float) -> tuple[np.ndarray, np.ndarray]:
        """Points every step metres along roads of the given kinds, and the road index of each."""
        idx = [k for k, (_, kind, _) in enumerate(self.roads) if kind in kinds]
        lines = np.array([self.roads[k][2] for k in idx], dtype=object)
        dense = shapely.segmentize(lines, step)
        coords, which = shapely.get_coordinates(dense, return_index=True)
        return coords, np.array(idx)[which]


@dataclass
class Points:
    """A point layer in metric coordinates with its attribute columns."""

    xy_m: np.ndarray
    columns: dict[str, list]
