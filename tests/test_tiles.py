"""Vector tiles: decoded with mapbox-vector-tile, checked against the sample with pyproj/shapely."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.routers.caching import CACHE_CONTROL

EXTENT = 4096
BUFFER = 64
HALF_WORLD = 20037508.342789244
TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile (x, y from the top) holding a point (the slippy-map formulas)."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds of a tile."""
    size = 2 * HALF_WORLD / (1 << z)
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def mercator(geoms: np.ndarray) -> np.ndarray:
    """Geometries from EPSG:4326 to EPSG:3857 with pyproj."""
    return shapely.transform(
        geoms, lambda xy: np.column_stack(TO_MERCATOR.transform(xy[:, 0], xy[:, 1]))
    )


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body)


@pytest.fixture(scope="module")
def incidents(sample_path: Path) -> gpd.GeoDataFrame:
    frame = pyogrio.read_dataframe(sample_path, layer="incident")
    frame["t"] = pd.to_datetime(frame["received_at"], utc=True)
    frame["m"] = mercator(frame.geometry.values)
    return frame


def expected_points(frame: gpd.GeoDataFrame, z: int, x: int, y: int) -> tuple[set, set]:
    """(must, may): ids of points inside the tile by more than one tile unit, and of points
    within the tile and its buffer (by up to a unit more: coordinates snap to the tile grid)."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    unit = (maxx - minx) / EXTENT
    px, py = shapely.get_x(frame["m"].values), shapely.get_y(frame["m"].values)

    def within(margin: float) -> np.ndarray:
        return (
            (px > minx - margin)
            & (px < maxx + margin)
            & (py > miny - margin)
            & (py < maxy + margin)
        )

    ids = frame["call_no"].to_numpy()
    return set(ids[within(-unit)]), set(ids[within((BUFFER + 1) * unit)])


def test_incident_tile_agrees_with_pyproj(client: TestClient, incidents: gpd.GeoDataFrame) -> None:
    lon, lat = incidents.geometry.values[0].x, incidents.geometry.values[0].y
    for z in (11, 13, 15):
        x, y = tile_of(lon, lat, z)
        reply = client.get(f"/tiles/incident/{z}/{x}/{y}.mvt")
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        features = decode(reply.content)["incident"]["features"]
        got = {f["properties"]["call_no"] for f in features}
        must, may = expected_points(incidents, z, x, y)
        assert must <= got <= may, z
        assert len(must) > 0
        assert set(features[0]["properties"]) == {"call_no", "received_at", "category", "status"}
        # decoded positions land on the sample's points, to a tile unit
        minx, miny, maxx, _ = tile_bounds(z, x, y)
        unit = (maxx - minx) / EXTENT
        by_id = incidents.set_index("call_no")["m"]
        checked = 0
        for f in features[:200]:
            tx, ty = f["geometry"]["coordinates"]
            point = by_id[f["properties"]["call_no"]]
            assert abs(minx + tx * unit - point.x) <= unit
            assert abs(miny + ty * unit - point.y) <= unit  # decode flips y to the bottom
            checked += 1
        assert checked == min(len(features), 200) > 0, z


def test_incident_tile_filters_by_time_and_category(
    client: TestClient, incidents: gpd.GeoDataFrame
) -> None:
    lon, lat = incidents.geometry.values[10].x, incidents.geometry.values[10].y
    z = 12
    x, y = tile_of(lon, lat, z)
    start, end = "2026-03-01T00:00:00+08:00", "2026-05-31T23:59:59+08:00"
    chosen = incidents[
        (incidents["t"] >= pd.Timestamp(start))
        & (incidents["t"] <= pd.Timestamp(end))
        & incidents["category"].isin(["theft", "fraud"])
    ]
    must, may = expected_points(chosen, z, x, y)
    for params in (
        {"from": start, "to": end, "category": "theft,fraud"},
        {"datetime": f"{start}/{end}", "category": "theft,fraud"},
    ):
        reply = client.get(f"/tiles/incident/{z}/{x}/{y}.mvt", params=params)
        assert reply.status_code == 200
        features = decode(reply.content)["incident"]["features"]
        got = {f["properties"]["call_no"] for f in features}
        assert must <= got <= may and len(must) > 0
        assert {f["properties"]["category"] for f in features} <= {"theft", "fraud"}
    everything = decode(client.get(f"/tiles/incident/{z}/{x}/{y}.mvt").content)
    assert len(everything["incident"]["features"]) > len(got)


def test_grid_tile_holds_the_grids_it_covers(client: TestClient, grids: gpd.GeoDataFrame) -> None:
    center = grids.geometry.values[0].centroid
    merc = mercator(grids.geometry.values)
    for z in (12, 14):
        x, y = tile_of(center.x, center.y, z)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        unit = (maxx - minx) / EXTENT
        tile = shapely.box(minx, miny, maxx, maxy)
        buffered = tile.buffer((BUFFER + 1) * unit, join_style="mitre")
        # grids with a real piece inside the tile must be there; none from beyond the buffer
        must = {
            code
            for code, g in zip(grids["code"], merc, strict=True)
            if not shapely.intersection(g, tile).buffer(-2 * unit).is_empty
        }
        may = set(grids["code"][shapely.intersects(merc, buffered)])
        reply = client.get(f"/tiles/grid/{z}/{x}/{y}.mvt")
        assert reply.status_code == 200
        got = {f["properties"]["code"] for f in decode(reply.content)["grid"]["features"]}
        assert must <= got <= may and must, z


def test_position_fix_and_beat_tiles(client: TestClient, sample_path: Path) -> None:
    first = pyogrio.read_dataframe(sample_path, layer="position_fix", max_features=1).iloc[0]
    x, y = tile_of(first.geometry.x, first.geometry.y, 11)
    fixes = client.get(
        f"/tiles/position_fix/11/{x}/{y}.mvt", params={"datetime": first["recorded_at"]}
    )
    assert fixes.status_code == 200
    found = decode(fixes.content)["position_fix"]["features"]
    assert {(f["properties"]["person_code"], f["properties"]["recorded_at"]) for f in found} >= {
        (first["person_code"], first["recorded_at"])
    }
    assert {f["properties"]["recorded_at"] for f in found} == {first["recorded_at"]}
    day = client.get(
        f"/tiles/position_fix/11/{x}/{y}.mvt",
        params={"from": "2026-10-05T00:00", "to": "2026-10-05T23:59:59"},
    )
    assert day.status_code == 200
    stamps = {f["properties"]["recorded_at"][:10] for f in decode(day.content)["position_fix"][
        "features"]}  # fmt: skip
    assert stamps == {"2026-10-05"}
    old = decode(client.get(f"/tiles/beat/11/{x}/{y}.mvt", params={"plan": "2025"}).content)
    assert {f["properties"]["plan_code"] for f in old["beat"]["features"]} == {"2025"}


def test_empty_tiles_and_bad_requests(client: TestClient) -> None:
    assert client.get("/tiles/incident/10/0/0.mvt").status_code == 204
    for url, parameter, status in (
        ("/tiles/incident/3/8/0.mvt", "x", 422),
        ("/tiles/incident/3/0/-1.mvt", "y", 422),
        ("/tiles/incident/23/0/0.mvt", "z", 422),
        ("/tiles/person/3/0/0.mvt", "layer", 404),
        ("/tiles/grid/3/0/0.mvt?category=theft", "category", 422),
        ("/tiles/incident/3/0/0.mvt?category=burglary", "category", 422),
        ("/tiles/incident/3/0/0.mvt?from=soon", "from", 422),
        ("/tiles/beat/3/0/0.mvt?plan=1999", "plan", 404),
    ):
        reply = client.get(url)
        assert reply.status_code == status, url
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["parameter"] == parameter, url


def test_tiles_carry_cache_headers_and_answer_304(
    client: TestClient, incidents: gpd.GeoDataFrame
) -> None:
    lon, lat = incidents.geometry.values[0].x, incidents.geometry.values[0].y
    tags = set()
    for z in (11, 13):
        x, y = tile_of(lon, lat, z)
        url = f"/tiles/incident/{z}/{x}/{y}.mvt"
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["cache-control"] == CACHE_CONTROL
        etag = first.headers["etag"]
        assert etag == '"' + hashlib.blake2b(first.content, digest_size=16).hexdigest() + '"'
        assert client.get(url).headers["etag"] == etag  # the same bytes, the same tag
        for header in (etag, f'W/{etag}, "other"', "*"):
            again = client.get(url, headers={"If-None-Match": header})
            assert again.status_code == 304 and again.content == b"", header
            assert again.headers["etag"] == etag
        changed = client.get(url, headers={"If-None-Match": '"something else"'})
        assert changed.status_code == 200 and changed.content == first.content
        filtered = client.get(url, params={"category": "theft"})
        assert filtered.headers["etag"] != etag  # other bytes, another tag
        tags.add(etag)
    assert len(tags) == 2
    empty = client.get("/tiles/incident/10/0/0.mvt")
    assert empty.status_code == 204 and empty.headers["cache-control"] == CACHE_CONTROL


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        (f"/tiles/incident/{10**18}/0/0.mvt", "z"),
        (f"/tiles/incident/3/{10**18}/0.mvt", "x"),
        (f"/tiles/incident/3/0/{2**63}.mvt", "y"),
        ("/tiles/incident/-1/0/0.mvt", "z"),
        (f"/tiles/incident/22/{2**22}/0.mvt", "x"),
    ],
)
def test_huge_tile_numbers_are_refused(client: TestClient, url: str, parameter: str) -> None:
    reply = client.get(url)
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["parameter"] == parameter
