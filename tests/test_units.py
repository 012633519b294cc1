"""Units on duty (issue 12, section 2): batches of fixes by person or call sign stored stamped
like loaded fixes (shapely's boundary rule), each unit's last position the latest fix (pandas),
automatic arrivals exactly when a dispatched unit's fix comes within ARRIVAL_RADIUS_M of its
incident (pyproj's geodesic distance), the list of units on duty, refusals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg
import shapely
from pyproj import Geod

from tests.reference import Reference

if TYPE_CHECKING:
    from tests.desk_fixtures import Desk

pytest_plugins = ["tests.desk_fixtures"]

GEOD = Geod(ellps="WGS84")


def _person_of(desk: Desk, sign: str) -> str:
    with psycopg.connect(desk.database_url) as conn:
        row = conn.execute(
            "SELECT p.code FROM duty_shift d JOIN person p ON p.id = d.person_id "
            "WHERE d.call_sign = %s",
            (sign,),
        ).fetchone()
    assert row
    return str(row[0])


def test_fixes_keep_each_units_last_position(desk: Desk, reference: Reference) -> None:
    rng = random.Random(9)
    signs = desk.units[12:18]
    people = {sign: _person_of(desk, sign) for sign in signs}
    base = datetime.now(UTC) - timedelta(minutes=30)
    fixes: list[dict[str, Any]] = []
    for _ in range(120):
        sign = rng.choice(signs)
        lon, lat = desk.inside_point(rng)
        at = base + timedelta(seconds=rng.randrange(0, 1800))
        fix: dict[str, Any] = {"at": at.isoformat(), "lon": lon, "lat": lat}
        if rng.random() < 0.5:
            fix["call_sign"] = sign
        else:
            fix["person"] = people[sign]
        fixes.append({**fix, "_sign": sign})
    rng.shuffle(fixes)
    for start in range(0, len(fixes), 40):  # three batches, each in random order
        batch = [{k: v for k, v in f.items() if k != "_sign"} for f in fixes[start : start + 40]]
        reply = desk.command.post("/api/v1/positions", json={"fixes": batch})
        assert reply.status_code == 200, reply.text
        assert reply.json()["stored"] == len(batch)
        again = desk.command.post("/api/v1/positions", json={"fixes": batch})  # a retry
        assert again.json()["stored"] == 0 and again.json()["duplicates"] == len(batch)
    frame = pd.DataFrame(fixes)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    last = frame.sort_values("at").groupby("_sign").tail(1).set_index("_sign")
    units = {u["call_sign"]: u for u in desk.command.get("/api/v1/units").json()}
    for sign in signs:
        unit, want = units[sign], last.loc[sign]
        assert pd.Timestamp(unit["fixed_at"]) == want["at"]
        assert (unit["lon"], unit["lat"]) == (want["lon"], want["lat"])
        point = shapely.points([[want["lon"], want["lat"]]])
        expected = reference.locate(point, unit["fixed_at"])[0]
        assert expected is not None and unit["grid"] == expected[1]
        assert unit["person"]["code"] == people[sign]
    # every fix stored, stamped with its grid by the boundary rule
    with psycopg.connect(desk.database_url) as conn:
        rows = conn.execute(
            "SELECT ST_X(f.geom), ST_Y(f.geom), g.code, f.recorded_at FROM position_fix f "
            "JOIN grid g ON g.id = f.grid_id WHERE f.recorded_at >= %s",
            (base,),
        ).fetchall()
    stored = {(x, y): (grid, at) for x, y, grid, at in rows}
    for f in fixes:
        grid, _ = stored[(f["lon"], f["lat"])]
        located = reference.locate(shapely.points([[f["lon"], f["lat"]]]), f["at"])[0]
        assert located is not None and grid == located[1]


def test_an_arrival_is_stamped_when_a_dispatched_unit_comes_near(desk: Desk) -> None:
    """Dispatched units send fixes at random distances (never within a metre of the radius):
    the automatic arrival is stamped at the first fix after dispatch within the radius, and
    never for a unit that is not dispatched there."""
    rng = random.Random(31)
    radius = desk.settings.arrival_radius_m
    signs = desk.units[18:24]
    stamped = 0
    for round_ in range(3):
        incidents = {}
        for sign in signs:
            inc = desk.post_call(category="traffic")["incident"]
            path = f"/api/v1/incidents/{inc['call_no']}/events"
            reply = desk.command.post(path, json={"kind": "dispatch", "call_sign": sign})
            assert reply.status_code == 200, reply.text
            incidents[sign] = inc
        t0 = datetime.now(UTC) + timedelta(seconds=5)
        expected: dict[str, str | None] = dict.fromkeys(signs)
        fixes = []
        for sign in signs:
            inc = incidents[sign]
            for k in range(4):
                near = rng.random() < 0.25
                dist = rng.uniform(0, radius - 1) if near else rng.uniform(radius + 1, 400)
                lon, lat, _ = GEOD.fwd(inc["lon"], inc["lat"], rng.uniform(0, 360), dist)
                at = (t0 + timedelta(seconds=10 * k + round_)).isoformat()
                fixes.append({"call_sign": sign, "at": at, "lon": lon, "lat": lat})
                _, _, measured = GEOD.inv(inc["lon"], inc["lat"], lon, lat)
                if measured <= radius and expected[sign] is None:
                    expected[sign] = at
        rng.shuffle(fixes)
        reply = desk.command.post("/api/v1/positions", json={"fixes": fixes})
        assert reply.status_code == 200, reply.text
        got = {a["call_sign"]: a for a in reply.json()["arrivals"]}
        for sign in signs:
            inc = desk.command.get(f"/api/v1/incidents/{incidents[sign]['call_no']}").json()
            auto = inc["arrival"]["automatic_at"]
            if expected[sign] is None:
                assert auto is None and sign not in got
                assert inc["status"] == "dispatched"
                continue
            stamped += 1
            assert pd.Timestamp(auto) == pd.Timestamp(expected[sign])
            assert got[sign]["call_no"] == inc["call_no"]
            assert inc["status"] == "arrived"
            assert {u["call_sign"]: u["status"] for u in inc["units"]} == {sign: "on_scene"}
        for sign in signs:  # free the units for the next round
            path = f"/api/v1/incidents/{incidents[sign]['call_no']}/events"
            step = {"kind": "close", "result": "done"} if expected[sign] else {"kind": "cancel"}
            assert desk.command.post(path, json=step).status_code == 200
    assert stamped >= 3


def test_units_on_duty_and_off(desk: Desk) -> None:
    now = desk.command.get("/api/v1/units").json()
    assert {u["call_sign"] for u in now} == set(desk.units)
    assert all(u["status"] in ("available", "dispatched", "on_scene") for u in now)
    later = desk.command.get("/api/v1/units", params={"at": "2030-01-01T00:00:00+08:00"})
    assert later.status_code == 200 and later.json() == []


def test_bad_fixes_are_refused_and_nothing_is_stored(desk: Desk) -> None:
    lon, lat = desk.inside_point(random.Random(1))
    at = datetime.now(UTC).isoformat()
    good = {"call_sign": desk.units[12], "at": at, "lon": lon, "lat": lat}
    with psycopg.connect(desk.database_url) as conn:
        before = conn.execute("SELECT count(*) FROM position_fix").fetchone()
    for bad, status, parameter in [
        ({"call_sign": "NOSUCH1"}, 404, "call_sign"),
        ({"call_sign": None, "person": "NOBODY"}, 404, "person"),
        ({"call_sign": None}, 422, None),  # neither person nor call sign
        ({"person": "P00001"}, 422, None),  # both
        ({"at": "soon"}, 422, None),
        ({"lat": 95}, 422, None),
    ]:
        fix = {k: v for k, v in {**good, **bad}.items() if v is not None}
        reply = desk.command.post("/api/v1/positions", json={"fixes": [good, fix]})
        assert reply.status_code == status, (bad, reply.text)
        if parameter:
            assert reply.json()["parameter"] == parameter
    with psycopg.connect(desk.database_url) as conn:
        after = conn.execute("SELECT count(*) FROM position_fix").fetchone()
    assert after == before
