"""Bad input gets a clear problem+json naming what to fix; no input produces a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    "params,parameter",
    [
        ({"lon": "abc", "lat": "29.8"}, "lon"),
        ({"lon": "120.3", "lat": "x"}, "lat"),
        ({"lat": "29.8"}, "lon"),
        ({"lon": "120.3", "lat": "95"}, "lat"),
        ({"lon": "190", "lat": "29.8"}, "lon"),
        ({"lon": "nan", "lat": "29.8"}, "lon"),
        ({"lon": "inf", "lat": "29.8"}, "lon"),
        ({"lon": "120.3", "lat": "29.8", "crs": "EPSG:3857"}, "crs"),
        ({"lon": "120.3", "lat": "29.8", "at": "yesterday"}, "at"),
    ],
)
def test_bad_lookup_parameters_are_422_naming_the_parameter(
    client: TestClient, params: dict, parameter: str
) -> None:
    reply = client.get("/api/v1/lookup", params=params)
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = reply.json()
    assert body["parameter"] == parameter
    assert {"type", "title", "status", "detail"} <= body.keys()
    # the detail says what to fix: the parameter's name, or the value it refused
    assert parameter in body["detail"] or str(params.get(parameter)) in body["detail"]


def test_point_outside_the_jurisdiction_names_the_nearest_area(client: TestClient) -> None:
    reply = client.get("/api/v1/lookup", params={"lon": 120.0, "lat": 29.5})
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = reply.json()
    assert "outside" in body["detail"]
    assert body["nearest"]["kind"] == "village"
    assert body["nearest"]["distance_m"] > 1000
    assert body["nearest"]["name"] in body["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/areas/village/000000000000",
        "/api/v1/areas/grid/nope",
        "/api/v1/areas/beat/B99",
        "/api/v1/people/P99999/coverage",
    ],
)
def test_unknown_codes_are_404(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith(PROBLEM)


# Every operation that takes a beat, plan or village code, with a path that reaches it; the test
# below checks this list against the OpenAPI document, so a new one cannot be left out.
CODE_PATHS = {
    "/api/v1/areas/{kind}/{code}": "/api/v1/areas/beat/B01",
    "/api/v1/cameras/blind-roads": "/api/v1/cameras/blind-roads",
    "/api/v1/incidents/heatmap": "/api/v1/incidents/heatmap",
    "/api/v1/incidents/hexagons": "/api/v1/incidents/hexagons",
    "/api/v1/incidents/hourly": "/api/v1/incidents/hourly",
    "/api/v1/kpis": "/api/v1/kpis",
    "/api/v1/kpis.csv": "/api/v1/kpis.csv",
    "/api/v1/layers/{layer}.{format}": "/api/v1/layers/beat.geojson",
    "/api/v1/patrol/cells": "/api/v1/patrol/cells",
    "/api/v1/patrol/coverage": "/api/v1/patrol/coverage",
    "/maps/animation": "/maps/animation",
    "/maps/cameras": "/maps/cameras",
    "/maps/heatmap": "/maps/heatmap",
    "/maps/hexagons": "/maps/hexagons",
    "/maps/patrol": "/maps/patrol",
    "/tiles/{layer}/{z}/{x}/{y}.mvt": "/tiles/beat/3/6/3.mvt",
}
CODE_PARAMETERS = ("beat", "plan", "village")


def test_an_unknown_beat_plan_or_village_is_the_same_404_on_every_endpoint(
    client: TestClient,
) -> None:
    asked = []
    for template, operations in client.app.openapi()["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] in CODE_PARAMETERS:
                    asked.append((template, parameter["name"]))
    assert {template for template, _ in asked} == CODE_PATHS.keys()
    for template, name in asked:
        reply = client.get(CODE_PATHS[template], params={name: "NOPE-42"})
        assert reply.status_code == 404, (template, name, reply.text)
        assert reply.headers["content-type"].startswith(PROBLEM), (template, name)
        body = reply.json()
        assert body["parameter"] == name, (template, name, body)
        assert "NOPE-42" in body["detail"], (template, name, body)
    assert len(asked) == 28


def test_unknown_area_kind_is_422(client: TestClient) -> None:
    reply = client.get("/api/v1/areas/county/330681")
    assert reply.status_code == 422
    assert reply.json()["parameter"] == "kind"


@pytest.mark.parametrize(
    "body,content_type,parameter",
    [
        (b"x,y\n1,2\n", "text/csv", "body"),
        (b"lon,lat\n120.3,abc\n", "text/csv", "lat"),
        (b"lon,lat\n", "text/csv", "body"),
        (b"{not json", "application/geo+json", "body"),
        (b'{"type": "Feature"}', "application/geo+json", "body"),
        (
            b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
            b'{"type":"LineString","coordinates":[[1,2],[3,4]]}}]}',
            "application/geo+json",
            "body",
        ),
        (b"lon,lat\n120.3,29.8\n", "application/xml", "Content-Type"),
        (b"lon,lat\n120.3,95\n", "text/csv", "lat"),
    ],
)
def test_bad_batches_are_422(
    client: TestClient, body: bytes, content_type: str, parameter: str
) -> None:
    reply = client.post(
        "/api/v1/lookup/batch", content=body, headers={"content-type": content_type}
    )
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    assert reply.json()["parameter"] == parameter


def test_oversized_batch_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.batch_max_bytes
    reply = client.post(
        "/api/v1/lookup/batch",
        content=b"lon,lat\n",
        headers={"content-type": "text/csv", "content-length": str(limit + 1)},
    )
    assert reply.status_code == 413
    assert reply.headers["content-type"].startswith(PROBLEM)


def test_healthz_reports_postgis(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert "POSTGIS" in body["postgis"]
    assert body["stations_loaded"] == 1


def test_benchmark_baselines_answer_and_only_the_floor_asks_the_database(
    client: TestClient,
) -> None:
    pool = client.app.state.pool
    asked = pool.get_stats().get("requests_num", 0)
    assert client.get("/ping").json() == {"ok": True}
    assert pool.get_stats().get("requests_num", 0) == asked
    assert client.get("/ping/db").json() == {"ok": True}
    assert pool.get_stats().get("requests_num", 0) == asked + 1


ODD_VALUES = [
    "",
    " ",
    "1e309",
    "-0",
    "0x10",
    "١٢٠",
    "120,3",
    "NaN",
    "9" * 400,
    "%00",
    "'; DROP TABLE grid; --",
    "2026-13-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "EPSG:",
    "gcj02 ",
]


def test_no_input_produces_a_500(client: TestClient) -> None:
    base = {"lon": "120.36", "lat": "29.84"}
    for value in ODD_VALUES:
        for name in ("lon", "lat", "at", "crs"):
            reply = client.get("/api/v1/lookup", params={**base, name: value})
            assert reply.status_code in (200, 404, 422), (name, value, reply.text)
            if reply.status_code != 200:
                assert reply.headers["content-type"].startswith(PROBLEM)
        for path in ("areas/village", "areas/beat", "areas/grid", "areas/station"):
            reply = client.get(f"/api/v1/{path}/{value or 'x'}", params={"at": value})
            assert reply.status_code in (200, 404, 422), (path, value, reply.text)
        reply = client.get(f"/api/v1/people/{value or 'x'}/coverage")
        assert reply.status_code in (200, 404, 422), (value, reply.text)
    assert client.get("/healthz").json()["status"] == "ok"  # and the grids are still there
    assert client.get("/api/v1/lookup", params=base).status_code == 200


def test_a_moment_before_any_plan_still_answers_village_and_grid(client: TestClient) -> None:
    body = client.get(
        "/api/v1/lookup", params={"lon": 120.36, "lat": 29.84, "at": "2020-01-01T00:00:00"}
    ).json()
    assert body["village"] and body["grid"]
    assert body["beat"] is None and body["plan"] is None


@pytest.mark.parametrize("path", ["/api/v1/patrol/coverage", "/api/v1/patrol/cells"])
def test_a_value_refused_in_sql_names_its_parameter(client: TestClient, path: str) -> None:
    # the default end (the day of the latest position fix) lies before this start: only the SQL
    # function knows, and says which parameter in HINT
    reply = client.get(path, params={"from": "2099-01-01"})
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    assert reply.json()["parameter"] == "from"
    assert "2099" in reply.json()["detail"]
