"""What an operator relies on: JSON log lines with request ids, 500 for bugs, 503 for a lost
database, and database errors mapped by SQL state."""

from __future__ import annotations

import gc
import inspect
import io
import logging
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.db import connect, make_pool, translate
from geo_service.errors import (
    DatabaseUnavailable,
    InternalError,
    InvalidParameter,
    NotFound,
    status_of,
)
from geo_service.logs import JsonFormatter
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.browser import served
from tests.conftest import migrated_database

PROBLEM = "application/problem+json"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service logs during a test, formatted as the served app formats it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("geo_service")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def parsed(out: io.StringIO) -> list[dict]:
    """Every line logged, each one JSON object."""
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


# ----------------------------------------------------------------------------- request ids


def test_a_sane_request_id_is_kept_and_logged_with_the_request(
    client: TestClient, log_lines: io.StringIO
) -> None:
    reply = client.get("/ping", params={"token": "s3cret"}, headers={"X-Request-ID": "call-7.a_B"})
    assert reply.headers["X-Request-ID"] == "call-7.a_B"
    lines = parsed(log_lines)
    assert len(lines) == 1
    line = lines[0]
    assert line["message"] == "request" and line["request_id"] == "call-7.a_B"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/ping", 200)
    assert line["ms"] >= 0 and line["client"] == "testclient"
    assert {"time", "level", "logger"} <= line.keys()
    assert "s3cret" not in log_lines.getvalue()  # the query string is never logged


@pytest.mark.parametrize("given", [None, "", "x" * 65, "a b", "id\u00e9", "a/b", "<script>"])
def test_a_missing_or_odd_request_id_is_replaced(
    client: TestClient, log_lines: io.StringIO, given: str | None
) -> None:
    headers = {"X-Request-ID": given.encode("utf-8")} if given is not None else {}
    reply = client.get("/ping", headers=headers)
    rid = reply.headers["X-Request-ID"]
    assert rid != given and len(rid) == 32 and int(rid, 16) >= 0
    assert parsed(log_lines)[-1]["request_id"] == rid


