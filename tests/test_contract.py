"""The OpenAPI document is the contract: schemathesis (every check, every phase: examples,
coverage, fuzzing and stateful) against the app in process, signed in as a command-room user
(a token on every call), every protected operation 401 without credentials, and the hand-made
inputs that once answered 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from geo_service.accounts.roles import Role
from geo_service.errors import InvalidParameter
from geo_service.main import create_app
from geo_service.services.layers import LAYERS
from geo_service.services.ogc import (
    LIMIT_BOUND,
    MAX_LIMIT,
    decode_cursor,
    parse_bbox,
    parse_datetime,
)
from geo_service.settings import Settings
from tests.accounts import make_user
from tests.conftest import loaded_database

# Bounded so the whole run stays within a few minutes of CPU on two cores; the seed makes it
# reproducible (the same requests on every run).
MAX_EXAMPLES = 6
SEED = 1

# Routes whose answer never ends (Server-Sent Events): a fuzzer would wait on them for ever;
# tests/test_stream.py checks them against a served app.
ENDLESS = {"GET /api/v1/stream"}

# Valid-looking requests that are refused with 422 for a reason JSON Schema cannot state: the
# content of an uploaded file or CSV body, and constraints between values (a window that ends
# before it starts or is too long, a box whose west is east of its east). Only these may fail
# positive_data_acceptance; every other refusal of documented-valid data is a failure.
BEYOND_JSON_SCHEMA = {
    "POST /api/v1/lookup/batch": re.compile(r".*"),
    "POST /api/v1/imports": re.compile(r".*"),
}
CROSS_VALUE = re.compile(
    r"must come before end|must come before to|longer than \d+ days|ends .* before it starts"
    r"|is not a box"
    r"|starts after it ends|is not one this service gave"  # an OGC interval; an opaque cursor
    r"|crossing the antimeridian"
    r"|must weigh more than 0"  # workload weights (issue 13): not every part at 0
    r"|would come before the call was received"  # a timeline step against the stored call
    r"|must lie between the report"  # a report's step against the stored report's time
    r"|Only a non-police call is diverted"  # a call's divert against its category
)


@dataclass(frozen=True)
class Finding:
    """One failed check of one request."""

    phase: str
    operation: str
    check: str
    status: int | None
    title: str
    request: str


# OGC API - Features Part 1 (/req/core/fc-limit-response-1): a limit above the declared maximum
# "SHALL NOT result in an error" but gets pages of the maximum; the maximum is declared all
# the same, because QGIS and GDAL read their page size from it.
OGC_ITEMS_LIMIT = re.compile(r"/ogc/collections/[^?]+/items\?(?:.*&)?limit=(\d+)")


def _tolerated(
    operation: str, check: str, status: int | None, body: str, request: str = ""
) -> bool:
    """A positive_data_acceptance 422 for a reason the schema cannot state, or an OGC limit
    over the maximum answered as the standard asks (see above)."""
    if check == "negative_data_rejection" and status == 200:
        limit = OGC_ITEMS_LIMIT.search(request)
        return bool(limit) and MAX_LIMIT < int(limit.group(1)) <= LIMIT_BOUND
    if check != "positive_data_acceptance" or status != 422:
        return False
    rule = BEYOND_JSON_SCHEMA.get(operation)
    return bool(rule and rule.search(body)) or bool(CROSS_VALUE.search(body))


def _head_reason(case: Any) -> str:
    """Why an OGC items request is refused, found by the parsers the service uses: a HEAD
    answer has no body to say so (its GET twin's 422 says it in the problem's detail)."""

    def value(name: str) -> str | None:  # the last of repeated values, as FastAPI reads it
        given = (case.query or {}).get(name)
        given = given[-1] if isinstance(given, list) and given else given
        return None if given is None or given == [] else str(given)

    try:
        parse_bbox(value("bbox"))
        parse_datetime(value("datetime"))
        layer = LAYERS.get(str((case.path_parameters or {}).get("collectionId")))
        if layer is not None:
            decode_cursor(value("cursor"), layer=layer)
    except InvalidParameter as refused:
        return refused.detail
    return ""


@dataclass
class Run:
    """What one schemathesis run found, and how much it did."""

    findings: list[Finding]
    checks: int
    operations: set[str]
    phases: set[str]
    check_names: set[str]
    statuses: set[int]


@pytest.fixture(scope="module")
def contract_database(sample_path: Path) -> Iterator[str]:
    """The fuzzer's own database: the command room may take calls and post positions, which
    the tests that read the shared sample must never see."""
    with loaded_database("geo_contract", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def command_room_token(contract_database: str) -> str:
    """A command-room user's token: sees the whole station, may not import, reveal phones,
    read the audit trail or administer users (those operations answer 403). Its id is moved
    out of the way of the ids the fuzzer revokes (DELETE /api/v1/tokens/{token_id} revokes the
    caller's own tokens: small ids and the bounds are what it tries)."""
    name = "contract_command_room"
    token = make_user(contract_database, Role.command_room, name=name)
    with psycopg.connect(contract_database) as conn:
        conn.execute(
            "UPDATE api_token SET id = %s "
            "WHERE user_id = (SELECT id FROM app_user WHERE name = %s)",
            (1_000_003_579, name),
        )
    return token


@pytest.fixture(scope="module")
def schemathesis_run(
    settings: Settings, contract_database: str, command_room_token: str
) -> Iterator[Run]:
    """One schemathesis run, every check enabled, over the app built with the test settings,
    the command-room user's token sent with every call (its ignored_auth check also sends
    calls without it, and with a wrong one)."""
    load_all_checks()
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "headers": {"Authorization": f"Bearer {command_room_token}"},
        }
    )
    config.projects.default.checks.update(included_check_names=["all"])
    app = create_app(settings.model_copy(update={"database_url": contract_database}))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    for label in ENDLESS:
        method, path = label.split(" ", 1)
        schema = schema.exclude(method=method, path=path)
    run = Run(
        findings=[], checks=0, operations=set(), phases=set(), check_names=set(), statuses=set()
    )
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.FatalError | events.NonFatalError):
                pytest.fail(f"schemathesis could not run: {event}")
            if not isinstance(event, events.ScenarioFinished):
                continue
            recorder = event.recorder
            for case_id, nodes in recorder.checks.items():
                case = recorder.cases[case_id].value
                run.operations.add(case.operation.label)
                run.phases.add(event.phase.value)
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction else None
                status = response.status_code if response else None
                body = response.content.decode("utf-8", "replace") if response else ""
                if case.method.upper() == "HEAD" and status == 422:
                    body = _head_reason(case)
                if status is not None:
                    run.statuses.add(status)
                for node in nodes:
                    run.checks += 1
                    run.check_names.add(node.name)
                    info = node.failure_info
                    if info is None or _tolerated(
                        case.operation.label, node.name, status, body, info.code_sample
                    ):
                        continue
                    run.findings.append(
                        Finding(
                            event.phase.value,
                            case.operation.label,
                            node.name,
                            status,
                            info.failure.title,
                            info.code_sample,
                        )
                    )
        yield run
    finally:
        asgi.shutdown_lifespans()  # close the pool before the session drops the database


