"""Calls in (issue 12, section 1): stamped like loaded incidents (shapely's boundary rule and
h3-py), answered with the lookup's answer, retried harmlessly, refused when the number is taken
with other content, linked to their repeats (recomputed with pandas and pyproj over the sample's
incidents and the calls posted before), diverted when not a police matter, phones masked by
role, audited."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from pyproj import Geod

from geo_service.accounts.roles import Role
from geo_service.crs import wgs84_to_gcj02
from geo_service.moments import STATION_TZ
from tests.reference import Reference

if TYPE_CHECKING:
    from tests.desk_fixtures import Desk

pytest_plugins = ["tests.desk_fixtures"]

GEOD = Geod(ellps="WGS84")
CATEGORIES = ["theft", "fraud", "dispute", "traffic", "public_order", "assistance", "drowning"]


def test_a_call_is_stamped_like_a_loaded_incident(desk: Desk, reference: Reference) -> None:
    """Village, grid and beat (plan in force at received_at) by shapely's boundary rule; the
    H3 cells at 7..10 by h3-py; the lookup's answer for the same point and moment."""
    rng = random.Random(12)
    moments = ["2026-01-15T09:00:00+08:00", "2026-07-01T21:30:00+08:00", None]
    for k in range(60):
        lon, lat = desk.inside_point(rng)
        received = moments[k % 3]
        body = {
            "call_no": desk.call_no("S"),
            "category": rng.choice(CATEGORIES),
            "lon": lon,
            "lat": lat,
        }
        if received:
            body["received_at"] = received
        reply = desk.command.post("/api/v1/incidents", json=body)
        assert reply.status_code == 201, reply.text
        answer = reply.json()
        inc = answer["incident"]
        at = inc["received_at"]
        if received:
            assert datetime.fromisoformat(at) == datetime.fromisoformat(received)
        expected = reference.locate(shapely.points([[lon, lat]]), at)[0]
        assert expected is not None
        village, grid, beat = expected
        assert inc["village"]["code"] == village and inc["grid"]["code"] == grid
        assert (inc["beat"] or {}).get("code") == beat
        lookup = desk.command.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "at": at})
        assert lookup.status_code == 200
        assert answer["lookup"] == lookup.json()
        with psycopg.connect(desk.database_url) as conn:
            cells = conn.execute(
                "SELECT h3_r7, h3_r8, h3_r9, h3 FROM incident WHERE call_no = %s",
                (body["call_no"],),
            ).fetchone()
        assert cells == tuple(h3.latlng_to_cell(lat, lon, r) for r in (7, 8, 9, 10))


def test_a_call_in_gcj02_is_stored_in_wgs84(desk: Desk) -> None:
    lon, lat = desk.inside_point(random.Random(5))
    glon, glat = wgs84_to_gcj02(lon, lat)
    answer = desk.post_call(lon=float(glon), lat=float(glat), crs="gcj02")
    inc = answer["incident"]
    _, _, metres = GEOD.inv(lon, lat, inc["lon"], inc["lat"])
    assert metres < 0.01


def test_the_same_call_again_is_the_stored_one_other_content_is_409(desk: Desk) -> None:
    lon, lat = desk.inside_point(random.Random(7))
    body = {
        "call_no": desk.call_no("R"),
        "category": "dispute",
        "lon": lon,
        "lat": lat,
        "caller_phone": "13900001234",
        "address": "枫桥镇某路1号",
        "description": "two neighbours quarrel",
    }
    first = desk.command.post("/api/v1/incidents", json=body)
    assert first.status_code == 201
    again = desk.command.post("/api/v1/incidents", json=body)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["incident"] == first.json()["incident"]
    # given received_at the same as stored: still the same call
    same = {**body, "received_at": first.json()["incident"]["received_at"]}
    assert desk.command.post("/api/v1/incidents", json=same).status_code == 200
    for field, value in [
        ("category", "theft"),
        ("address", "another place"),
        ("caller_phone", "13900004321"),
        ("description", None),
        ("lon", lon + 0.001),
        ("received_at", "2026-01-01T00:00:00+08:00"),
    ]:
        reply = desk.command.post("/api/v1/incidents", json={**body, field: value})
        assert reply.status_code == 409, (field, reply.text)
        problem = reply.json()
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert problem["parameter"] == "call_no"
        assert problem["differs"] == ["location" if field == "lon" else field]
    with psycopg.connect(desk.database_url) as conn:
        rows = conn.execute(
            "SELECT count(*), min(address) FROM incident WHERE call_no = %s", (body["call_no"],)
        ).fetchone()
    assert rows == (1, body["address"])


