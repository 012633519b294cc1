"""Who covers this point: PostGIS answers agree with shapely on the same grids, edges included."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from geo_service.crs import wgs84_to_bd09, wgs84_to_gcj02
from tests.reference import Reference, shared_edge_points, shared_vertices

AT_PLAN_2025 = "2026-01-15T12:00:00+08:00"
AT_PLAN_2026 = "2026-08-01T12:00:00+08:00"
GEOD = Geod(ellps="WGS84")
COVERING_ROLES = {
    "community_officer",
    "auxiliary_officer",
    "grid_worker",
    "police_assistant",
    "village_cadre",
}


@pytest.fixture(scope="module")
def test_points(grids: gpd.GeoDataFrame) -> np.ndarray:
    """6,000 points: random over the station's box (some outside), shared vertices and edges."""
    rng = np.random.default_rng(20261122)
    minx, miny, maxx, maxy = grids.total_bounds
    pad = 0.02 * (maxx - minx)
    random = np.column_stack(
        [rng.uniform(minx - pad, maxx + pad, 3000), rng.uniform(miny - pad, maxy + pad, 3000)]
    )
    return np.vstack(
        [random, shared_vertices(grids, rng, 1000), shared_edge_points(grids, rng, 2000)]
    )


@pytest.mark.parametrize("at", [AT_PLAN_2025, AT_PLAN_2026])
def test_http_lookup_agrees_with_shapely(
    client: TestClient, reference: Reference, test_points: np.ndarray, at: str
) -> None:
    expected = reference.locate(shapely.points(test_points), at)
    step = 1 if at == AT_PLAN_2026 else 3  # every point once, a third again under the old plan
    mismatches = []
    outside = inside = 0
    cases = list(zip(test_points, expected, strict=True))[::step]
    for (lon, lat), want in cases:
        reply = client.get(
            "/api/v1/lookup", params={"lon": repr(float(lon)), "lat": repr(float(lat)), "at": at}
        )
        if want is None:
            outside += 1
            if reply.status_code != 404:
                mismatches.append((lon, lat, want, reply.status_code))
            continue
        inside += 1
        body = reply.json()
        got = (body["village"]["code"], body["grid"]["code"], (body["beat"] or {}).get("code"))
        if got != want:
            mismatches.append((lon, lat, want, got))
    assert inside + outside == len(cases) == len(test_points[::step])
    assert outside > 50, "the random points should include some outside the station"
    assert inside > len(cases) // 2
    assert not mismatches, f"{len(mismatches)} disagreements, first: {mismatches[:5]}"


def test_a_point_on_a_shared_vertex_goes_to_the_lowest_grid_code(
    client: TestClient, grids: gpd.GeoDataFrame
) -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for lon, lat in shared_vertices(grids, rng, 20):
        touching = grids[grids.geometry.intersects(shapely.Point(lon, lat))]["code"]
        assert len(touching) >= 2
        body = client.get(
            "/api/v1/lookup", params={"lon": repr(float(lon)), "lat": repr(float(lat))}
        ).json()
        assert body["grid"]["code"] == min(touching)
        checked += 1
    assert checked == 20


def test_people_on_duty_follow_plan_and_assignment_history(
    client: TestClient, sample_path: Path, reference: Reference
) -> None:
    assignments = pyogrio.read_dataframe(sample_path, layer="assignment", read_geometry=False)
    persons = pyogrio.read_dataframe(sample_path, layer="person", read_geometry=False)
    name_of = dict(zip(persons["code"], persons["name"], strict=True))
    assignments["valid_from"] = pd.to_datetime(assignments["valid_from"], utc=True)
    assignments["valid_to"] = pd.to_datetime(assignments["valid_to"].replace("", None), utc=True)
    rng = np.random.default_rng(11)
    changed = checked = 0
    for gi in rng.choice(len(reference.grids), 40, replace=False):
        row = reference.grids.iloc[gi]
        p = row.geometry.representative_point()
        answers = {}
        for at in (AT_PLAN_2025, AT_PLAN_2026):
            moment = pd.Timestamp(at).tz_convert("UTC")
            plan = reference.plan_at(at)
            beat = reference.beat_of[(plan, row["code"])]
            live = assignments[
                (assignments["valid_from"] <= moment)
                & (assignments["valid_to"].isna() | (assignments["valid_to"] > moment))
                & assignments["role"].isin(COVERING_ROLES)
            ]
            mine = live[
                (
                    (live["area_kind"] == "beat")
                    & (live["area_code"] == beat)
                    & (live["plan_code"] == plan)
                )
                | ((live["area_kind"] == "grid") & (live["area_code"] == row["code"]))
                | ((live["area_kind"] == "village") & (live["area_code"] == row["village_code"]))
            ]
            want = sorted(zip(mine["role"], mine["person_code"], strict=True))
            body = client.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y, "at": at}).json()
            got = sorted((x["role"], x["code"]) for x in body["people"])
            assert got == want, (row["code"], at)
            assert all(x["name"] == name_of[x["code"]] for x in body["people"])
            roles = [x["role"] for x in body["people"]]
            assert roles.count("community_officer") == 1 and roles.count("auxiliary_officer") == 2
            answers[at] = got
            checked += 1
        changed += answers[AT_PLAN_2025] != answers[AT_PLAN_2026]
    assert checked == 2 * 40
    assert changed > 0, "some answers should differ between the 2025 and 2026 plans"


