"""Export: every layer in every format opens with pyogrio and holds the sample's features."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import CRS, Transformer
from typer.testing import CliRunner

from geo_service.cli import app as cli
from geo_service.crs import wgs84_to_gcj02
from geo_service.services.export import FORMATS
from geo_service.services.layers import LAYERS, restore_column_names

AT_PLAN_2025 = "2026-01-15T09:00:00+08:00"
AT_PLAN_2026 = "2026-08-01T09:00:00+08:00"
# The layers as exported, with the sample's layer and what makes a row unique.
SMALL_LAYERS = [name for name in LAYERS if name not in ("position_fix",)]
KEYS = {
    "beat": ["plan_code", "code"],
    "beat_grid": ["plan_code", "grid_code"],
    "assignment": ["person_code", "role", "area_kind", "area_code", "plan_code", "valid_from"],
    "incident": ["call_no"],
    "position_fix": ["person_code", "recorded_at"],
    "duty_shift": ["call_sign", "starts_at"],
    "incident_step": ["call_no", "kind", "at", "source", "call_sign"],
    "patrol_water": ["water_body_code"],
    "inspection": ["client_id"],
    "sweep": ["name"],
    "sweep_grid": ["sweep_name", "grid_code"],
    "report": ["client_id"],
    "report_step": ["report_client_id", "kind", "at"],
}


def normal(value: object) -> str | None:
    """A value as comparable text: missing is None, numbers canonical, moments ISO 8601.

    Text formats give numbers as text ('3', '90.0'); codes stay text (they may be long digits).
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == time(0):  # a date read as a date (GeoJSON)
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, str):
        if not any(c in value for c in ".eE") or value.isalpha():
            return value
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def read_export(content: bytes, fmt: str, layer: str, tmp_path: Path) -> pd.DataFrame:
    """Open a downloaded file with pyogrio, contract column names restored."""
    path: Path | str = tmp_path / f"{layer}.{fmt}{'.zip' if fmt == 'shp' else ''}"
    Path(path).write_bytes(content)
    if fmt == "shp":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
        assert f"{layer}.shp" in names and f"{layer}.dbf" in names and f"{layer}.cpg" in names
        path = f"/vsizip/{path}/{layer}.shp"
    frame = pyogrio.read_dataframe(path)
    spec = LAYERS[layer]
    frame = frame.rename(columns=restore_column_names(spec, frame.columns))
    if fmt == "csv" and spec.geometry == "Point":
        frame = frame.set_geometry(
            shapely.points(frame["lon"].astype(float), frame["lat"].astype(float)), crs=4326
        )
    return frame


def sample_layer(sample_path: Path, layer: str) -> pd.DataFrame:
    """The sample's layer; beats with their outlines (shapely union of their grids)."""
    spec = LAYERS[layer]
    frame = pyogrio.read_dataframe(sample_path, layer=layer, read_geometry=bool(spec.geometry))
    for column in spec.columns:  # a column the sample does not write (patrol_water.unmarked_at)
        if column not in frame.columns:
            frame[column] = None
    if layer == "beat":
        grids = pyogrio.read_dataframe(sample_path, layer="grid").set_index("code")
        members = pyogrio.read_dataframe(sample_path, layer="beat_grid")
        outline = {
            (plan, beat): shapely.union_all(grids.loc[list(part["grid_code"])].geometry.values)
            for (plan, beat), part in members.groupby(["plan_code", "beat_code"])
        }
        frame = frame.set_geometry(
            [outline[(p, b)] for p, b in zip(frame["plan_code"], frame["code"], strict=True)],
            crs=4326,
        )
    return frame


def _index(frame: pd.DataFrame, key: list[str]) -> pd.Index:
    keys = pd.DataFrame({k: frame[k].map(normal) for k in key})
    return pd.MultiIndex.from_frame(keys) if len(key) > 1 else pd.Index(keys[key[0]])


