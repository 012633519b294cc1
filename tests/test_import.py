"""Layer import: formats, CRSs, repairs, refusals with row numbers, topology, one transaction."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pyproj import Geod, Transformer
from typer.testing import CliRunner

from geo_service.accounts.roles import Role
from geo_service.cli import app as cli_app
from geo_service.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo_service.db import connect, drop_database
from geo_service.errors import InvalidParameter
from geo_service.ingest.imports import ImportReport, import_layer
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database, migrated_database, throwaway_url

TABLES = (
    "station",
    "village",
    "grid",
    "beat_plan",
    "beat",
    "beat_grid",
    "person",
    "assignment",
    "water_body",
    "water_marker",
    "rental_house",
    "camera",
    "place",
    "road",
    "incident",
    "position_fix",
    "duty_shift",
    "incident_step",
    "import_run",
)
GEOD = Geod(ellps="WGS84")
TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)


# --- databases --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template_url(sample_path: Path) -> Iterator[str]:
    """A database with the sample loaded; tests that write use copies of it."""
    with loaded_database("geo_import_tpl", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def planner_token(template_url: str) -> str:
    """A planner of the template database (imports over HTTP are for planners and leaders)."""
    return make_user(template_url, Role.planner)


@pytest.fixture
def db(template_url: str) -> Iterator[str]:
    """A throwaway copy of the loaded database for one test."""
    url = throwaway_url("geo_import")
    name = conninfo_to_dict(url)["dbname"]
    template = conninfo_to_dict(template_url)["dbname"]
    admin = conninfo_to_dict(template_url) | {"dbname": "postgres"}
    with connect(" ".join(f"{k}={v}" for k, v in admin.items()), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield url
    finally:
        drop_database(url)


def checksums(url: str) -> dict[str, str]:
    """Every table's rows as one md5: equal checksums mean nothing changed."""
    out = {}
    with connect(url) as conn:
        for table in TABLES:
            out[table] = conn.execute(
                sql.SQL(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' "
                    "ORDER BY t::text)), '') FROM {} t"
                ).format(sql.Identifier(table))
            ).fetchone()[0]
    return out


def run(url: str, path: Path, **options) -> ImportReport:
    with connect(url) as conn:
        return import_layer(conn, path, **options)


def refused(url: str, path: Path, **options) -> dict:
    """The report of an import that must be refused."""
    with pytest.raises(InvalidParameter) as caught:
        run(url, path, **options)
    report = caught.value.extra["report"]
    assert report["status"] == "refused"
    return report


def layer(sample_path: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(sample_path, layer=name)


# --- formats ----------------------------------------------------------------------------------


def write(frame: gpd.GeoDataFrame, folder: Path, fmt: str) -> Path:
    """The frame written in one format, as a user's desktop GIS would."""
    if fmt == "geojson":
        path = folder / "cameras.geojson"
        frame.to_file(path, driver="GeoJSON")
    elif fmt == "gpkg":
        path = folder / "cameras.gpkg"
        frame.to_file(path, layer="my_cameras", driver="GPKG")
        frame.head(1).to_file(path, layer="other", driver="GPKG")  # a second layer to choose from
    elif fmt in ("shp", "zip"):
        path = folder / "cameras_shp"
        frame.to_file(path, driver="ESRI Shapefile")
        if fmt == "zip":
            zipped = folder / "cameras.zip"
            with zipfile.ZipFile(zipped, "w") as archive:
                for part in path.iterdir():
                    archive.write(part, f"inner/{part.name}")
            path = zipped
    elif fmt == "kml":
        path = folder / "cameras.kml"
        frame.to_file(path, driver="KML")
    elif fmt == "csv_lonlat":
        path = folder / "cameras.csv"
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["lon"], table["lat"] = frame.geometry.x.map(repr), frame.geometry.y.map(repr)
        table.to_csv(path, index=False)
    else:  # csv_wkt
        path = folder / "cameras_wkt.csv"
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=-1)
        table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "zip", "kml", "csv_lonlat", "csv_wkt"])
def test_each_format_adds_cameras(
    template_url: str, sample_path: Path, tmp_path: Path, fmt: str
) -> None:
    cameras = layer(sample_path, "camera").head(25).copy()
    cameras["code"] = [f"X{fmt[:3].upper()}{i:04d}" for i in range(len(cameras))]
    cameras["heading"] = (cameras["heading"] + 1) % 360
    path = write(cameras, tmp_path, fmt)
    options = {"crs": "EPSG:4326"} if fmt.startswith("csv") else {}
    if fmt == "gpkg":
        options["source_layer"] = "my_cameras"
    before = checksums(template_url)
    report = run(template_url, path, layer="camera", mode="upsert", dry_run=True, **options)
    assert (report.status, report.rows_read, report.added, report.updated) == (
        "dry-run",
        25,
        25,
        0,
    )
    assert checksums(template_url) == before  # a dry run changes nothing
    url = template_url
    report = run(url, path, layer="camera", mode="upsert", **options)
    try:
        assert report.status == "imported" and report.added == 25, report.to_dict()
        with connect(url) as conn:
            rows = conn.execute(
                "SELECT code, heading, fov_deg, range_m, kind, name, ST_X(geom), ST_Y(geom) "
                "FROM camera WHERE code = ANY(%s) ORDER BY code",
                (list(cameras["code"]),),
            ).fetchall()
            recorded = conn.execute(
                "SELECT source_format, layer, rows_read FROM import_run WHERE id = %s",
                (report.import_id,),
            ).fetchone()
        assert recorded[1:] == ("camera", 25)
        want = cameras.sort_values("code")
        assert [r[0] for r in rows] == list(want["code"])
        assert np.allclose([r[1] for r in rows], want["heading"])
        assert [r[4] for r in rows] == list(want["kind"])
        assert [r[5] for r in rows] == list(want["name"])
        _, _, dist = GEOD.inv(
            [r[6] for r in rows], [r[7] for r in rows], want.geometry.x, want.geometry.y
        )
        assert np.max(dist) < 0.01
    finally:
        with connect(url) as conn:
            conn.execute("DELETE FROM camera WHERE code = ANY(%s)", (list(cameras["code"]),))
            conn.execute("DELETE FROM import_run")


