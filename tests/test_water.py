"""Shore out of reach of a working rescue pole, and marker status, against shapely/pyproj."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from pyproj import Transformer

from tests.browser import map_visit
from tests.cast import Member

TO_METRIC = Transformer.from_crs(4326, 4549, always_xy=True)


def metric(geom: shapely.Geometry) -> shapely.Geometry:
    """A geometry from EPSG:4326 to EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E)."""
    return shapely.transform(geom, lambda xy: np.column_stack(TO_METRIC.transform(*xy.T)))


@pytest.fixture(scope="module")
def water(sample_path: Path) -> dict:
    """Water bodies' shores and working rescue poles of the sample, in EPSG:4549."""
    bodies = pyogrio.read_dataframe(sample_path, layer="water_body")
    markers = pyogrio.read_dataframe(sample_path, layer="water_marker")
    working = markers[(markers["kind"] == "rescue_pole") & (markers["status"] == "ok")]
    return {
        "shores": {
            c: metric(g).boundary for c, g in zip(bodies["code"], bodies.geometry, strict=True)
        },
        "poles": shapely.MultiPoint([metric(g) for g in working.geometry]),
        "markers": markers,
    }


@pytest.mark.parametrize("distance", [None, 60.0, 400.0])
def test_shore_gaps_match_shapely(client: TestClient, water: dict, distance) -> None:
    params = {} if distance is None else {"distance_m": distance}
    r = client.get("/api/v1/water/shore-gaps", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    d = distance or 150.0  # the default of SHORE_GAP_M
    assert body["distance_m"] == d
    reach = water["poles"].buffer(d, quad_segs=64)
    got = {b["code"]: b for b in body["water_bodies"]}
    assert set(got) == set(water["shores"])
    total = 0.0
    for code, shore in water["shores"].items():
        gap = shore.difference(reach).length
        total += gap
        assert got[code]["shore_length_m"] == pytest.approx(shore.length, abs=0.1), code
        # reach circles are polygons on both sides: allow 0.3 % and 1 m
        assert got[code]["gap_length_m"] == pytest.approx(gap, rel=3e-3, abs=1.0), code
    assert body["totals"]["gap_length_m"] == pytest.approx(total, rel=2e-3)
    assert 0 < total < body["totals"]["shore_length_m"]


def test_gap_stretches_are_out_of_reach(client: TestClient, water: dict) -> None:
    body = client.get("/api/v1/water/shore-gaps").json()
    poles = water["poles"]
    tree = shapely.STRtree(list(poles.geoms))
    checked = 0
    for f in body["features"]:
        line = metric(shapely.geometry.shape(f["geometry"]))
        assert f["properties"]["gap_length_m"] == pytest.approx(line.length, abs=0.5)
        for dist in np.arange(0.5, line.length, 10.0):
            point = line.interpolate(dist)
            nearest = tree.geometries[tree.nearest(point)]
            assert point.distance(nearest) > 150.0 - 0.5
            checked += 1
    assert checked > 200


def test_marker_status_and_inspection_age(client: TestClient, water: dict) -> None:
    at = datetime.fromisoformat("2026-11-01T12:00:00+08:00")
    r = client.get("/api/v1/water/markers", params={"at": at.isoformat(), "due_days": 30})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    got = {f["id"]: f["properties"] for f in r.json()["features"]}
    markers = water["markers"].set_index("code")
    assert set(got) == set(markers.index)
    inspected = pd.to_datetime(markers["last_inspected_at"], utc=True, format="ISO8601")
    never = aged = 0
    for code, p in got.items():
        assert p["status"] == markers.loc[code, "status"]
        when = inspected.loc[code]
        if pd.isna(when):
            assert p["inspection_due"] and p["inspection_age_days"] is None
            never += 1
            continue
        age = pd.Timestamp(at) - when
        assert p["inspection_age_days"] == age.days
        assert p["inspection_due"] == (age > timedelta(days=30))
        aged += 1
    assert never + aged == len(markers) and aged > 100
    assert any(p["inspection_due"] for p in got.values())
    assert not all(p["inspection_due"] for p in got.values())


@pytest.mark.parametrize("query", ["?distance_m=0", "?distance_m=abc", "?distance_m=99999"])
def test_bad_distance_is_422(client: TestClient, query: str) -> None:
    r = client.get(f"/api/v1/water/shore-gaps{query}")
    assert r.status_code == 422 and r.json()["parameter"] == "distance_m"


@pytest.mark.parametrize(
    ("query", "name", "text"),
    [("", "water_zh", "防溺水安全"), ("?lang=en&distance_m=300", "water_en_300", "Water safety")],
)
def test_water_map_in_chromium(
    browser: Browser, live_url: str, browser_user: Member, query: str, name: str, text: str
) -> None:
    with map_visit(
        browser,
        live_url,
        f"/maps/water{query}",
        user=browser_user,
        title=text,
        paths=250,
        name=name,
    ) as page:  # markers, gaps, reach circles
        assert page.locator("#shore-table tr").count() > 3
