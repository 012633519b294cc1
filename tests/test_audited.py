"""What a signed-in user does reaches the audit trail: lookups with the grid they answered
(appended in batches),
phone reveals with their reason, downloads, refusals; and the chain still verifies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service import audit
from geo_service.accounts.roles import Role
from geo_service.db import connect
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.reference import Reference

AT = "2026-08-01T09:00:00+08:00"


def events_since(database_url: str, seq: int) -> list[dict[str, Any]]:
    """The audit events after seq, oldest first."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT seq, actor, role, action, subject, detail FROM audit_event WHERE seq > %s "
            "ORDER BY seq",
            (seq,),
        ).fetchall()
    keys = ("seq", "actor", "role", "action", "subject", "detail")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def last_seq(database_url: str) -> int:
    """The newest seq of the trail (0 when empty)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_event").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def planner(database_url: str) -> Iterator[tuple[str, TestClient]]:
    """A planner's name and a client signed in as them."""
    name = "audited_planner"
    token = make_user(database_url, Role.planner, name=name)
    with TestClient(create_app(Settings(database_url=database_url)), headers=bearer(token)) as c:
        yield name, c


def test_lookups_are_audited_with_the_grid_they_answered(
    database_url: str, planner: tuple[str, TestClient], reference: Reference
) -> None:
    name, client = planner
    rng = np.random.default_rng(11)
    points = shapely.get_coordinates(
        reference.grids.sample(12, random_state=3).geometry.representative_point()
    )
    points += rng.uniform(-1e-5, 1e-5, points.shape)
    expected = reference.locate(shapely.points(points), AT)
    before = last_seq(database_url)
    for lon, lat in points:
        params = {"lon": lon, "lat": lat, "at": AT}
        assert client.get("/api/v1/lookup", params=params).status_code == 200
    client.portal.call(client.app.state.audit_batch.flush)  # type: ignore[union-attr, attr-defined]
    events = [e for e in events_since(database_url, before) if e["action"] == "lookup"]
    assert len(events) == len(points) == 12
    for event, (lon, lat), codes in zip(events, points, expected, strict=True):
        assert codes is not None
        assert (event["actor"], event["role"]) == (name, "planner")
        assert event["subject"] == codes[1]
        assert (event["detail"]["lon"], event["detail"]["lat"]) == (lon, lat)


def test_lookups_queued_for_the_batch_are_written_when_the_service_stops(
    database_url: str, leader_token: str
) -> None:
    before = last_seq(database_url)
    app = create_app(Settings(database_url=database_url, audit_batch_seconds=60))
    with TestClient(app, headers=bearer(leader_token)) as client:  # only the stop writes them
        for lon, lat in [(120.36, 29.84), (120.35, 29.85)]:
            client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
        queued = len(app.state.audit_batch.events)
    assert queued >= 2  # not written during the requests
    events = [e for e in events_since(database_url, before) if e["action"] == "lookup"]
    assert [(e["detail"]["lon"], e["detail"]["lat"]) for e in events][-2:] == [
        (120.36, 29.84),
        (120.35, 29.85),
    ]


def test_a_phone_reveal_is_audited_with_its_reason(
    database_url: str, planner: tuple[str, TestClient]
) -> None:
    name, client = planner
    with psycopg.connect(database_url) as conn:
        code, phone = conn.execute(
            "SELECT code, phone FROM person WHERE phone IS NOT NULL ORDER BY code LIMIT 1"
        ).fetchone() or ("", "")
    before = last_seq(database_url)
    answer = client.post(f"/api/v1/people/{code}/phone", json={"reason": "call about a fire"})
    assert answer.status_code == 200 and answer.json()["phone"] == phone
    (event,) = events_since(database_url, before)
    assert (event["action"], event["actor"], event["subject"]) == ("phone_reveal", name, code)
    assert event["detail"] == {"reason": "call about a fire"}
    assert client.post(f"/api/v1/people/{code}/phone", json={}).status_code == 422
    assert client.post("/api/v1/people/NOPE/phone", json={"reason": "why not"}).status_code == 404


def test_a_refusal_is_audited_though_its_request_rolled_back(
    database_url: str, planner: tuple[str, TestClient]
) -> None:
    name, client = planner
    before = last_seq(database_url)
    answer = client.get("/api/v1/audit")
    assert answer.status_code == 403
    (event,) = events_since(database_url, before)
    assert (event["action"], event["actor"], event["subject"]) == (
        "refused",
        name,
        "GET /api/v1/audit",
    )


def test_downloads_are_audited_and_the_chain_holds(
    database_url: str, planner: tuple[str, TestClient]
) -> None:
    name, client = planner
    before = last_seq(database_url)
    assert client.get("/api/v1/layers/grid.geojson").status_code == 200
    (event,) = events_since(database_url, before)
    assert (event["action"], event["actor"], event["subject"], event["detail"]["format"]) == (
        "download",
        name,
        "grid",
        "geojson",
    )
    with connect(database_url) as conn:
        assert audit.verify(conn).ok
