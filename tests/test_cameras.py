"""Camera view sectors and blind road stretches against shapely/pyproj on the sample's data."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from pyproj import Geod, Transformer

from tests.browser import map_visit
from tests.cast import Member

TO_METRIC = Transformer.from_crs(4326, 4549, always_xy=True)
GEOD = Geod(ellps="WGS84")


def metric(geom: shapely.Geometry) -> shapely.Geometry:
    """A geometry from EPSG:4326 to EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E)."""
    return shapely.transform(geom, lambda xy: np.column_stack(TO_METRIC.transform(*xy.T)))


def sector(lon: float, lat: float, heading: float, fov: float, range_m: float):
    """A camera's view sector in EPSG:4549, built here from geodesics (pyproj), not from SQL."""
    if fov >= 360:
        return shapely.Point(*TO_METRIC.transform(lon, lat)).buffer(range_m, quad_segs=24)
    steps = max(2, math.ceil(fov / 5.0))
    azimuths = [heading - fov / 2 + fov * i / steps for i in range(steps + 1)]
    ends = GEOD.fwd(
        [lon] * len(azimuths), [lat] * len(azimuths), azimuths, [range_m] * len(azimuths)
    )
    ring = [(lon, lat), *zip(ends[0], ends[1], strict=True), (lon, lat)]
    return metric(shapely.Polygon(ring))


@pytest.fixture(scope="module")
def reference(sample_path: Path, grids: gpd.GeoDataFrame) -> dict:
    """Blind length per beat of plan 2026, and the working sectors, computed with shapely."""
    cameras = pyogrio.read_dataframe(sample_path, layer="camera")
    working = cameras[cameras["status"] == "working"]
    sectors = [
        sector(p.x, p.y, h, f, r)
        for p, h, f, r in zip(
            working.geometry,
            working["heading"],
            working["fov_deg"],
            working["range_m"],
            strict=True,
        )
    ]
    tree = shapely.STRtree(sectors)
    roads = [metric(g) for g in pyogrio.read_dataframe(sample_path, layer="road").geometry]
    members = pyogrio.read_dataframe(sample_path, layer="beat_grid", read_geometry=False)
    members = members[members["plan_code"] == "2026"]
    by_code = grids.set_index("code").geometry
    beats = {}
    for beat, rows in members.groupby("beat_code"):
        outline = metric(shapely.union_all(by_code.loc[rows["grid_code"]].values))
        seen = shapely.union_all([sectors[i] for i in tree.query(outline, "intersects")])
        road_m = blind_m = 0.0
        for road in roads:
            if not road.intersects(outline):
                continue
            piece = road.intersection(outline)
            road_m += piece.length
            blind_m += piece.difference(seen).length
        beats[beat] = {"road_m": road_m, "blind_m": blind_m, "outline": outline}
    return {"beats": beats, "seen": shapely.union_all(sectors)}


def test_blind_road_length_per_beat_matches_shapely(client: TestClient, reference: dict) -> None:
    r = client.get("/api/v1/cameras/blind-roads", params={"at": "2026-10-15T12:00"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["plan"] == "2026"
    got = {b["code"]: b for b in body["beats"]}
    assert set(got) == set(reference["beats"]) and len(got) >= 9
    for code, ref in reference["beats"].items():
        b = got[code]
        assert b["road_length_m"] == pytest.approx(ref["road_m"], abs=0.5), code
        # sectors are polygons of a few metres' chord error: allow 0.5 % and 2 m
        assert b["blind_length_m"] == pytest.approx(ref["blind_m"], rel=5e-3, abs=2.0), code
        assert 0 < b["blind_length_m"] < b["road_length_m"]
    per_beat = {}
    for f in body["features"]:
        p = f["properties"]
        per_beat[p["beat"]] = per_beat.get(p["beat"], 0.0) + p["blind_length_m"]
    assert set(per_beat) == set(got)  # every beat has blind stretches (checked above)
    for code, total in per_beat.items():
        assert total == pytest.approx(got[code]["blind_length_m"], abs=0.1 * len(body["features"]))


def test_blind_stretches_lie_outside_every_working_sector(
    client: TestClient, reference: dict
) -> None:
    body = client.get("/api/v1/cameras/blind-roads", params={"beat": "B01"}).json()
    assert {f["properties"]["beat"] for f in body["features"]} == {"B01"}
    assert [b["code"] for b in body["beats"]] == ["B01"]
    outline = reference["beats"]["B01"]["outline"]
    seen = reference["seen"]
    points = []
    for f in body["features"]:
        line = metric(shapely.geometry.shape(f["geometry"]))
        points += [line.interpolate(d) for d in np.arange(0.5, line.length, 5.0)]
    assert len(points) > 100
    for point in points:
        assert outline.buffer(0.5).contains(point)
        # never inside a working sector by more than half a metre
        assert not seen.buffer(-0.5).contains(point)


def test_sectors_are_geojson_of_every_camera(client: TestClient, sample_path: Path) -> None:
    cameras = pyogrio.read_dataframe(sample_path, layer="camera")
    r = client.get("/api/v1/cameras/sectors")
    assert r.headers["content-type"] == "application/geo+json"
    features = {f["id"]: f for f in r.json()["features"]}
    assert set(features) == set(cameras["code"])
    checked = 0
    for row in cameras.head(40).itertuples():
        area = metric(shapely.geometry.shape(features[row.code]["geometry"])).area
        expected = sector(row.geometry.x, row.geometry.y, row.heading, row.fov_deg, row.range_m)
        assert area == pytest.approx(expected.area, rel=3e-3)
        checked += 1
    assert checked == 40


def test_unknown_beat_or_plan_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/cameras/blind-roads", params={"beat": "B99"})
    assert r.status_code == 404 and r.json()["parameter"] == "beat"
    r = client.get("/api/v1/cameras/blind-roads", params={"plan": "1999"})
    assert r.status_code == 404 and r.json()["parameter"] == "plan"


@pytest.mark.parametrize(
    ("query", "name", "text"),
    [("", "cameras_zh", "视频监控"), ("?beat=B02&lang=en", "cameras_b02_en", "Cameras")],
)
def test_camera_map_in_chromium(
    browser: Browser, live_url: str, browser_user: Member, query: str, name: str, text: str
) -> None:
    with map_visit(
        browser,
        live_url,
        f"/maps/cameras{query}",
        user=browser_user,
        title=text,
        paths=100,
        name=name,
    ) as page:  # view sectors drawn
        assert "B02" in page.inner_text("#blind-table")
