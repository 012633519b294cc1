"""Reports that blow the whistle (网格吹哨): made at places in one's areas (shapely decides, over
random points), routed to the department of their category, answered with a timeline, seen by
their reporter, written to the command room's event log and the audit trail, stored once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import Point

from tests import field_fixtures
from tests.field_fixtures import FieldStage, jpeg_with_gps

field_stage = field_fixtures.field_stage  # the fixture


def report_body(lon: float, lat: float, category: str = "road_hazard", **more: Any) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        "category": category,
        "note": "a broken railing by the bridge",
        "reported_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "lon": lon,
        "lat": lat,
        **more,
    }


def post_report(
    stage: FieldStage, who: str, body: dict, photos: list[tuple[str, bytes, str]] | None = None
) -> Any:
    files = [("photos", p) for p in photos or []]
    return stage.client.post(
        "/api/v1/reports",
        data={"report": orjson.dumps(body).decode()},
        files=files or None,
        headers=stage.as_(who),
    )


def grid_by_rule(stage: FieldStage, point: Point) -> str | None:
    """The grid a point belongs to: the lowest-coded grid whose closed outline holds it."""
    grids = stage.layers["grid"]
    hits = grids[grids.intersects(point)]
    return None if hits.empty else str(hits.code.min())


def inside_point(stage: FieldStage, who: str) -> Point:
    grids = stage.layers["grid"].set_index("code")
    point: Point = grids.geometry[stage.users[who].grids[0]].representative_point()
    return point


def test_a_report_is_routed_logged_and_answered(field_stage: FieldStage) -> None:
    point = inside_point(field_stage, "worker")
    body = report_body(point.x, point.y, "fire_hazard")
    reply = post_report(field_stage, "worker", body, [("x.jpg", jpeg_with_gps(), "image/jpeg")])
    assert reply.status_code == 201, reply.text
    stored = reply.json()
    routes = dict(
        field_stage.sql(
            "SELECT c.code, d.code FROM report_category c JOIN department d "
            "ON d.id = c.department_id"
        )
    )
    assert stored["department"]["code"] == routes["fire_hazard"]
    assert stored["status"] == "open" and stored["grid"] == grid_by_rule(field_stage, point)
    assert [s["kind"] for s in stored["steps"]] == ["route"]
    assert stored["photos"][0]["media_type"] == "image/jpeg"
    # in the command room's event log, with its grid
    events = field_stage.sql(
        "SELECT kind, payload, grid_id FROM command_event WHERE kind LIKE 'report%%' "
        "AND (payload ->> 'report_id')::bigint = %s ORDER BY id",
        (stored["id"],),
    )
    assert [e[0] for e in events] == ["report", "report_step"]
    assert events[0][1]["department"] == routes["fire_hazard"]
    grid_ids = field_stage.sql("SELECT id FROM grid WHERE code = %s", (stored["grid"],))
    assert events[0][2] == grid_ids[0][0]
    # the command room accepts and closes it for the department; the reporter sees each status
    room = field_stage.as_("command_room")
    url = f"/api/v1/reports/{stored['id']}"
    accepted = field_stage.client.post(f"{url}/steps", json={"kind": "accept"}, headers=room)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    seen = field_stage.client.get(url, headers=field_stage.as_("worker")).json()
    assert seen["status"] == "accepted"
    closed = field_stage.client.post(
        f"{url}/steps", json={"kind": "close", "note": "railing fixed"}, headers=room
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = field_stage.client.post(f"{url}/steps", json={"kind": "accept"}, headers=room)
    assert again.status_code == 409 and again.json()["parameter"] == "kind"
    assert again.json()["allowed"] == ["note"]  # as the desk's timeline names the steps next
    timeline = field_stage.client.get(url, headers=field_stage.as_("worker")).json()
    assert [s["kind"] for s in timeline["steps"]] == ["route", "accept", "close"]
    assert timeline["status"] == "closed"
    steps = field_stage.sql(
        "SELECT payload ->> 'step' FROM command_event WHERE kind = 'report_step' "
        "AND (payload ->> 'report_id')::bigint = %s ORDER BY id",
        (stored["id"],),
    )
    assert [s[0] for s in steps] == ["route", "accept", "close"]
    actions = field_stage.sql(
        "SELECT action FROM audit_event WHERE subject = %s ORDER BY seq",
        (f"report {stored['id']}",),
    )
    assert [a[0] for a in actions] == ["report", "report_step", "report_step"]
    # the photo is served without its position
    photo = field_stage.client.get(stored["photos"][0]["url"], headers=room)
    assert photo.status_code == 200 and not field_fixtures.has_gps(photo.content)


def test_every_category_goes_to_its_department(field_stage: FieldStage) -> None:
    routes = dict(
        field_stage.sql(
            "SELECT c.code, d.code FROM report_category c JOIN department d "
            "ON d.id = c.department_id"
        )
    )
    kinds = {
        d["code"]: d["kind"]
        for d in field_stage.client.get(
            "/api/v1/departments", headers=field_stage.as_("volunteer")
        ).json()
    }
    assert {"station", "town", "response_team"} <= set(kinds.values())
    point = inside_point(field_stage, "worker")
    for category, department in routes.items():
        reply = post_report(field_stage, "worker", report_body(point.x, point.y, category))
        assert reply.status_code == 201, reply.text
        assert reply.json()["department"]["code"] == department
    unknown = post_report(field_stage, "worker", report_body(point.x, point.y, "ghosts"))
    assert unknown.status_code == 422 and unknown.json()["parameter"] == "category"


def test_reports_only_from_ones_areas(field_stage: FieldStage) -> None:
    """Random points around a grid worker's grids and a volunteer's villages: accepted exactly
    where shapely puts them in those areas (the boundary rule for grids), refused elsewhere with
    a 403 naming the areas, nothing stored."""
    rng = np.random.default_rng(14)
    grids = field_stage.layers["grid"].set_index("code")
    villages = field_stage.layers["village"].set_index("code")
    worker, volunteer = field_stage.users["worker"], field_stage.users["volunteer"]
    own_grids = set(worker.grids)
    own_villages = villages.loc[volunteer.villages].union_all()
    for who, area in (("worker", grids.loc[worker.grids].union_all()), ("volunteer", own_villages)):
        west, south, east, north = area.buffer(0.01).bounds
        points = [
            Point(x, y)
            for x, y in zip(rng.uniform(west, east, 25), rng.uniform(south, north, 25), strict=True)
        ]
        # and points on the area's own boundary, where the rule decides
        boundary = area.boundary
        points += [boundary.interpolate(t, normalized=True) for t in rng.uniform(0, 1, 10)]
        allowed = refused = 0
        for point in points:
            point = Point(round(point.x, 9), round(point.y, 9))
            if who == "worker":
                expected = grid_by_rule(field_stage, point) in own_grids
            else:
                expected = bool(shapely.intersects(own_villages, point))
            body = report_body(point.x, point.y)
            reply = post_report(field_stage, who, body)
            if expected:
                assert reply.status_code == 201, (who, point, reply.text)
                allowed += 1
                continue
            assert reply.status_code == 403, (who, point, reply.text)
            user = field_stage.users[who]
            assert all(a in reply.json()["detail"] for a in user.grids or user.villages)
            count = field_stage.sql(
                "SELECT count(*) FROM report WHERE client_id = %s", (body["client_id"],)
            )
            assert count == [(0,)]
            refused += 1
        assert allowed and refused, (who, allowed, refused)


def test_the_reporter_sees_their_own_and_a_report_is_stored_once(field_stage: FieldStage) -> None:
    point = inside_point(field_stage, "worker")
    body = report_body(point.x, point.y, "dispute")
    first = post_report(field_stage, "worker", body)
    again = post_report(field_stage, "worker", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert field_stage.sql(
        "SELECT count(*) FROM report WHERE client_id = %s", (body["client_id"],)
    ) == [(1,)]
    report_id = first.json()["id"]
    mine = field_stage.client.get(
        "/api/v1/reports", params={"mine": "true"}, headers=field_stage.as_("worker")
    ).json()
    assert report_id in {r["id"] for r in mine}
    assert {r["reporter"] for r in mine} == {field_stage.users["worker"].name}
    # another grid worker does not see it; the command room and a leader do
    other = field_stage.client.get(
        f"/api/v1/reports/{report_id}", headers=field_stage.as_("worker2")
    )
    assert other.status_code == 404
    everyone = field_stage.client.get(
        "/api/v1/reports", params={"status": "open"}, headers=field_stage.as_("leader")
    ).json()
    assert report_id in {r["id"] for r in everyone}
    # a grid worker may not answer for a department
    step = field_stage.client.post(
        f"/api/v1/reports/{report_id}/steps",
        json={"kind": "close"},
        headers=field_stage.as_("worker"),
    )
    assert step.status_code == 403


def test_bad_reports_name_what_to_fix(field_stage: FieldStage) -> None:
    point = inside_point(field_stage, "worker")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = [
        ({**report_body(point.x, point.y), "note": ""}, 422, "note"),
        ({**report_body(point.x, point.y), "lat": 95}, 422, "lat"),
        (report_body(point.x, point.y, reported_at=future), 422, "reported_at"),
        (report_body(point.x, point.y, "Fire!"), 422, "category"),
    ]
    for body, status, parameter in cases:
        reply = post_report(field_stage, "worker", body)
        assert reply.status_code == status, reply.text
        assert reply.json()["parameter"] == parameter, reply.json()
    reply = post_report(
        field_stage,
        "worker",
        report_body(point.x, point.y),
        [("a.jpg", b"plain text", "image/jpeg")],
    )
    assert reply.status_code == 422 and reply.json()["parameter"] == "photos"
    room = field_stage.as_("command_room")
    missing = field_stage.client.post(
        "/api/v1/reports/99999999/steps", json={"kind": "accept"}, headers=room
    )
    assert missing.status_code == 404 and missing.json()["parameter"] == "report_id"