def assert_same_features(got: pd.DataFrame, want: pd.DataFrame, layer: str, *, tol: float) -> None:
    """Same rows (by key), same contract attributes, geometry within tol degrees."""
    spec = LAYERS[layer]
    key = KEYS.get(layer, ["code"])
    assert len(got) == len(want), layer
    for column in spec.columns:
        assert column in got.columns, (layer, column, list(got.columns))
    left = pd.DataFrame({c: got[c].map(normal) for c in spec.columns})
    right = pd.DataFrame({c: want[c].map(normal) for c in spec.columns})
    left.index, right.index = _index(left, key), _index(right, key)
    assert left.index.is_unique
    left, right = left.sort_index(), right.sort_index()
    assert list(left.index) == list(right.index), layer
    pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=layer)
    if spec.geometry:
        g = pd.Series(list(got.geometry.values), index=left.index.copy()).loc[right.index]
        w = pd.Series(list(want.geometry.values), index=_index(want, key)).loc[right.index]
        distance = shapely.hausdorff_distance(np.asarray(g.values), np.asarray(w.values))
        assert float(np.max(distance)) < tol, layer


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_layer_exports_with_the_sample_features(
    client: TestClient, sample_path: Path, tmp_path: Path, fmt: str
) -> None:
    exported = refused = 0
    for layer in SMALL_LAYERS:
        spec = LAYERS[layer]
        reply = client.get(f"/api/v1/layers/{layer}.{fmt}")
        if FORMATS[fmt].needs_geometry and not spec.geometry:
            assert reply.status_code == 422
            assert reply.json()["parameter"] == "format"
            assert "geojson, gpkg, csv" in reply.json()["detail"]
            refused += 1
            continue
        assert reply.status_code == 200, (layer, reply.text)
        assert reply.headers["content-type"].startswith(FORMATS[fmt].media_type.split(";")[0])
        assert f'filename="{layer}{FORMATS[fmt].suffix}"' in reply.headers["content-disposition"]
        got = read_export(reply.content, fmt, layer, tmp_path)
        # every digit is kept
        tol = 1e-9
        assert_same_features(got, sample_layer(sample_path, layer), layer, tol=tol)
        exported += 1
    assert exported + refused == len(SMALL_LAYERS)
    assert exported == sum(1 for name in SMALL_LAYERS if LAYERS[name].geometry) or (
        not FORMATS[fmt].needs_geometry and exported == len(SMALL_LAYERS)
    )


def test_position_fixes_export_as_csv(
    client: TestClient, sample_path: Path, tmp_path: Path
) -> None:
    reply = client.get("/api/v1/layers/position_fix.csv")
    assert reply.status_code == 200
    assert reply.content.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
    got = read_export(reply.content, "csv", "position_fix", tmp_path)
    assert_same_features(got, sample_layer(sample_path, "position_fix"), "position_fix", tol=2e-7)