def test_every_answer_has_its_own_request_id(client: TestClient) -> None:
    ids = {client.get("/ping").headers["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20


# --------------------------------------------------------------- database errors, by SQL state


def _error(conn: psycopg.Connection, query: str) -> psycopg.Error:
    """The error PostgreSQL raises for a query (the transaction is rolled back after)."""
    try:
        with conn.transaction():
            conn.execute(query)
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"no error from {query}")


def test_translate_maps_sql_states_not_messages(database_url: str) -> None:
    raising = "DO $$ BEGIN RAISE EXCEPTION USING MESSAGE = 'There is no beat ''X''.', {} ; END $$"
    with connect(database_url) as conn:
        cases = [
            (raising.format("ERRCODE = 'no_data_found', HINT = 'beat'"), NotFound, "beat"),
            (raising.format("ERRCODE = 'no_data_found', HINT = 'village'"), NotFound, "village"),
            (
                raising.format("ERRCODE = 'invalid_parameter_value', HINT = 'to'"),
                InvalidParameter,
                "to",
            ),
            ("SELECT 1 / 0", InvalidParameter, None),
            (
                "INSERT INTO station (code, name, geom) VALUES (NULL, NULL, NULL)",
                InvalidParameter,
                None,
            ),
            # the same words without the state, or the state without a parameter: a bug
            (raising.format("HINT = 'beat'"), InternalError, None),
            (raising.format("ERRCODE = 'no_data_found'"), InternalError, None),
            ("SELECT no_such_function()", InternalError, None),
            ("SELECT * FROM no_such_table", InternalError, None),
        ]
        for query, kind, parameter in cases:
            error = translate(_error(conn, query))
            assert type(error) is kind, (query, error)
            assert error.parameter == parameter, query
    assert translate(_error_of_dead_server()).__class__ is DatabaseUnavailable
    assert len(cases) == 9


def _error_of_dead_server() -> psycopg.Error:
    """The error of connecting to a port nobody listens on."""
    try:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{_free_port()}/x", connect_timeout=2)
    except psycopg.Error as exc:
        return exc
    raise AssertionError("connected to a dead port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_missing_sql_function_is_a_logged_500_not_a_503(log_lines: io.StringIO) -> None:
    with migrated_database("geo_ops") as url:
        with connect(url) as conn:
            conn.execute("DROP FUNCTION camera_sectors()")
        token = make_user(url, Role.leader)
        app = create_app(Settings(database_url=url))
        with TestClient(app, headers=bearer(token)) as client:
            reply = client.get("/api/v1/cameras/sectors", headers={"X-Request-ID": "bug-1"})
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = reply.json()
    assert body["request_id"] == "bug-1" and body["sqlstate"] == "42883"
    assert body["type"] == "/problems/InternalError"
    errors = [line for line in parsed(log_lines) if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["sqlstate"] == "42883" and errors[0]["request_id"] == "bug-1"
    assert "camera_sectors" in errors[0]["traceback"]  # the database's own message, logged
    assert "UndefinedFunction" in errors[0]["traceback"]
    request = [line for line in parsed(log_lines) if line["message"] == "request"]
    assert [(r["request_id"], r["status"]) for r in request] == [("bug-1", 500)]


def test_an_unexpected_exception_is_a_logged_500_with_the_request_id(
    settings: Settings, log_lines: io.StringIO
) -> None:
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    with TestClient(app) as client:
        reply = client.get("/broken")
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith(PROBLEM)
    rid = reply.headers["X-Request-ID"]
    assert reply.json()["request_id"] == rid and "RuntimeError" in reply.json()["detail"]
    lines = parsed(log_lines)
    error = next(line for line in lines if line["level"] == "error")
    assert error["request_id"] == rid and "RuntimeError: a bug" in error["traceback"]
    assert [(x["path"], x["status"]) for x in lines if x["message"] == "request"] == [
        ("/broken", 500)
    ]


def test_a_database_that_cannot_be_reached_is_503(log_lines: io.StringIO) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_free_port()}/nothing"
    app = create_app(Settings(database_url=dead))
    with TestClient(app) as client:
        pool = make_pool(dead, min_size=1, max_size=1, timeout=1)
        client.portal.call(pool.open)  # type: ignore[union-attr]
        app.state.pool, original = pool, app.state.pool
        try:
            # any token: checking it is the first thing that needs the database
            reply = client.get("/api/v1/cameras/sectors", headers=bearer("gst_" + "x" * 43))
        finally:
            app.state.pool = original
            client.portal.call(pool.close)  # type: ignore[union-attr]
    assert reply.status_code == 503
    assert status_of(DatabaseUnavailable("x")) == 503
    body = reply.json()
    assert body["type"] == "/problems/DatabaseUnavailable"
    assert body["request_id"] == reply.headers["X-Request-ID"]
    error = next(line for line in parsed(log_lines) if line["level"] == "error")
    assert "database unavailable" in error["message"] and "traceback" not in error


# ---------------------------------------------------------------------- geo-service serve


def test_serve_writes_one_json_line_per_request_to_stderr(
    database_url: str, leader_token: str
) -> None:
    asked = [
        ("/ping", {"token": "s3cret"}, 200),
        ("/api/v1/lookup", {"lon": "120.36", "lat": "29.84"}, 200),
        ("/api/v1/patrol/cells", {"beat": "NOPE"}, 404),
        ("/nowhere", {}, 404),
    ]
    with tempfile.TemporaryFile() as log:
        with served(database_url, log) as url:
            for n, (path, params, status) in enumerate(asked):
                headers = {"X-Request-ID": f"t-{n}", **bearer(leader_token)}
                reply = httpx.get(url + path, params=params, headers=headers)
                assert reply.status_code == status, reply.text
                assert reply.headers["X-Request-ID"] == f"t-{n}"
        log.seek(0)  # the server has stopped: all it wrote is in the file
        text = log.read().decode()
    lines = [orjson.loads(line) for line in text.splitlines()]  # every line is JSON
    assert "s3cret" not in text and leader_token not in text
    requests = {line["request_id"]: line for line in lines if line["message"] == "request"}
    for n, (path, _, status) in enumerate(asked):
        line = requests[f"t-{n}"]
        assert (line["method"], line["path"], line["status"]) == ("GET", path, status)
        assert line["client"] == "127.0.0.1" and line["ms"] >= 0
    assert len(asked) == 4
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own, as JSON


# ---------------------------------------------------------------------------------- imports


def test_an_import_leaves_the_cyclic_collector_running(
    database_url: str, sample_path: Path
) -> None:
    from geo_service.ingest.imports import import_layer

    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        with connect(database_url) as conn:  # a dry run: checks and stores, then rolls back
            report = import_layer(conn, sample_path, layer="rental_house", dry_run=True)
    finally:
        gc.callbacks.remove(seen)
    assert report.status == "dry-run" and report.rows_read > 1000
    assert len(collections) > 0  # other threads (requests) kept their collector meanwhile
    assert gc.isenabled() and gc.get_freeze_count() == 0


# ------------------------------------------------------------------------- the event loop


def test_no_route_hands_its_endpoint_or_dependencies_to_a_worker_thread() -> None:
    """FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: a thread hop and
    an extra wake-up of the event loop on every request that uses it (the settings dependency
    did that on 31 routes, about 0.3 ms of the lookup's CPU). Each one is a coroutine."""
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    handed: set[str] = set()
    routes = 0

    def walk(dependant: Dependant) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)):
                handed.add(getattr(call, "__qualname__", repr(call)))
            walk(sub)

    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            routes += 1
            walk(context.dependant)
            if not inspect.iscoroutinefunction(route.endpoint):
                handed.add(f"{route.path} {route.endpoint.__qualname__}")
    assert routes > 100  # the whole service was walked
    assert not handed, f"run in a worker thread on every request: {sorted(handed)}"
