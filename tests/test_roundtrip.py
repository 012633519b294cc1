"""Export then import gives back the same features, for every layer in every format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo_service.db import connect
from geo_service.errors import InvalidParameter
from geo_service.ingest.imports import IMPORT_LAYERS, import_layer
from geo_service.services.export import FORMATS, export_to_file, get_format
from geo_service.services.layers import get_layer

CASES = [
    (layer, fmt)
    for layer in IMPORT_LAYERS
    for fmt in FORMATS
    if not (FORMATS[fmt].needs_geometry and not get_layer(layer).geometry)
    # events (20,000 incidents, 300,000 fixes) in the two formats they are exchanged in
    and (layer not in ("incident", "position_fix") or fmt in ("gpkg", "csv"))
]
KEYS = {"incident": "call_no"}


def _read_back(path: Path, fmt: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """The exported file read with GDAL/pandas directly (not through the importer)."""
    if fmt == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if fmt == "shp":
        with zipfile.ZipFile(path) as archive:
            inner = next(n for n in archive.namelist() if n.endswith(".shp"))
        return pyogrio.read_dataframe(f"/vsizip/{path}/{inner}")
    return pyogrio.read_dataframe(path)


@pytest.mark.parametrize("layer,fmt", CASES)
def test_export_then_import_gives_back_the_same_features(
    database_url: str, sample_path: Path, tmp_path: Path, layer: str, fmt: str
) -> None:
    spec = get_layer(layer)
    path = export_to_file(
        database_url,
        layer=spec,
        fmt=get_format(fmt, spec),
        path=tmp_path / f"{layer}{FORMATS[fmt].suffix}",
    )
    with connect(database_url) as conn:
        stored = conn.execute(f"SELECT count(*) FROM {layer}").fetchone()[0]
    assert stored == pyogrio.read_info(sample_path, layer=layer)["features"] > 0
    # the importer finds every feature already there, unchanged (a dry run: nothing is written)
    with connect(database_url) as conn:
        try:
            report = import_layer(
                conn, path, layer=layer, dry_run=True, crs="EPSG:4326" if fmt == "csv" else None
            )
        except InvalidParameter as error:
            pytest.fail(f"refused: {error.extra.get('report', error.detail)}")
    assert (report.rows_read, report.unchanged) == (stored, stored), report.to_dict()
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert not report.findings, report.to_dict()
    # and, independently of the importer, the file holds the sample's features
    if not spec.geometry or layer in ("beat", "position_fix"):
        return
    key = KEYS.get(layer, "code")
    original = gpd.read_file(sample_path, layer=layer).set_index(key)
    back = _read_back(path, fmt)
    back = back.rename(columns=lambda c: c.lower() if str(c).lower() == "name" else c)
    codes = back[key].astype(str)
    if fmt == "csv":
        geoms = (
            shapely.points(back["lon"].astype(float), back["lat"].astype(float))
            if "lon" in back
            else shapely.from_wkt(back["WKT"])
        )
    else:
        geoms = shapely.force_2d(np.asarray(back.geometry.values))
    assert sorted(codes) == sorted(original.index)
    want = original.geometry.loc[codes].values
    distance = shapely.hausdorff_distance(geoms, want, densify=0.25)
    assert np.max(distance) < 1e-9  # degrees: about 0.1 mm
    if "name" in original:
        assert list(back["name"].astype(str)) == list(original["name"].loc[codes].astype(str))


def test_every_layer_of_the_sample_is_a_case(sample_path: Path) -> None:
    """The cases above are not empty: every layer of the sample but its metadata, in GeoPackage
    and CSV at least."""
    layers = {name for name, _ in pyogrio.list_layers(sample_path)} - {"metadata"}
    assert set(IMPORT_LAYERS) == layers and len(layers) > 1
    assert {(layer, fmt) for layer in layers for fmt in ("gpkg", "csv")} <= set(CASES)