def test_schemathesis_finds_nothing(schemathesis_run: Run) -> None:
    """No 5xx; every answer has a documented status, media type, headers and schema;
    documented-valid data is accepted and invalid data refused; links keep working."""
    found = sorted(set(schemathesis_run.findings), key=lambda f: (f.operation, f.check))
    report = "\n".join(
        f"{f.phase} {f.operation} {f.check} {f.status} {f.title}: {f.request[:300]}" for f in found
    )
    assert not found, f"{len(found)} findings:\n{report}"


def test_schemathesis_covered_the_document(schemathesis_run: Run, client: TestClient) -> None:
    """The run reached every documented operation, in the coverage, fuzzing and stateful
    phases, with every built-in check (a run that tested nothing cannot pass)."""
    document = client.get("/openapi.json").json()
    labels = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert schemathesis_run.operations >= labels - {"GET /maps/tiles/{z}/{x}/{y}"} - ENDLESS
    assert {"coverage", "fuzzing", "stateful"} <= schemathesis_run.phases
    assert schemathesis_run.checks > 1000
    assert "ignored_auth" in schemathesis_run.check_names  # probes without the token ran
    assert {200, 403} <= schemathesis_run.statuses  # signed in; refused where the role may not
    assert 401 not in schemathesis_run.statuses  # the token was sent on every call
    names = {check.__name__ for check in CHECKS.get_all() if callable(check)}
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


# ------------------------------------------------------------------- without credentials


def _placeholder(parameter: dict[str, Any]) -> str:
    """Some value of a path parameter's documented type (sign-in is checked before values)."""
    schema = parameter.get("schema", {})
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(max(1, schema.get("minimum", 1)))
    return "x"


def test_every_protected_operation_is_401_without_credentials(settings: Settings) -> None:
    """Every documented operation but the health check declares that it needs a signed-in
    user, 401 and 403; asked without credentials, each one answers 401 problem+json with
    WWW-Authenticate: Bearer."""
    with TestClient(create_app(settings)) as anonymous:
        document = anonymous.get("/openapi.json").json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
        public, asked = [], 0
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if "security" not in operation:
                    public.append(f"{method.upper()} {path}")
                    continue
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
                url = path
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path":
                        url = url.replace(f"{{{parameter['name']}}}", _placeholder(parameter))
                reply = anonymous.request(method.upper(), url)
                assert reply.status_code == 401, (method, url, reply.text[:200])
                assert reply.headers["www-authenticate"].startswith("Bearer")
                assert reply.headers["content-type"].startswith("application/problem+json")
                if method != "head":
                    assert reply.json()["status"] == 401
                asked += 1
    assert public == ["GET /healthz"]
    assert asked > 40


def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    """OPTIONS (answered by no route) is 405 with Allow naming exactly the documented methods
    of the path, also where each method is a route of its own."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        reply = client.options(url)
        assert reply.status_code == 405, (path, reply.text[:200])
        allowed = {m.strip() for m in reply.headers["allow"].split(",")}
        assert allowed == {m.upper() for m in operations}, path
    assert len(document["paths"]) > 30


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
    reply = client.post("/api/v1/lookup/batch", content=body, headers={"content-type": "text/csv"})
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