def test_a_file_without_crs_is_refused_naming_crs(
    sample_path: Path, tmp_path: Path, template_url: str
) -> None:
    cameras = layer(sample_path, "camera").head(5)
    folder = write(cameras, tmp_path, "shp")
    (folder / "cameras_shp.prj").unlink()
    for path in (folder, write(cameras, tmp_path, "csv_lonlat")):
        report = refused(template_url, path, layer="camera", mode="upsert")
        assert "--crs" in report["refusals"][0]["message"]


# --- CRS conversion ---------------------------------------------------------------------------


def _forward(crs: str, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return wgs84_to_bd09(lon, lat)
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:4490", "gcj02", "bd09"])
def test_coordinates_are_converted_to_storage(
    db: str, sample_path: Path, tmp_path: Path, crs: str
) -> None:
    houses = layer(sample_path, "rental_house").head(300).copy()
    houses["code"] = [f"R{crs[-4:].upper()}{i:04d}" for i in range(len(houses))]
    lon, lat = houses.geometry.x.to_numpy(), houses.geometry.y.to_numpy()
    x, y = _forward(crs, lon, lat)
    if crs.startswith("EPSG"):  # the file names its CRS
        path = tmp_path / "houses.gpkg"
        gpd.GeoDataFrame(
            houses.drop(columns="geometry"), geometry=gpd.points_from_xy(x, y), crs=crs
        ).to_file(path)
        options = {}
    else:  # a phone-map export: lon/lat columns, CRS given by the user
        path = tmp_path / "houses.csv"
        table = pd.DataFrame(houses.drop(columns="geometry"))
        table["lng"], table["lat"] = [repr(float(v)) for v in x], [repr(float(v)) for v in y]
        table.to_csv(path, index=False)
        options = {"crs": crs}
    report = run(db, path, layer="rental_house", mode="upsert", **options)
    assert report.added == 300 and report.conversion, report.to_dict()
    with connect(db) as conn:
        stored = dict(
            (code, (x, y))
            for code, x, y in conn.execute(
                "SELECT code, ST_X(geom), ST_Y(geom) FROM rental_house WHERE code = ANY(%s)",
                (list(houses["code"]),),
            )
        )
    got = np.array([stored[c] for c in houses["code"]])
    _, _, dist = GEOD.inv(got[:, 0], got[:, 1], lon, lat)
    assert dist.max() < 0.03  # within a few centimetres of the originals


# --- repairs and refusals with row numbers ----------------------------------------------------


def _bowtie(geom: shapely.Geometry) -> shapely.Polygon:
    minx, miny, maxx, maxy = geom.bounds
    return shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy), (minx, miny)])


