"""Lookups anywhere on Earth: a valid point far from the station is a 404 naming the nearest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
# The antipode of the sample town (about 120.3°E 29.8°N), where geodesics are hardest.
ANTIPODE = (-59.66, -29.86)
SPECIAL = [
    (25.0, 0.0),  # the tester's point, once answered 503
    (0.0, 0.0),
    (180.0, 0.0),
    (-180.0, 0.0),
    (179.999999, 45.0),
    (-179.999999, -45.0),
    (0.0, 90.0),
    (0.0, -90.0),
    (120.0, 90.0),
    (-180.0, -90.0),
    (180.0, 90.0),
    ANTIPODE,
    (115.0, 30.0),  # a few degrees west and east of EPSG:4549's zone
    (125.0, 30.0),
    (120.3, 40.0),
]


@pytest.fixture(scope="module")
def village_vertices(sample_path: Path) -> dict[str, np.ndarray]:
    """Every village's outline vertices (lon, lat), by village code."""
    villages = pyogrio.read_dataframe(sample_path, layer="village")
    return {
        code: shapely.get_coordinates(shapely.boundary(geom))
        for code, geom in zip(villages["code"], villages.geometry, strict=True)
    }


def far_points() -> list[tuple[float, float]]:
    """A grid over the whole globe every 30°, poles and antimeridian included, and SPECIAL."""
    grid = [(float(x), float(y)) for x in range(-180, 181, 30) for y in range(-90, 91, 30)]
    return grid + SPECIAL


def geodesic_min(vertices: np.ndarray, lon: float, lat: float) -> float:
    """The least geodesic distance (m) from the point to any of the vertices."""
    n = len(vertices)
    _, _, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), vertices[:, 0], vertices[:, 1])
    return float(np.min(dist))


def test_every_far_point_is_a_404_naming_the_nearest_village(
    client: TestClient, village_vertices: dict[str, np.ndarray]
) -> None:
    nearest_overall = {
        pt: min(geodesic_min(v, *pt) for v in village_vertices.values()) for pt in far_points()
    }
    checked = 0
    for lon, lat in far_points():
        reply = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
        assert reply.status_code == 404, (lon, lat, reply.status_code, reply.text[:300])
        assert reply.headers["content-type"].startswith("application/problem+json")
        body = reply.json()
        nearest = body["nearest"]
        assert nearest["kind"] == "village" and nearest["code"] in village_vertices
        assert nearest["name"] in body["detail"]
        # the distance to the named village's outline: within one edge of its nearest vertex
        # (PostGIS finds the closest points on the sphere, then measures on the spheroid: up to
        # 62 m more than the spheroid's nearest vertex near the antipode, 20,000 km away)
        own = geodesic_min(village_vertices[nearest["code"]], lon, lat)
        slack = 100 + 1e-5 * own
        assert own - 2_000 <= nearest["distance_m"] <= own + slack, (lon, lat, nearest, own)
        # and that village is about as near as the nearest of all (villages are a few km wide)
        assert nearest["distance_m"] <= nearest_overall[(lon, lat)] + 30_000
        checked += 1
    assert checked == len(far_points()) == 106


@pytest.mark.parametrize("crs", ["EPSG:4490", "gcj02", "bd09"])
def test_far_points_in_every_input_crs_are_404(client: TestClient, crs: str) -> None:
    checked = 0
    for lon, lat in SPECIAL:
        reply = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "crs": crs})
        assert reply.status_code == 404, (crs, lon, lat, reply.status_code, reply.text[:300])
        assert reply.json()["nearest"]["kind"] == "village"
        checked += 1
    assert checked == len(SPECIAL)


def test_out_of_range_and_non_numbers_are_400_naming_the_parameter(client: TestClient) -> None:
    cases = [
        ({"lon": 180.0001, "lat": 0}, "lon"),
        ({"lon": -181, "lat": 0}, "lon"),
        ({"lon": 0, "lat": 90.0001}, "lat"),
        ({"lon": 0, "lat": -91}, "lat"),
        ({"lon": "nan", "lat": 0}, "lon"),
        ({"lon": 0, "lat": "inf"}, "lat"),
    ]
    for params, parameter in cases:
        reply = client.get("/api/v1/lookup", params=params)
        assert reply.status_code in (400, 422), (params, reply.status_code)
        assert parameter in reply.text, (params, reply.text[:300])
    assert len(cases) == 6
