"""Batch lookup: CSV and GeoJSON in, every point streamed back in order with its codes."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.crs import wgs84_to_gcj02
from tests.reference import Reference, shared_edge_points, shared_vertices
from tests.test_lookup import AT_PLAN_2025, AT_PLAN_2026


def sample_points(grids: gpd.GeoDataFrame, n: int, seed: int) -> np.ndarray:
    """Random points over the grids' box (some outside), plus shared edges and vertices."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = grids.total_bounds
    random = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
    return np.vstack(
        [random, shared_edge_points(grids, rng, n // 5), shared_vertices(grids, rng, n // 10)]
    )


@pytest.mark.parametrize("at", [AT_PLAN_2025, AT_PLAN_2026])
def test_csv_batch_streams_codes_in_input_order(
    client: TestClient, grids: gpd.GeoDataFrame, reference: Reference, at: str
) -> None:
    pts = sample_points(grids, 100_000, 1)  # more than one chunk
    frame = pd.DataFrame(
        {"id": [f"r{i}" for i in range(len(pts))], "lon": pts[:, 0], "lat": pts[:, 1]}
    )
    body = frame.to_csv(index=False, float_format="%.17g").encode()
    reply = client.post(
        "/api/v1/lookup/batch",
        content=body,
        params={"at": at},
        headers={"content-type": "text/csv"},
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.StringIO(reply.text), dtype=str, keep_default_na=False)
    assert list(got["id"]) == list(frame["id"])
    want = reference.locate(shapely.points(pts), at)
    checked = 0
    for (village, grid, beat), w in zip(
        got[["village_code", "grid_code", "beat_code"]].itertuples(index=False), want, strict=True
    ):
        assert (village, grid, beat) == (w or ("", "", ""))
        checked += 1
    assert checked == len(pts) > 0


def test_geojson_batch_in_gcj02(
    client: TestClient, grids: gpd.GeoDataFrame, reference: Reference
) -> None:
    pts = np.array([g.representative_point().coords[0] for g in grids.geometry.values])
    gx, gy = wgs84_to_gcj02(pts[:, 0], pts[:, 1])
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i,
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {},
            }
            for i, (x, y) in enumerate(zip(gx.tolist(), gy.tolist(), strict=True))
        ],
    }
    reply = client.post(
        "/api/v1/lookup/batch",
        content=orjson.dumps(doc),
        params={"crs": "gcj02"},
        headers={"content-type": "application/geo+json"},
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/geo+json")
    features = reply.json()["features"]
    assert [f["properties"]["grid_code"] for f in features] == list(grids["code"])
