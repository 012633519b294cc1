"""The OpenAPI document is the contract: schemathesis (every check) against the app in-process,
stateless and stateful, and the hand-made inputs that once answered 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.python import asgi

from geo_service.main import create_app
from geo_service.settings import Settings

# Bounded so the whole contract test stays within a few minutes of CPU on two cores.
EXAMPLES_PER_OPERATION = 25
STATEFUL_STEPS = 10
HYPOTHESIS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
load_all_checks()  # registers the OpenAPI checks
ALL_CHECKS = [check for check in CHECKS.get_all() if callable(check)]


@pytest.fixture(scope="module")
def contract_app(settings: Settings) -> Iterator[FastAPI]:
    """The app under test; schemathesis runs its lifespan (the pool) in process."""
    yield create_app(settings)
    asgi.shutdown_lifespans()  # close the pool before the session drops the database


@pytest.fixture(scope="module")
def contract_schema(contract_app: FastAPI) -> Any:
    """The app's own OpenAPI document, loaded by schemathesis."""
    return schemathesis.openapi.from_asgi("/openapi.json", contract_app)


schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_keeps_its_contract(case: schemathesis.Case) -> None:
    """No 5xx; every answer has a documented status, media type, headers and schema;
    documented-valid data is accepted and invalid data refused."""
    case.call_and_validate(checks=ALL_CHECKS)


def test_stateful_links_keep_the_contract(contract_schema: Any) -> None:
    """Sequences of calls along the links schemathesis infers (codes from one answer used as
    path parameters of the next) keep the contract too."""
    machine = contract_schema.as_state_machine()
    machine.run(
        settings=settings(
            max_examples=STATEFUL_STEPS,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_all_checks_are_used() -> None:
    """The stateless test runs every built-in check (none silently missing)."""
    names = {check.__name__ for check in ALL_CHECKS}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "positive_data_acceptance",
        "negative_data_rejection",
        "use_after_free",
        "ensure_resource_availability",
        "missing_required_header",
        "unsupported_method",
    } <= names


# --------------------------------------------------------------------- hand-made inputs

FAR_OFF = ["0001-01-01", "9999-12-31", "1969-12-31T23:59:59Z", "2200-01-01"]


def _problem(reply: Any, status: int, parameter: str | None) -> dict[str, Any]:
    """The problem+json body of a reply, checked for its status and parameter."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = reply.json()
    assert body["status"] == status
    if parameter is not None:
        assert body.get("parameter") == parameter, body
    return body


@pytest.mark.parametrize("moment", FAR_OFF)
@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v1/incidents/heatmap", {"start": "{m}"}, "start"),
        ("/api/v1/incidents/heatmap", {"end": "{m}"}, "end"),
        ("/api/v1/incidents/hexagons", {"start": "{m}", "days": "1000"}, "start"),
        ("/api/v1/incidents/hourly", {"end": "{m}"}, "end"),
        ("/maps/heatmap", {"start": "{m}"}, "start"),
        ("/maps/hexagons", {"end": "{m}"}, "end"),
        ("/api/v1/lookup", {"lon": "120.25", "lat": "29.72", "at": "{m}"}, "at"),
        ("/api/v1/areas/station/S1", {"at": "{m}"}, "at"),
        ("/api/v1/people/P00001/coverage", {"at": "{m}"}, "at"),
        ("/api/v1/overview/layers", {"at": "{m}"}, "at"),
        ("/api/v1/patrol/coverage", {"from": "{m}"}, "from"),
        ("/api/v1/patrol/cells", {"to": "{m}"}, "to"),
        ("/api/v1/cameras/blind-roads", {"at": "{m}"}, "at"),
        ("/api/v1/water/markers", {"at": "{m}"}, "at"),
        ("/api/v1/layers/grid.geojson", {"at": "{m}"}, "at"),
    ],
)
def test_far_off_moments_are_refused_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, str], parameter: str, moment: str
) -> None:
    reply = client.get(path, params={k: v.format(m=moment) for k, v in params.items()})
    body = _problem(reply, 422, parameter)
    assert "1970..2199" in body["detail"]


@pytest.mark.parametrize(
    ("body", "parameter", "says"),
    [
        (b"lon,lat,lon\n120.25,29.72,1\n", "body", "'lon' more than once"),
        (b"id,LAT,lon,lat\na,1,120.25,29.72\n", "body", "'lat' more than once"),
        ("id,lon,lat\ncafé,120.25,29.72\n".encode("latin-1"), "body", "not UTF-8: line 2"),
        ("lon,lat\n120.25,29.72\n".encode("utf-16"), "body", "not UTF-8"),
        (b"lon,lat\n120.25,29.72\n120.25,29.72,7\n", "body", "3 fields where the header has 2"),
        (b"lon,lat\n120.25\n", "body", "1 fields where the header has 2"),
        (b"id,lon\na,120.25\n", "body", "columns named lon and lat"),
        (b"lon,lat\nnan,29.72\n", "lon", "finite"),
        (b"lon,lat\n120.25,inf\n", "lat", "finite"),
        (b"lon,lat\ntrue,29.72\n", "lon", "Row 1"),
        (b"lon,lat\n120.25,29.72\n,29.72\n", "lon", "Row 2"),
        (b"", "body", "Empty CSV"),
    ],
)
def test_malformed_batch_csv_is_refused_saying_what_to_fix(
    client: TestClient, body: bytes, parameter: str, says: str
) -> None:
    reply = client.post(
        "/api/v1/lookup/batch", content=body, headers={"content-type": "text/csv"}
    )
    assert says in _problem(reply, 422, parameter)["detail"]


def test_far_point_is_not_a_server_error(client: TestClient) -> None:
    """A valid point far from the station is outside the jurisdiction: 404 naming the nearest
    village (the metric transform must not fail)."""
    reply = client.get("/api/v1/lookup", params={"lon": 25, "lat": 0})
    body = _problem(reply, 404, None)
    assert body["nearest"]["kind"] == "village"


def test_huge_ogc_offset_is_not_a_server_error(client: TestClient) -> None:
    reply = client.get("/ogc/collections/grid/items", params={"offset": 10**18})
    assert reply.status_code < 500, reply.text


def test_openapi_documents_problems_not_fastapi_validation(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail", "parameter"} <= set(
        schemas["ProblemDetails"]["properties"]
    )
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if int(status) >= 400 and not (path == "/healthz" and status == "503"):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
                    checked += 1
            if "{" in path:
                assert "404" in responses, (method, path)
            success = next(v for k, v in responses.items() if k.startswith("2"))
            for media, body in (success.get("content") or {}).items():
                if path.startswith(("/ogc", "/tiles")):
                    continue  # documented by the OGC routers
                assert body.get("schema"), (method, path, media)
    assert checked > 60