def test_a_grid_worker_covers_from_the_first_moment_up_to_not_including_the_end(
    client: TestClient, sample_path: Path, reference: Reference
) -> None:
    assignments = pyogrio.read_dataframe(sample_path, layer="assignment", read_geometry=False)
    ended = assignments[
        (assignments["area_kind"] == "grid") & (assignments["valid_to"].fillna("") != "")
    ]
    assert len(ended) > 0, "the sample should replace at least one grid worker"
    worker = ended.iloc[0]
    grid = reference.grids[reference.grids["code"] == worker["area_code"]].iloc[0]
    p = grid.geometry.representative_point()
    start, end = pd.Timestamp(worker["valid_from"]), pd.Timestamp(worker["valid_to"])
    second = pd.Timedelta(seconds=1)

    def covers(moment: pd.Timestamp) -> bool:
        body = client.get(
            "/api/v1/lookup", params={"lon": p.x, "lat": p.y, "at": moment.isoformat()}
        ).json()
        assert "people" in body, body
        return worker["person_code"] in {x["code"] for x in body["people"]}

    assert [covers(m) for m in (start - second, start, end - second, end)] == [
        False,
        True,
        True,
        False,
    ]


def test_cameras_that_see_the_point(
    client: TestClient, sample_path: Path, reference: Reference
) -> None:
    """Half its range ahead a camera sees the point, 1.3 times its range ahead it does not; a
    point the lookup answers 404 for must be outside every grid (shapely)."""
    cameras = pyogrio.read_dataframe(sample_path, layer="camera")
    cameras = cameras[cameras["fov_deg"] < 360].head(40)
    assert len(cameras) == 40
    checked = outside = 0
    for cam in cameras.itertuples():
        for share, seen in ((0.5, True), (1.3, False)):
            lon, lat, _ = GEOD.fwd(cam.geometry.x, cam.geometry.y, cam.heading, share * cam.range_m)
            reply = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
            if reply.status_code == 404:
                assert reference.locate(shapely.points([(lon, lat)]), AT_PLAN_2026) == [None]
                outside += 1
                continue
            assert reply.status_code == 200, reply.text
            codes = {c["code"] for c in reply.json()["cameras"]}
            assert (cam.code in codes) == seen, (cam.code, share)
            checked += 1
    assert checked + outside == 2 * 40
    assert checked >= 60, f"only {checked} of 80 points inside the station"


def test_nearest_working_rescue_markers_and_nearby_water(
    client: TestClient, sample_path: Path, reference: Reference
) -> None:
    markers = pyogrio.read_dataframe(sample_path, layer="water_marker")
    working = markers[
        markers["kind"].isin(["rescue_pole", "lifebuoy"]) & (markers["status"] == "ok")
    ]
    water = pyogrio.read_dataframe(sample_path, layer="water_body").to_crs("EPSG:4549")
    rng = np.random.default_rng(5)
    checked = outside = 0
    for m in markers.sample(40, random_state=1).itertuples():
        lon, lat, _ = GEOD.fwd(m.geometry.x, m.geometry.y, rng.uniform(0, 360), 120)
        reply = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
        if reply.status_code == 404:  # only outside every grid
            assert reference.locate(shapely.points([(lon, lat)]), AT_PLAN_2026) == [None]
            outside += 1
            continue
        assert reply.status_code == 200, reply.text
        body = reply.json()
        n = len(working)
        _, _, dist = GEOD.inv(
            np.full(n, lon), np.full(n, lat), working.geometry.x, working.geometry.y
        )
        order = np.argsort(dist)
        want = [(working["code"].iloc[i], dist[i]) for i in order[:5] if dist[i] <= 500]
        got = [(x["code"], x["distance_m"]) for x in body["rescue_markers"]]
        assert [c for c, _ in got] == [c for c, _ in want]
        assert all(abs(g - w) < 0.5 for (_, g), (_, w) in zip(got, want, strict=True))
        here = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs("EPSG:4549")[0]
        metric = water.distance(here)
        near = set(water.loc[metric <= 199, "code"])
        far = set(water.loc[metric > 201, "code"])
        codes = {w["code"] for w in body["water_bodies"]}
        assert near <= codes and not (codes & far)
        checked += 1
    assert checked + outside == 40
    assert checked > 20


@pytest.mark.parametrize("crs,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_lookup_converts_gcj02_and_bd09_input(
    client: TestClient, grids: gpd.GeoDataFrame, crs: str, forward
) -> None:
    checked = 0
    for geom, code in zip(grids.geometry.values[:30], grids["code"][:30], strict=True):
        p = geom.representative_point()
        x, y = forward(p.x, p.y)
        assert abs(x - p.x) + abs(y - p.y) > 0.002  # the offset is real, hundreds of metres
        body = client.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": crs}).json()
        assert body["grid"]["code"] == code
        checked += 1
    assert checked == 30