def test_outside_the_jurisdiction_stores_nothing(desk: Desk) -> None:
    number = desk.call_no("O")
    reply = desk.command.post(
        "/api/v1/incidents",
        json={"call_no": number, "category": "theft", "lon": 121.9, "lat": 31.2},
    )
    assert reply.status_code == 404, reply.text
    assert reply.json()["nearest"]["kind"] == "village"
    assert desk.command.get(f"/api/v1/incidents/{number}").status_code == 404


def test_repeat_calls_are_linked_with_their_count(
    desk: Desk, sample_path, reference: Reference
) -> None:
    """Calls around a few places, from a few phones, over three weeks (posted in random order):
    each call's links are the earlier incidents stored before it within REPEAT_DAYS with its
    phone, or within REPEAT_METRES and its category; the sample's own incidents count too."""
    rng = random.Random(2026)
    days, metres = desk.settings.repeat_days, desk.settings.repeat_metres
    centres = [desk.inside_point(rng) for _ in range(4)]
    phones = ["13700000001", "13700000002", "13700000003", None]
    start = datetime(2026, 10, 10, tzinfo=STATION_TZ)
    posted: list[dict] = []
    for _ in range(70):
        lon0, lat0 = rng.choice(centres)
        az, dist = rng.uniform(0, 360), rng.uniform(0, 160)
        lon, lat, _ = GEOD.fwd(lon0, lat0, az, dist)
        received = start + timedelta(minutes=rng.randrange(0, 21 * 24 * 60))
        body = {
            "call_no": desk.call_no("P"),
            "category": rng.choice(["theft", "dispute"]),
            "lon": lon,
            "lat": lat,
            "received_at": received.isoformat(),
        }
        phone = rng.choice(phones)
        if phone:
            body["caller_phone"] = phone
        reply = desk.command.post("/api/v1/incidents", json=body)
        if reply.status_code == 404:  # moved out of the jurisdiction: nothing stored
            continue
        assert reply.status_code == 201, reply.text
        posted.append({**body, "answer": reply.json()["incident"]["repeat"]})

    sample = gpd.read_file(sample_path, layer="incident")
    known = pd.DataFrame(
        {
            "call_no": sample["call_no"],
            "received_at": pd.to_datetime(sample["received_at"], utc=True),
            "category": sample["category"],
            "lon": sample.geometry.x,
            "lat": sample.geometry.y,
            "phone": sample["caller_phone"].where(sample["caller_phone"].notna(), None),
        }
    )
    linked_some = 0
    for body in posted:
        t = pd.Timestamp(body["received_at"]).tz_convert("UTC")
        window = known[(known.received_at >= t - pd.Timedelta(days=days)) & (known.received_at < t)]
        _, _, dist = GEOD.inv(
            np.full(len(window), body["lon"]),
            np.full(len(window), body["lat"]),
            window.lon.to_numpy(),
            window.lat.to_numpy(),
        )
        phone = body.get("caller_phone")
        same_phone = (window.phone == phone).to_numpy() if phone else np.zeros(len(window), bool)
        near = (window.category == body["category"]).to_numpy() & (dist <= metres)
        expected = sorted(window.call_no[same_phone | near])
        got = body["answer"]
        assert sorted(r["call_no"] for r in got["incidents"]) == expected, body["call_no"]
        assert got["count"] == len(expected)
        linked_some += bool(expected)
        known = pd.concat(
            [
                known,
                pd.DataFrame(
                    [
                        {
                            "call_no": body["call_no"],
                            "received_at": t,
                            "category": body["category"],
                            "lon": body["lon"],
                            "lat": body["lat"],
                            "phone": phone,
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
    assert linked_some > 20  # the case is not vacuous


def test_a_non_police_call_is_diverted_with_its_target(desk: Desk) -> None:
    answer = desk.post_call(category="non_police", received_at="2026-11-20T10:00:00+08:00")
    inc = answer["incident"]
    assert inc["status"] == "diverted"
    assert [s["kind"] for s in inc["timeline"]] == ["divert"]
    due = datetime.fromisoformat(inc["diversion_due_at"]) - datetime.fromisoformat(
        inc["received_at"]
    )
    assert due == timedelta(minutes=desk.settings.diversion_target_minutes)
    assert inc["next_steps"] == ["accept", "cancel", "note"]
    police = desk.post_call(category="traffic")["incident"]
    assert police["status"] == "received" and police["diversion_due_at"] is None


def test_the_call_taker_may_keep_a_non_police_call(desk: Desk) -> None:
    """divert false keeps a non-police call with the police (received, no target, dispatched
    like any call); divert true for a police category is a 422 naming divert, nothing stored."""
    kept = desk.post_call(category="non_police", divert=False)["incident"]
    assert kept["status"] == "received" and kept["diversion_due_at"] is None
    assert kept["timeline"] == [] and "dispatch" in kept["next_steps"]
    sent = desk.post_call(category="non_police", divert=True)["incident"]
    assert sent["status"] == "diverted" and [s["kind"] for s in sent["timeline"]] == ["divert"]
    lon, lat = desk.inside_point(random.Random(5))
    body = {"call_no": desk.call_no("D"), "category": "theft", "lon": lon, "lat": lat}
    reply = desk.command.post("/api/v1/incidents", json={**body, "divert": True})
    assert reply.status_code == 422, reply.text
    assert reply.json()["parameter"] == "divert" and "non-police" in reply.json()["detail"]
    assert desk.command.get(f"/api/v1/incidents/{body['call_no']}").status_code == 404


@pytest.mark.parametrize(
    ("role", "full"),
    [
        (Role.command_room, True),
        (Role.leader, True),
        (Role.planner, False),
        (Role.community_officer, False),
    ],
)
def test_caller_phones_are_masked_but_for_command_room_and_leader(
    desk: Desk, role: Role, full: bool
) -> None:
    phone = f"1380013{random.Random(str(role)).randrange(10_000):04d}"
    number = desk.post_call(caller_phone=phone)["incident"]["call_no"]
    masked = phone[:3] + "****" + phone[-4:]
    seen = desk.clients[role].get(f"/api/v1/incidents/{number}").json()["caller_phone"]
    assert seen == (phone if full else masked)
    rows = desk.clients[role].get("/api/v1/incidents", params={"open": "false"}).json()
    [row] = [r for r in rows if r["call_no"] == number]
    assert row["caller_phone"] == (phone if full else masked)


def test_only_the_command_room_and_leaders_take_calls(desk: Desk) -> None:
    lon, lat = desk.inside_point(random.Random(3))
    body = {"call_no": desk.call_no("F"), "category": "theft", "lon": lon, "lat": lat}
    for role in (Role.planner, Role.community_officer):
        reply = desk.clients[role].post("/api/v1/incidents", json=body)
        assert reply.status_code == 403
    assert desk.clients[Role.leader].post("/api/v1/incidents", json=body).status_code == 201


def test_every_call_taken_is_audited(desk: Desk) -> None:
    number = desk.post_call()["incident"]["call_no"]
    with psycopg.connect(desk.database_url) as conn:
        rows = conn.execute(
            "SELECT action, role, detail ->> 'created' FROM audit_event WHERE subject = %s",
            (number,),
        ).fetchall()
    assert rows == [("incident_take", "command_room", "true")]


@pytest.mark.parametrize(
    "bad",
    [
        {"lon": 200},
        {"category": "alien"},
        {"caller_phone": "call me"},
        {"received_at": "yesterday"},
        {"call_no": "no spaces please"},
        {"address": "a\x00b"},
        {"crs": "EPSG:3857"},
        {"colour": "red"},
    ],
)
def test_bad_calls_are_422_naming_what_to_fix(desk: Desk, bad: dict) -> None:
    lon, lat = desk.inside_point(random.Random(4))
    body = {"call_no": desk.call_no("B"), "category": "theft", "lon": lon, "lat": lat, **bad}
    reply = desk.command.post("/api/v1/incidents", json=body)
    assert reply.status_code == 422, reply.text
    assert next(iter(bad)) in reply.json()["detail"] + str(reply.json().get("errors"))
    assert desk.command.get(f"/api/v1/incidents/{body['call_no']}").status_code in (404, 422)