def test_invalid_geometry_is_repaired_and_listed_or_refused_with_strict(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    water = layer(sample_path, "water_body")
    water.loc[4, "geometry"] = _bowtie(water.geometry[4])
    path = tmp_path / "water.gpkg"
    water.to_file(path)
    report = run(template_url, path, layer="water_body", dry_run=True)
    repairs = report.to_dict()["repairs"]
    assert [r["rows"] for r in repairs] == [[5]]
    assert "Self-intersection" in repairs[0]["message"]
    assert report.status == "dry-run" and report.updated == 1
    strict = refused(template_url, path, layer="water_body", strict=True)
    assert strict["refusals"][0]["rows"] == [5] and "--strict" in strict["refusals"][0]["message"]


def test_wrong_type_missing_attribute_and_duplicate_code_are_refused_with_rows(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    grids.loc[2, "geometry"] = grids.geometry[2].centroid
    grids.loc[7, "name"] = ""
    grids.loc[11, "code"] = grids.loc[10, "code"]
    path = tmp_path / "grid.geojson"
    grids.to_file(path)
    before = checksums(template_url)
    report = refused(template_url, path, layer="grid")
    by_check = {r["check"]: r for r in report["refusals"]}
    assert by_check["geometry_type"]["rows"] == [3]
    assert by_check["missing_attribute"]["rows"] == [8]
    assert by_check["duplicate_code"]["rows"] == [11, 12]
    no_column = tmp_path / "grid_no_name.geojson"
    grids.drop(columns="name").to_file(no_column)
    report = refused(template_url, no_column, layer="grid")
    assert any("--map name=" in r["message"] for r in report["refusals"])
    assert checksums(template_url) == before


def test_map_renames_columns(template_url: str, sample_path: Path, tmp_path: Path) -> None:
    places = layer(sample_path, "place").rename(columns={"name": "名称", "kind": "type"})
    path = tmp_path / "places.gpkg"
    places.to_file(path)
    report = run(
        template_url, path, layer="place", mapping={"name": "名称", "kind": "type"}, dry_run=True
    )
    assert report.unchanged == len(places) and not report.findings


# --- topology ---------------------------------------------------------------------------------


def _metric(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geom, lambda xy: np.column_stack(TO_METRIC.transform(xy[:, 0], xy[:, 1]))
    )


def _neighbours(grids: gpd.GeoDataFrame) -> tuple[int, int]:
    """Two grids of the same village sharing a border."""
    for i, a in grids.iterrows():
        for j, b in grids.iterrows():
            if (
                j > i
                and a.village_code == b.village_code
                and a.geometry.intersection(b.geometry).length > 0.002
            ):
                return i, j
    raise AssertionError("no neighbours")


def test_gaps_and_overlaps_are_reported_with_their_area(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    villages = layer(sample_path, "village").set_index("code")
    a, b = _neighbours(grids)
    border = grids.geometry[a].intersection(grids.geometry[b])
    centre = border.interpolate(0.5, normalized=True)
    bulge = centre.buffer(0.0002)  # about 20 m, into grid a
    inner = shapely.maximum_inscribed_circle(grids.geometry[a])
    hole_at = shapely.get_point(inner, 0)
    hole = shapely.box(
        hole_at.x - 0.0002, hole_at.y - 0.0002, hole_at.x + 0.0002, hole_at.y + 0.0002
    )
    grids.loc[b, "geometry"] = grids.geometry[b].union(
        bulge.intersection(villages.geometry[grids.village_code[b]])
    )
    grids.loc[a, "geometry"] = grids.geometry[a].difference(hole)
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    report = run(template_url, path, layer="grid", dry_run=True).to_dict()
    overlaps = [w for w in report["warnings"] if w["check"] == "overlap"]
    gaps = [w for w in report["warnings"] if w["check"] == "gap"]
    assert len(overlaps) == 1 and len(gaps) == 1, report["warnings"]
    want_overlap = _metric(grids.geometry[a].intersection(grids.geometry[b])).area
    village = villages.geometry[grids.village_code[a]]
    want_gap = _metric(
        village.difference(
            shapely.union_all(grids.geometry[grids.village_code == grids.village_code[a]])
        )
    ).area
    assert overlaps[0]["area_m2"] == pytest.approx(want_overlap, rel=1e-3)
    assert sorted(overlaps[0]["codes"]) == sorted([grids.code[a], grids.code[b]])
    assert gaps[0]["area_m2"] == pytest.approx(want_gap, rel=1e-3)
    assert shapely.Point(gaps[0]["location"]).distance(hole) < 1e-6
    assert shapely.Point(overlaps[0]["location"]).distance(bulge) < 1e-6
    strict = refused(template_url, path, layer="grid", strict=True)
    assert {r["check"] for r in strict["refusals"]} == {"gap", "overlap"}


def test_slivers_are_snapped_and_reported(db: str, sample_path: Path, tmp_path: Path) -> None:
    grids = layer(sample_path, "grid")
    a, _ = _neighbours(grids)
    at = shapely.get_point(shapely.maximum_inscribed_circle(grids.geometry[a]), 0)
    sliver = shapely.box(at.x, at.y, at.x + 0.000005, at.y + 0.000005)  # about 0.25 m²
    grids.loc[a, "geometry"] = grids.geometry[a].difference(sliver)
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    report = run(db, path, layer="grid").to_dict()
    assert [s["check"] for s in report["snapped"]] == ["gap"] and not report["warnings"]
    assert report["snapped"][0]["area_m2"] == pytest.approx(_metric(sliver).area, rel=1e-3)
    with connect(db) as conn:
        area = conn.execute(
            "SELECT ST_Area(ST_Transform(geom, 4549)) FROM grid WHERE code = %s", (grids.code[a],)
        ).fetchone()[0]
    assert area == pytest.approx(_metric(layer(sample_path, "grid").geometry[a]).area, abs=0.01)


def test_a_grid_spanning_two_villages_is_reported(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    villages = layer(sample_path, "village").set_index("code")
    villages_metric = villages.to_crs(4549)
    for i, g in grids.to_crs(4549).iterrows():  # noqa: B007 (i is used after the loop)
        others = villages_metric[villages_metric.index != g.village_code]
        touching = others[others.geometry.intersection(g.geometry).length > 200]  # metres
        if len(touching):
            other = touching.index[0]
            break
    else:
        raise AssertionError("no grid borders another village for 200 m")
    border = grids.geometry[i].intersection(villages.geometry[other])
    grids.loc[i, "geometry"] = grids.geometry[i].union(
        border.interpolate(0.5, normalized=True)
        .buffer(0.0002)
        .intersection(villages.geometry[other])
    )
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    report = run(template_url, path, layer="grid", dry_run=True).to_dict()
    spans = [w for w in report["warnings"] if w["check"] == "spans"]
    assert len(spans) == 1 and other in spans[0]["codes"] and grids.code[i] in spans[0]["codes"]
    want = _metric(grids.geometry[i].difference(villages.geometry[grids.village_code[i]])).area
    assert spans[0]["area_m2"] == pytest.approx(want, rel=1e-3)


# --- one transaction, replacing grids ---------------------------------------------------------


def test_a_refused_file_changes_nothing(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    grids.loc[0, "geometry"] = grids.geometry[0].buffer(0.001)  # would change grid 0 ...
    grids.loc[30, "village_code"] = "999999999999"  # ... but row 31 names no village
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    before = checksums(template_url)
    report = refused(template_url, path, layer="grid")
    unknown = [r for r in report["refusals"] if r["check"] == "unknown_code"]
    assert unknown[0]["rows"] == [31] and "999999999999" in unknown[0]["message"]
    assert checksums(template_url) == before


def test_removing_a_grid_a_plan_uses_is_refused_with_the_reason(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    gone = grids.code[5]
    path = tmp_path / "grid.gpkg"
    grids.drop(index=5).to_file(path)
    before = checksums(template_url)
    report = refused(template_url, path, layer="grid")
    assert (
        gone in report["refusals"][0]["message"]
        and "beat plans" in report["refusals"][0]["message"]
    )
    assert checksums(template_url) == before


def test_moving_a_border_keeps_plans_and_restamps_events(
    db: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    a, b = _neighbours(grids)
    piece = grids.geometry[b].intersection(
        grids.geometry[a].intersection(grids.geometry[b]).buffer(0.002)
    )
    grids.loc[a, "geometry"] = grids.geometry[a].union(piece)
    grids.loc[b, "geometry"] = grids.geometry[b].difference(piece)
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    with connect(db) as conn:
        plans_before = conn.execute(
            "SELECT plan_id, grid_id, beat_id FROM beat_grid ORDER BY 1, 2"
        ).fetchall()
        ids_before = conn.execute("SELECT code, id FROM grid ORDER BY code").fetchall()
    report = run(db, path, layer="grid")
    # float noise where the moved border meets other grids may be snapped, never more
    assert report.updated >= 2 and (report.added, report.removed) == (0, 0)
    assert {f.kind for f in report.findings} <= {"snapped"}, report.findings
    assert report.restamped_incidents > 0
    with connect(db) as conn:
        assert (
            conn.execute("SELECT plan_id, grid_id, beat_id FROM beat_grid ORDER BY 1, 2").fetchall()
            == plans_before
        )
        assert conn.execute("SELECT code, id FROM grid ORDER BY code").fetchall() == ids_before
        wrong = conn.execute(
            """SELECT count(*) FROM incident i, areas_at(i.geom, i.received_at) s
               WHERE (i.grid_id, i.beat_id) IS DISTINCT FROM (s.grid_id, s.beat_id)"""
        ).fetchone()[0]
        in_piece = conn.execute(
            "SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id "
            "WHERE g.code = %s AND ST_Within(i.geom, ST_GeomFromText(%s, 4326))",
            (grids.code[a], piece.buffer(-1e-7).wkt),
        ).fetchone()[0]
    assert wrong == 0
    points = layer(sample_path, "incident")
    assert in_piece == int(points.geometry.within(piece.buffer(-1e-7)).sum()) > 0


# --- the command line and the API give the same report ----------------------------------------


def test_the_api_and_the_command_line_give_the_same_report(
    template_url: str, planner_token: str, sample_path: Path, tmp_path: Path
) -> None:
    water = layer(sample_path, "water_body")
    water.loc[4, "geometry"] = _bowtie(water.geometry[4])
    path = tmp_path / "water.gpkg"
    water.to_file(path)
    cli = CliRunner().invoke(
        cli_app,
        ["import", str(path), "--layer", "water_body", "--dry-run", "--json"],
        env={"DATABASE_URL": template_url},
    )
    assert cli.exit_code == 0, cli.output
    from_cli = orjson.loads(cli.stdout)
    app = create_app(Settings(database_url=template_url))
    with TestClient(app, headers=bearer(planner_token)) as client:
        reply = client.post(
            "/api/v1/imports",
            files={"file": ("water.gpkg", path.read_bytes())},
            data={"layer": "water_body", "dry_run": "true"},
        )
        assert reply.status_code == 200, reply.text
        from_api = reply.json()
        for data in (from_cli, from_api):
            data.pop("source_file")
        assert from_api == from_cli and from_api["repairs"]

        bad = client.post(
            "/api/v1/imports",
            files={"file": ("water.gpkg", path.read_bytes())},
            data={"layer": "water_body", "strict": "true"},
        )
        assert bad.status_code == 422 and bad.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert bad.json()["report"]["refusals"][0]["rows"] == [5]
    cli = CliRunner().invoke(
        cli_app,
        ["import", str(path), "--layer", "water_body", "--strict"],
        env={"DATABASE_URL": template_url},
    )
    assert cli.exit_code == 1 and "error:" in cli.stderr and "row 5" in cli.stderr


def test_an_upload_over_the_limit_is_413(
    template_url: str, planner_token: str, sample_path: Path
) -> None:
    settings = Settings(database_url=template_url, import_max_bytes=1000)
    with TestClient(create_app(settings), headers=bearer(planner_token)) as client:
        reply = client.post(
            "/api/v1/imports",
            files={"file": ("big.gpkg", sample_path.read_bytes())},
            data={"layer": "grid"},
        )
    assert reply.status_code == 413 and reply.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_unknown_layer_and_bad_map_are_clear(template_url: str, sample_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="unknown layer"):
        run(template_url, sample_path, layer="county")
    report = refused(template_url, sample_path, layer="grid", mapping={"nom": "name"})
    assert "--map" in report["refusals"][0]["message"]


# --- events and plans -------------------------------------------------------------------------


def test_new_incidents_are_stamped_like_the_loader_does(
    db: str, sample_path: Path, tmp_path: Path
) -> None:
    incidents = layer(sample_path, "incident").head(200).copy()
    old = list(incidents["call_no"])
    incidents["call_no"] = [f"N{c}" for c in old]
    path = tmp_path / "incidents.csv"
    table = pd.DataFrame(incidents.drop(columns="geometry"))
    table["lon"] = [repr(float(v)) for v in incidents.geometry.x]
    table["lat"] = [repr(float(v)) for v in incidents.geometry.y]
    table.to_csv(path, index=False)
    report = run(db, path, layer="incident", crs="EPSG:4326")
    assert (report.added, report.unchanged) == (200, 0)
    again = run(db, path, layer="incident", crs="EPSG:4326")
    assert (again.added, again.unchanged) == (0, 200)  # events are history: never stored twice
    with connect(db) as conn:
        stamps = dict(
            conn.execute(
                "SELECT call_no, (village_id, grid_id, beat_id, h3)::text FROM incident "
                "WHERE call_no = ANY(%s)",
                (old + list(incidents["call_no"]),),
            ).fetchall()
        )
    assert all(stamps[f"N{c}"] == stamps[c] for c in old)


def test_timelines_and_duty_shifts_import_as_history(
    db: str, sample_path: Path, tmp_path: Path
) -> None:
    """Steps removed and imported back from a CSV (lon/lat where a unit arrived) are stored
    as the sample has them, the numbers recomputed, nothing sent to the live map; a second
    import adds nothing; an unknown call number and a call sign on duty twice are refused."""
    steps = layer(sample_path, "incident_step")
    calls = sorted(steps["call_no"].unique())[:60]
    mine = pd.DataFrame(steps[steps["call_no"].isin(calls)])
    kpis = "SELECT k::text FROM incident_kpi k JOIN incident i ON i.id = k.incident_id " + (
        "WHERE i.call_no = ANY(%s) ORDER BY i.call_no"
    )
    with connect(db) as conn:
        before = conn.execute(kpis, (calls,)).fetchall()
        conn.execute(
            "DELETE FROM incident_step USING incident i "
            "WHERE i.id = incident_id AND i.call_no = ANY(%s)",
            (calls,),
        )
        events = conn.execute("SELECT count(*) FROM command_event").fetchone()
    path = tmp_path / "steps.csv"
    table = mine.copy()
    table["lon"] = ["" if pd.isna(v) else repr(float(v)) for v in mine["lon"]]
    table["lat"] = ["" if pd.isna(v) else repr(float(v)) for v in mine["lat"]]
    table.fillna("").to_csv(path, index=False)
    report = run(db, path, layer="incident_step")
    assert (report.added, report.unchanged) == (len(mine), 0)
    again = run(db, path, layer="incident_step")
    assert (again.added, again.unchanged) == (0, len(mine))
    with connect(db) as conn:
        stored = pd.DataFrame(
            conn.execute(
                """SELECT i.call_no, s.kind, s.at, s.source, s.call_sign, s.result,
                          ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
                   FROM incident_step s JOIN incident i ON i.id = s.incident_id
                   WHERE i.call_no = ANY(%s)""",
                (calls,),
            ).fetchall(),
            columns=["call_no", "kind", "at", "source", "call_sign", "result", "lon", "lat"],
        )
        assert conn.execute(kpis, (calls,)).fetchall() == before
        assert conn.execute("SELECT count(*) FROM command_event").fetchone() == events
    want = mine.assign(at=pd.to_datetime(mine["at"], utc=True))
    stored["at"] = pd.to_datetime(stored["at"], utc=True)
    keys = ["call_no", "kind", "at", "source"]
    joined = want.merge(stored, on=keys, suffixes=("", "_db"), validate="one_to_one")
    assert len(joined) == len(mine)
    assert (joined["call_sign"].fillna("") == joined["call_sign_db"].fillna("")).all()
    assert (joined["result"].fillna("") == joined["result_db"].fillna("")).all()
    assert np.allclose(joined["lon"], joined["lon_db"].astype(float), equal_nan=True)
    assert np.allclose(joined["lat"], joined["lat_db"].astype(float), equal_nan=True)

    table.loc[table.index[3], "call_no"] = "NO-SUCH-CALL"
    table.fillna("").to_csv(path, index=False)
    report = refused(db, path, layer="incident_step")
    assert any(
        f["check"] == "unknown_code" and f["rows"] == [4] and "NO-SUCH-CALL" in f["message"]
        for f in report["refusals"]
    ), report["refusals"]

    shifts = pd.DataFrame(layer(sample_path, "duty_shift")).head(1)
    shifts["person_code"] = pd.DataFrame(layer(sample_path, "duty_shift"))["person_code"].iloc[-1]
    shifts["starts_at"] = pd.Timestamp(shifts["starts_at"].iloc[0]) + pd.Timedelta(hours=1)
    shift_path = tmp_path / "shifts.csv"
    shifts.to_csv(shift_path, index=False)
    before_shifts = checksums(db)
    report = refused(db, shift_path, layer="duty_shift")
    assert any(f["check"] == "rule" for f in report["refusals"]), report["refusals"]
    assert checksums(db) == before_shifts


HISTORY = (
    "duty_shift",
    "incident_step",
    "patrol_water",
    "inspection",
    "sweep",
    "sweep_grid",
    "report",
    "report_step",
)


def test_a_planner_imports_the_history_layers_over_http(db: str) -> None:
    """Each history layer as the service exports it, imported back over HTTP by a planner, is
    unchanged row for row; rows taken away come back, a sweep's grids with their targets."""
    token = make_user(db, Role.planner)
    targets = "SELECT sweep_id, kind, thing_id, grid_id FROM sweep_target ORDER BY 1, 2, 3"
    marks = "SELECT water_body_id, marked_at FROM patrol_water ORDER BY 1"
    with connect(db) as conn:
        targets_before = conn.execute(targets).fetchall()
        marks_before = conn.execute(marks).fetchall()
    exported: dict[str, bytes] = {}
    with TestClient(create_app(Settings(database_url=db)), headers=bearer(token)) as client:

        def send(name: str) -> dict:
            reply = client.post(
                "/api/v1/imports",
                files={"file": (f"{name}.csv", exported[name], "text/csv")},
                data={"layer": name},
            )
            assert reply.status_code == 201, (name, reply.text[:500])
            return reply.json()["counts"]

        for name in HISTORY:
            export = client.get(f"/api/v1/layers/{name}.csv")
            assert export.status_code == 200, (name, export.text[:300])
            exported[name] = export.content
            counts = send(name)
            with connect(db) as conn:
                stored = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
                ).fetchone()[0]
            assert counts["rows_read"] == counts["unchanged"] == stored > 0, (name, counts)
            assert counts["added"] == 0, (name, counts)
        with connect(db) as conn:  # as the owner: some of it lost
            conn.execute("DELETE FROM sweep_target")
            lost_grids = conn.execute(
                "DELETE FROM sweep_grid WHERE sweep_id = (SELECT min(id) FROM sweep)"
            ).rowcount
            lost_marks = conn.execute(
                "DELETE FROM patrol_water WHERE water_body_id IN "
                "(SELECT water_body_id FROM patrol_water ORDER BY 1 LIMIT 5)"
            ).rowcount
        assert lost_grids and lost_marks == 5
        assert send("sweep_grid")["added"] == lost_grids
        assert send("patrol_water")["added"] == lost_marks
    with connect(db) as conn:
        assert conn.execute(targets).fetchall() == targets_before
        assert conn.execute(marks).fetchall() == marks_before


def test_a_file_that_ends_dusk_patrol_marks_ends_them(db: str) -> None:
    """Marks in force that the file ends (same water and start, an unmarked_at) are ended as the
    file says and counted as updated; the file's other rows are unchanged. A file that gives an
    ended mark another end is refused naming its rows, and nothing changes."""
    rng = np.random.default_rng(14)
    token = make_user(db, Role.planner)
    marks = (
        "SELECT w.code, p.marked_at, p.unmarked_at FROM patrol_water p "
        "JOIN water_body w ON w.id = p.water_body_id ORDER BY 1, 2"
    )
    with TestClient(create_app(Settings(database_url=db)), headers=bearer(token)) as client:

        def send(frame: pd.DataFrame) -> dict:
            return client.post(
                "/api/v1/imports",
                files={"file": ("patrol_water.csv", frame.to_csv(index=False), "text/csv")},
                data={"layer": "patrol_water"},
            ).json()

        exported = pd.read_csv(
            pd.io.common.BytesIO(client.get("/api/v1/layers/patrol_water.csv").content), dtype=str
        )
        in_force = exported.index[exported["unmarked_at"].isna()]
        assert len(in_force) >= 6
        ended = rng.choice(in_force, size=6, replace=False)
        file = exported.copy()
        starts = pd.to_datetime(file.loc[ended, "marked_at"])
        hours = rng.integers(1, 24 * 30, size=len(ended))
        file.loc[ended, "unmarked_at"] = [
            (start + pd.Timedelta(hours=int(h))).isoformat()
            for start, h in zip(starts, hours, strict=True)
        ]
        counts = send(file)["counts"]
        assert counts["updated"] == len(ended), counts
        assert counts["unchanged"] == len(file) - len(ended), counts
        assert counts["added"] == 0, counts
        with connect(db) as conn:
            stored = pd.DataFrame(conn.execute(marks).fetchall(), columns=list(exported.columns))
        expected = file.assign(
            marked_at=pd.to_datetime(file["marked_at"], utc=True),
            unmarked_at=pd.to_datetime(file["unmarked_at"], utc=True),
        ).sort_values(["water_body_code", "marked_at"], ignore_index=True)
        stored = stored.assign(
            marked_at=pd.to_datetime(stored["marked_at"], utc=True),
            unmarked_at=pd.to_datetime(stored["unmarked_at"], utc=True),
        )
        pd.testing.assert_frame_equal(stored, expected[stored.columns], check_dtype=False)

        before = checksums(db)
        moved = file.copy()
        later = pd.to_datetime(moved.loc[ended[:2], "unmarked_at"]) + pd.Timedelta(hours=1)
        moved.loc[ended[:2], "unmarked_at"] = [t.isoformat() for t in later]
        answer = send(moved)
        rows = sorted(int(n) + 1 for n in ended[:2])
        refusal = answer["report"]["refusals"][0]
        assert checksums(db) == before
    assert refusal["check"] == "history" and refusal["rows"] == rows, answer
    assert "unmarked_at" in refusal["message"]


def test_report_steps_keep_their_client_ids_out_and_back(db: str) -> None:
    """A department step's client id (the page's, issue 14 §6) is exported with the step and
    comes back with it when the step is imported again, so a resend after a restore is still
    the same step."""
    rng = np.random.default_rng(23)
    token = make_user(db, Role.planner)
    steps = (
        "SELECT r.client_id::text, s.kind, s.at, s.client_id::text FROM report_step s "
        "JOIN report r ON r.id = s.report_id WHERE s.client_id IS NOT NULL ORDER BY 1, 2, 3"
    )
    with connect(db) as conn:  # as the owner: some steps as the department's page sent them
        ids = conn.execute("SELECT id FROM report_step ORDER BY id").fetchall()
        chosen = rng.choice([r[0] for r in ids], size=min(12, len(ids)), replace=False)
        for step_id in chosen:
            conn.execute(
                "UPDATE report_step SET client_id = gen_random_uuid() WHERE id = %s",
                (int(step_id),),
            )
        before = conn.execute(steps).fetchall()
    assert len(before) == len(chosen) > 0
    with TestClient(create_app(Settings(database_url=db)), headers=bearer(token)) as client:
        exported = client.get("/api/v1/layers/report_step.csv").content
        frame = pd.read_csv(pd.io.common.BytesIO(exported), dtype=str)
        assert set(frame["client_id"].dropna()) == {row[3] for row in before}
        with connect(db) as conn:
            conn.execute("DELETE FROM report_step WHERE client_id IS NOT NULL")
        reply = client.post(
            "/api/v1/imports",
            files={"file": ("report_step.csv", exported, "text/csv")},
            data={"layer": "report_step"},
        )
        assert reply.status_code == 201, reply.text[:500]
        assert reply.json()["counts"]["added"] == len(before)
    with connect(db) as conn:
        assert conn.execute(steps).fetchall() == before


def test_a_published_plan_keeps_its_grids(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    members = gpd.read_file(sample_path, layer="beat_grid")
    published = members["plan_code"] == "2025"
    first = members.index[published][0]
    other = members.loc[published & (members["beat_code"] != members.loc[first, "beat_code"])]
    members.loc[first, "beat_code"] = other["beat_code"].iloc[0]  # move one grid
    path = tmp_path / "beat_grid.csv"
    pd.DataFrame(members).to_csv(path, index=False)
    before = checksums(template_url)
    report = refused(template_url, path, layer="beat_grid")
    assert "2025" in report["refusals"][0]["message"]
    assert "published" in report["refusals"][0]["message"]
    assert checksums(template_url) == before


def test_a_new_grid_outside_every_beat_is_reported(
    db: str, sample_path: Path, tmp_path: Path
) -> None:
    grids = layer(sample_path, "grid")
    whole = grids.geometry[0]
    minx, miny, maxx, maxy = whole.bounds
    west = shapely.box(minx - 1, miny - 1, (minx + maxx) / 2, maxy + 1)
    new = grids.iloc[[0]].copy()
    new["code"], new["name"] = grids.code[0][:-3] + "999", "split off"
    new.loc[:, "geometry"] = [whole.intersection(west)]
    grids.loc[0, "geometry"] = whole.difference(west)
    path = tmp_path / "grid.gpkg"
    pd.concat([grids, new], ignore_index=True).to_file(path)
    report = run(db, path, layer="grid")
    assert (report.added, report.updated) == (1, 1)
    no_beat = [f for f in report.findings if f.check == "no_beat"]
    assert no_beat and no_beat[0].codes == [new["code"].iloc[0]] and no_beat[0].rows == [157]


# --- a first import into empty tables ---------------------------------------------------------


@pytest.fixture
def empty_db() -> Iterator[str]:
    """A throwaway database with the migrations applied and nothing loaded."""
    with migrated_database("geo_import_empty") as url:
        yield url


def schema_of(url: str, tables: tuple[str, ...]) -> list[tuple]:
    """The tables' index and constraint definitions."""
    with connect(url) as conn:
        return conn.execute(
            """SELECT tablename, indexname, indexdef FROM pg_indexes
               WHERE tablename = ANY(%s)
               UNION ALL
               SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
               FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2""",
            (list(tables), list(tables)),
        ).fetchall()


def tiles_as_stored(url: str) -> dict[str, list[tuple]]:
    """Villages and grids as stored: codes, names, parents and exact geometries."""
    with connect(url) as conn:
        return {
            "village": conn.execute(
                """SELECT v.code, v.name, v.kind, s.code, ST_AsEWKB(v.geom) FROM village v
                   JOIN station s ON s.id = v.station_id ORDER BY v.code"""
            ).fetchall(),
            "grid": conn.execute(
                """SELECT g.code, g.name, v.code, ST_AsEWKB(g.geom) FROM grid g
                   JOIN village v ON v.id = g.village_id ORDER BY g.code"""
            ).fetchall(),
        }


def test_a_first_import_stores_what_the_loader_stores_and_keeps_the_schema(
    empty_db: str, template_url: str, sample_path: Path
) -> None:
    before = schema_of(empty_db, ("village", "grid"))
    reports = {name: run(empty_db, sample_path, layer=name) for name in ("station", "village")}
    reports["grid"] = run(empty_db, sample_path, layer="grid")
    assert reports["grid"].added == len(layer(sample_path, "grid"))
    assert reports["village"].added == len(layer(sample_path, "village"))
    assert not reports["grid"].findings and not reports["village"].findings
    assert tiles_as_stored(empty_db) == tiles_as_stored(template_url)
    assert schema_of(empty_db, ("village", "grid")) == before  # indexes and keys made again
    # and in force: a grid naming no village is refused
    with connect(empty_db) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("UPDATE grid SET village_id = -1 WHERE id = (SELECT min(id) FROM grid)")


def test_a_refused_first_import_leaves_the_table_and_its_indexes(
    empty_db: str, sample_path: Path, tmp_path: Path
) -> None:
    run(empty_db, sample_path, layer="station")
    run(empty_db, sample_path, layer="village")
    before, schema = checksums(empty_db), schema_of(empty_db, ("grid",))
    grids = layer(sample_path, "grid")
    grids.loc[[4, 9], "village_code"] = "999999999999"
    path = tmp_path / "grid.gpkg"
    grids.to_file(path)
    report = refused(empty_db, path, layer="grid")
    unknown = [r for r in report["refusals"] if r["check"] == "unknown_code"]
    assert unknown[0]["rows"] == [5, 10] and "999999999999" in unknown[0]["message"]
    assert checksums(empty_db) == before and schema_of(empty_db, ("grid",)) == schema


def test_a_first_import_under_a_plan_in_force_reports_grids_in_no_beat(
    empty_db: str, sample_path: Path
) -> None:
    for name in ("station", "village", "beat_plan"):
        run(empty_db, sample_path, layer=name)
    report = run(empty_db, sample_path, layer="grid")
    no_beat = [f for f in report.findings if f.check == "no_beat"]
    assert no_beat and no_beat[0].rows == list(range(1, report.rows_read + 1))


def test_a_value_the_database_cannot_read_is_refused_with_its_rows(
    template_url: str, sample_path: Path, tmp_path: Path
) -> None:
    houses = layer(sample_path, "rental_house")
    houses["rooms"] = houses["rooms"].astype(object)
    houses.loc[[2, 7], "rooms"] = "three"
    path = tmp_path / "rental_house.gpkg"
    houses.to_file(path)
    before = checksums(template_url)
    report = refused(template_url, path, layer="rental_house")
    value = [r for r in report["refusals"] if r["check"] == "value"]
    assert value[0]["rows"] == [3, 8] and value[0]["codes"] == ["rooms"]
    assert '"three"' in value[0]["message"] and "rooms in rows 3, 8" in value[0]["message"]
    assert checksums(template_url) == before


@pytest.mark.parametrize("layer_name", ["water_marker", "water_body"])
def test_a_feature_too_far_for_metric_work_is_refused_not_a_server_error(
    template_url: str, planner_token: str, sample_path: Path, tmp_path: Path, layer_name: str
) -> None:
    """Valid longitude/latitude far from the station has no EPSG:4549 coordinates (where the
    stored metric columns live): the row is refused, over HTTP too, and nothing changes."""
    features = layer(sample_path, layer_name)
    centre = features.geometry[3].centroid
    features.loc[3, "geometry"] = shapely.affinity.translate(
        features.geometry[3], xoff=25.0 - centre.x, yoff=-centre.y
    )  # about 25°E 0°N: inside lon/lat range, beyond the projection's domain
    path = tmp_path / f"{layer_name}.gpkg"
    features.to_file(path)
    before = checksums(template_url)
    report = refused(template_url, path, layer=layer_name)
    far = [r for r in report["refusals"] if r["check"] == "coordinates"]
    assert far and far[0]["rows"] == [4] and "EPSG:4549" in far[0]["message"], report
    app = create_app(Settings(database_url=template_url))
    with TestClient(app, headers=bearer(planner_token)) as client:
        reply = client.post(
            "/api/v1/imports",
            files={"file": (path.name, path.read_bytes())},
            data={"layer": layer_name},
        )
    assert reply.status_code == 422, reply.text
    assert checksums(template_url) == before