def test_csv_opens_in_gdal_with_geometry_and_text_codes(
    client: TestClient, sample_path: Path, tmp_path: Path, database_url: str
) -> None:
    """A point layer's CSV as QGIS opens a dropped file (GDAL, no open options): geometry from
    the WKT column, codes and phones as text with every leading zero."""
    want = sample_layer(sample_path, "rental_house").set_index("code")
    reply = client.get("/api/v1/layers/rental_house.csv")
    path = tmp_path / "download" / "rental_house.csv"
    path.parent.mkdir()
    path.write_bytes(reply.content)
    info = pyogrio.read_info(path)
    assert info["geometry_type"] in ("Point", "Unknown")
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["code"] == types["phone"] == "OFTString"
    got = pyogrio.read_dataframe(path).set_index("code")
    assert got.geometry.notna().all() and len(got) == len(want) > 0
    assert list(got["phone"]) == list(want.loc[got.index, "phone"])
    distance = shapely.distance(got.geometry.values, want.loc[got.index].geometry.values)
    assert float(np.max(distance)) < 1e-12
    # the command line leaves the .csvt and .prj beside it: types hold even when a reader
    # guesses them (QGIS's delimited-text path, AUTODETECT_TYPE), and the CRS is known
    out = tmp_path / "cli" / "rental_house.csv"
    result = CliRunner().invoke(
        cli,
        ["export", "--layer", "rental_house", "--format", "csv", "--out", str(out)],
        env={"DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert out.with_suffix(".csvt").is_file() and out.with_suffix(".prj").is_file()
    guessed = pyogrio.read_info(out, AUTODETECT_TYPE="YES")
    types = dict(zip(guessed["fields"], guessed["ogr_types"], strict=True))
    assert types["code"] == types["phone"] == "OFTString", types
    assert types["rooms"] == "OFTInteger64" and types["lon"] == "OFTReal"
    assert CRS(pyogrio.read_dataframe(out).crs).equals(CRS(4326), ignore_axis_order=True)
    plain = pyogrio.read_info(path, AUTODETECT_TYPE="YES")  # what the sidecar prevents
    assert dict(zip(plain["fields"], plain["ogr_types"], strict=True))["phone"] == "OFTInteger64"


def test_at_and_plan_pick_beats_and_assignments(
    client: TestClient, sample_path: Path, tmp_path: Path
) -> None:
    beats = sample_layer(sample_path, "beat")
    for at, plan in ((AT_PLAN_2025, "2025"), (AT_PLAN_2026, "2026")):
        reply = client.get("/api/v1/layers/beat.gpkg", params={"at": at})
        got = read_export(reply.content, "gpkg", "beat", tmp_path)
        want = beats[beats["plan_code"] == plan]
        assert_same_features(got, want, "beat", tol=1e-9)
    named = client.get("/api/v1/layers/beat.geojson", params={"plan": "2027-draft"})
    assert set(read_export(named.content, "geojson", "beat", tmp_path)["plan_code"]) == {
        "2027-draft"
    }
    assignments = sample_layer(sample_path, "assignment")
    start = pd.to_datetime(assignments["valid_from"], utc=True)
    end = pd.to_datetime(assignments["valid_to"], utc=True)
    moment = pd.Timestamp(AT_PLAN_2025)
    live = assignments[(start <= moment) & (end.isna() | (end > moment))]
    reply = client.get("/api/v1/layers/assignment.csv", params={"at": AT_PLAN_2025})
    got = read_export(reply.content, "csv", "assignment", tmp_path)
    assert 0 < len(live) < len(assignments)
    assert_same_features(got, live, "assignment", tol=0)


def test_crs_reprojects(client: TestClient, sample_path: Path, tmp_path: Path) -> None:
    want = sample_layer(sample_path, "water_marker")
    reply = client.get("/api/v1/layers/water_marker.gpkg", params={"crs": "EPSG:4549"})
    got = read_export(reply.content, "gpkg", "water_marker", tmp_path)
    assert got.crs.to_epsg() == 4549
    back = Transformer.from_crs(4549, 4326, always_xy=True)
    xy = shapely.get_coordinates(got.geometry.values)
    lon, lat = back.transform(xy[:, 0], xy[:, 1])
    got = got.set_geometry(shapely.points(lon, lat), crs=4326)
    assert_same_features(got, want, "water_marker", tol=1e-8)
    shifted = client.get("/api/v1/layers/water_marker.csv", params={"crs": "gcj02"})
    frame = pd.read_csv(io.BytesIO(shifted.content), encoding="utf-8-sig", dtype=str)
    frame = frame.set_index("code").loc[want["code"]]
    xy = shapely.get_coordinates(want.geometry.values)
    glon, glat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(frame["lon"].astype(float), glon, atol=2e-7)
    np.testing.assert_allclose(frame["lat"].astype(float), glat, atol=2e-7)
    assert np.all(np.abs(frame["lon"].astype(float) - xy[:, 0]) > 1e-3)  # GCJ-02 moved them


@pytest.mark.parametrize(
    ("url", "status", "parameter"),
    [
        ("/api/v1/layers/nope.gpkg", 404, "layer"),
        ("/api/v1/layers/grid.xlsx", 422, "format"),
        ("/api/v1/layers/person.shp", 422, "format"),
        ("/api/v1/layers/grid.gpkg?crs=EPSG:999999", 422, "crs"),
        ("/api/v1/layers/grid.kml?crs=EPSG:4549", 422, "crs"),
        ("/api/v1/layers/beat.gpkg?at=someday", 422, "at"),
        ("/api/v1/layers/beat.gpkg?plan=1999", 404, "plan"),
        ("/api/v1/layers/grid.gpkg?plan=2025", 422, "plan"),
    ],
)
def test_bad_requests_are_problems(client: TestClient, url: str, status: int, parameter: str):
    reply = client.get(url)
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["parameter"] == parameter


def test_cli_export(
    database_url: str, sample_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "beats.shp.zip"
    result = CliRunner().invoke(
        cli,
        ["export", "--layer", "beat", "--format", "shp", "--at", AT_PLAN_2026, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    got = read_export(out.read_bytes(), "shp", "beat", tmp_path)
    beats = sample_layer(sample_path, "beat")
    assert_same_features(got, beats[beats["plan_code"] == "2026"], "beat", tol=1e-9)
    bad = CliRunner().invoke(cli, ["export", "--layer", "person", "--format", "kml"])
    assert bad.exit_code == 1 and "geojson, gpkg, csv" in bad.output
