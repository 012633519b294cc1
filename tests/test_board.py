"""The board at a moment (GET /api/v1/command/board?at=): recomputed with pandas from the event
log, the timelines and the shifts read as the owner, at random moments of a random sequence of
calls, steps and unit moves (and of history loaded in bulk, which the log does not carry); a grid
worker's board holds only their grids."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.cast import areas_of, make_member
from tests.live_fixtures import random_point_in, write_incident, write_step, write_unit

pytest_plugins = ("tests.live_fixtures",)

STATUS_AFTER = {
    "dispatch": "dispatched",
    "arrive": "arrived",
    "close": "closed",
    "callback": "closed",
    "divert": "diverted",
    "accept": "accepted",
    "cancel": "cancelled",
}
UNIT_AFTER = {"dispatch": "dispatched", "arrive": "on_scene", "close": "available"}


@pytest.fixture(scope="module")
def app_settings(live_database: str) -> Settings:
    return Settings(database_url=live_database)


def clock(url: str) -> datetime:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row
    return row[0]


@pytest.fixture(scope="module")
def moments(live_database: str, sample_grids: gpd.GeoDataFrame) -> list[datetime]:
    """A random day's worth of writes, live and in bulk; the moments between them."""
    rng = random.Random(99)
    seen = [clock(live_database)]
    calls: list[str] = []
    for k in range(30):
        action = rng.random()
        if action < 0.4 or not calls:
            calls.append(write_incident(live_database, sample_grids, rng).call_no)
        elif action < 0.75:
            call = rng.choice(calls)
            step = rng.choice(["dispatch", "arrive", "close"])
            write_step(live_database, call, step, call_sign=f"B{k % 4}")
        else:
            row = sample_grids.iloc[rng.randrange(len(sample_grids))]
            p = random_point_in(row.geometry, rng)
            status = rng.choice(["available", "dispatched", "on_scene"])
            write_unit(
                live_database,
                f"B{k % 4}",
                status=status,
                lon=p.x,
                lat=p.y,
                call_no=rng.choice(calls) if status != "available" else None,
                shift=k % 4 != 3,
            )
        seen.append(clock(live_database))
    # history loaded in bulk: an incident an hour old with a dispatch, no log events; a shift
    # with a fix and nothing in the log
    with psycopg.connect(live_database) as conn:
        conn.execute("SET LOCAL geo.bulk_load = 'on'")
        conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, h3, h3_r7, h3_r8, h3_r9)
               SELECT 'HIST-1', now() - interval '1 hour', category, 'dispatched', geom,
                      village_id, grid_id, h3, h3_r7, h3_r8, h3_r9
               FROM incident WHERE grid_id IS NOT NULL ORDER BY id LIMIT 1"""
        )
        conn.execute(
            """INSERT INTO incident_step (incident_id, kind, at, actor, call_sign)
               SELECT id, 'dispatch', now() - interval '50 minutes', 'sample', 'HIST-U'
               FROM incident WHERE call_no = 'HIST-1'"""
        )
        conn.execute(
            """INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at)
               SELECT id, 'HIST-U', 'ebike', now() - interval '2 hours', now() + interval '6 hours'
               FROM person ORDER BY id LIMIT 1"""
        )
        conn.execute(
            """INSERT INTO position_fix (person_id, recorded_at, geom, grid_id, h3)
               SELECT (SELECT id FROM person ORDER BY id LIMIT 1), now() - interval '55 minutes',
                      geom, grid_id, h3 FROM incident WHERE call_no = 'HIST-1'"""
        )
    seen.append(clock(live_database))
    picks = [seen[0] - timedelta(minutes=58), *rng.sample(seen, 12), seen[-1]]
    return sorted(picks)


def expected_board(url: str, at: datetime, window: timedelta) -> tuple[set, set]:
    """The open incidents (call_no, status) and units (call_sign, status, lon, lat) at a moment,
    with pandas over the owner's tables."""
    with psycopg.connect(url) as conn:
        events = pd.read_sql(
            "SELECT id, at, kind, incident_id, call_sign, payload FROM command_event", conn
        )
        incidents = pd.read_sql("SELECT id, call_no, received_at FROM incident", conn)
        steps = pd.read_sql("SELECT id, incident_id, kind, at, call_sign FROM incident_step", conn)
        shifts = pd.read_sql(
            "SELECT person_id, call_sign, starts_at, ends_at FROM duty_shift", conn
        )
        fixes = pd.read_sql(
            "SELECT person_id, recorded_at, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM position_fix WHERE recorded_at > now() - interval '1 day'",
            conn,
        )
    past = events[events["at"] <= at]
    logged_ids = set(events.loc[events["kind"] == "incident", "incident_id"].dropna().astype(int))
    status: dict[int, str] = {}
    inc_events = past[past["kind"] == "incident"].sort_values("id")
    for _, e in inc_events.iterrows():
        status[int(e["incident_id"])] = e["payload"]["status"]
    recent = incidents[(incidents["received_at"] <= at) & (incidents["received_at"] > at - window)]
    for _, i in recent.iterrows():
        if int(i["id"]) in logged_ids:
            continue
        mine = steps[(steps["incident_id"] == i["id"]) & (steps["at"] <= at)]
        mine = mine[mine["kind"] != "note"].sort_values(["at", "id"])
        status[int(i["id"])] = STATUS_AFTER[mine.iloc[-1]["kind"]] if len(mine) else "received"
    open_incidents = {
        (i["call_no"], status[int(i["id"])])
        for _, i in recent.iterrows()
        if int(i["id"]) in status and status[int(i["id"])] not in ("closed", "cancelled")
    }
    on_shift = shifts[(shifts["starts_at"] <= at) & (shifts["ends_at"] > at)]
    units = set()
    unit_events = past[past["kind"] == "unit"].sort_values("id")
    last = {e["call_sign"]: e["payload"] for _, e in unit_events.iterrows()}
    for sign, p in last.items():
        state = p["status"] if sign in set(on_shift["call_sign"]) else "off_duty"
        lon, lat = (None, None) if p["lon"] is None else (round(p["lon"], 7), round(p["lat"], 7))
        units.add((sign, state, lon, lat))  # a unit sent before its first fix has no place
    for _, s in on_shift.iterrows():
        if s["call_sign"] in last:
            continue
        mine = steps[
            (steps["call_sign"] == s["call_sign"])
            & (steps["at"] >= s["starts_at"])
            & (steps["at"] <= at)
            & steps["kind"].isin(["dispatch", "arrive", "close", "cancel"])
        ].sort_values(["at", "id"])
        state = UNIT_AFTER.get(mine.iloc[-1]["kind"], "available") if len(mine) else "available"
        f = fixes[
            (fixes["person_id"] == s["person_id"])
            & (fixes["recorded_at"] <= at)
            & (fixes["recorded_at"] >= s["starts_at"])
        ].sort_values("recorded_at")
        lon = round(f.iloc[-1]["lon"], 7) if len(f) else None
        lat = round(f.iloc[-1]["lat"], 7) if len(f) else None
        units.add((s["call_sign"], state, lon, lat))
    return open_incidents, units


@pytest.fixture(scope="module")
def leader_client(app_settings: Settings, live_database: str) -> Iterator[TestClient]:
    member = make_member(live_database, Role.command_room)
    with TestClient(create_app(app_settings), headers=member.headers) as client:
        yield client


def test_board_matches_the_log_at_every_moment(
    leader_client: TestClient, live_database: str, moments: list[datetime]
) -> None:
    window = timedelta(hours=Settings().board_window_hours)
    checked_units = 0
    for at in moments:
        r = leader_client.get("/api/v1/command/board", params={"at": at.isoformat()})
        assert r.status_code == 200, r.text
        board = r.json()
        want_incidents, want_units = expected_board(live_database, at, window)
        got_incidents = {(i["call_no"], i["status"]) for i in board["incidents"]}
        got_units = {
            (
                u["call_sign"],
                u["status"],
                None if u["lon"] is None else round(u["lon"], 7),
                None if u["lat"] is None else round(u["lat"], 7),
            )
            for u in board["units"]
        }
        assert got_incidents == want_incidents, at
        assert got_units == want_units, at
        checked_units += len(got_units)
        for i in board["incidents"]:
            assert i["age_seconds"] >= 0
            assert i["due_at"] > i["received_at"]
    assert checked_units > 0
    statuses = {s for at in moments for _, s in expected_board(live_database, at, window)[0]}
    assert {"received", "dispatched"} <= statuses  # the moments saw calls move on
    last = leader_client.get("/api/v1/command/board", params={"at": moments[-1].isoformat()})
    assert ("HIST-1", "dispatched") in {
        (i["call_no"], i["status"]) for i in last.json()["incidents"]
    }
    assert any(
        u["call_sign"] == "HIST-U" and u["status"] == "dispatched" for u in last.json()["units"]
    )


def test_a_grid_workers_board_holds_their_grids_only(
    app_settings: Settings, live_database: str, moments: list[datetime]
) -> None:
    worker = make_member(live_database, Role.grid_worker)
    assert worker.person
    grids = set(areas_of(live_database, worker.person, "grid"))
    with TestClient(create_app(app_settings), headers=worker.headers) as client:
        r = client.get("/api/v1/command/board", params={"at": moments[-1].isoformat()})
    assert r.status_code == 200, r.text
    with psycopg.connect(live_database) as conn:
        in_their_grids = {
            row[0]
            for row in conn.execute(
                """SELECT i.call_no FROM incident i JOIN grid g ON g.id = i.grid_id
                   WHERE g.code = ANY (%s)""",
                (sorted(grids),),
            )
        }
    got = {i["call_no"] for i in r.json()["incidents"]}
    assert got <= in_their_grids
    assert all(i["grid"] in grids for i in r.json()["incidents"])


def test_board_refuses_a_moment_that_is_not_one(leader_client: TestClient) -> None:
    r = leader_client.get("/api/v1/command/board", params={"at": "yesterday"})
    assert r.status_code == 422
    assert r.json()["parameter"] == "at"


def test_the_page_speaks_chinese_then_english_and_names_no_outside_host(
    leader_client: TestClient,
) -> None:
    zh = leader_client.get("/command")
    en = leader_client.get("/command", params={"lang": "en"})
    assert zh.status_code == en.status_code == 200
    assert "综合指挥室" in zh.text and "Command room" in en.text
    assert "Call intake (110)" in en.text  # the command room takes calls
    for page in (zh.text, en.text):
        assert "http://" not in page and "https://" not in page and "//cdn" not in page


# ---------------------------------------------------------------- awaiting the callback (回访)


@pytest.fixture(scope="module")
def closings(live_database: str, sample_grids: gpd.GeoDataFrame) -> datetime:
    """Calls received and closed at random times of the last five days (some non-police), half of
    them called back up to 30 hours after the close; the moment after."""
    rng = random.Random(101)
    for _ in range(24):
        category = "non_police" if rng.random() < 0.2 else "theft"
        call = write_incident(live_database, sample_grids, rng, category=category).call_no
        received = timedelta(hours=rng.uniform(1, 5 * 24))
        closed = received - timedelta(minutes=rng.uniform(10, 90))
        with psycopg.connect(live_database) as conn:
            conn.execute(
                "UPDATE incident SET received_at = now() - %s, status = 'closed' "
                "WHERE call_no = %s",
                (received, call),
            )
            write_at(conn, call, "close", closed, result="settled")
            if rng.random() < 0.5:
                callback = closed - timedelta(hours=rng.uniform(0, 30))
                answer = rng.choice(["satisfied", "basically_satisfied", "unsatisfied"])
                write_at(conn, call, "callback", max(callback, timedelta(0)), result=answer)
    return clock(live_database)


def write_at(
    conn: psycopg.Connection, call_no: str, kind: str, ago: timedelta, *, result: str
) -> None:
    """A step of an incident's timeline this long ago."""
    conn.execute(
        """INSERT INTO incident_step (incident_id, kind, at, actor, result)
           SELECT id, %s, now() - %s, 'test', %s FROM incident WHERE call_no = %s""",
        (kind, ago, result, call_no),
    )


def expected_awaiting(url: str, at: datetime, days: int) -> list[tuple[str, datetime]]:
    """Police incidents closed in the ``days`` before the moment with no callback by then, with
    pandas over the incident and step tables: (call_no, closed_at), the oldest close first."""
    with psycopg.connect(url) as conn:
        incidents = pd.read_sql("SELECT id, call_no, category FROM incident", conn)
        steps = pd.read_sql("SELECT incident_id, kind, at FROM incident_step", conn)
    until = steps[steps["at"] <= at]
    closes = until[(until["kind"] == "close") & (until["at"] > at - timedelta(days=days))]
    closed_at = closes.groupby("incident_id")["at"].min()
    called = set(until.loc[until["kind"] == "callback", "incident_id"])
    police = incidents[incidents["category"] != "non_police"].set_index("id")
    rows = [
        (police.at[i, "call_no"], t)
        for i, t in closed_at.items()
        if i in police.index and i not in called
    ]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def test_awaiting_callback_matches_the_timelines(
    app_settings: Settings, leader_client: TestClient, live_database: str, closings: datetime
) -> None:
    """The board's calls awaiting their callback, now and at moments of the sample's history
    (loaded in bulk), with the default window (3 days) and a window of 1 day set by
    CALLBACK_WINDOW_DAYS: the incidents and steps tables, recomputed with pandas."""
    end = datetime.fromisoformat("2026-11-01T00:00:00+08:00")  # the sample's END_OF_DATA
    checked = 0
    short = Settings(database_url=live_database, callback_window_days=1)
    with TestClient(create_app(short), headers=leader_client.headers) as short_client:
        for days, client in ((Settings().callback_window_days, leader_client), (1, short_client)):
            for at in (closings, closings - timedelta(days=2), end, end - timedelta(days=40)):
                r = client.get("/api/v1/command/board", params={"at": at.isoformat()})
                assert r.status_code == 200, r.text
                got = r.json()["awaiting_callback"]
                want = expected_awaiting(live_database, at, days)
                assert [(a["call_no"], datetime.fromisoformat(a["closed_at"])) for a in got] == want
                for a in got:
                    waited = (at - datetime.fromisoformat(a["closed_at"])).total_seconds()
                    assert abs(a["waiting_seconds"] - waited) <= 1
                    assert a["category"] != "non_police"
                checked += len(got)
        now = leader_client.get("/api/v1/command/board").json()["awaiting_callback"]
        assert {a["call_no"] for a in now} == {
            c for c, _ in expected_awaiting(live_database, clock(live_database), 3)
        }
    assert checked > 0
    assert expected_awaiting(live_database, end, 3)  # the sample's history has some


def test_a_grid_workers_awaiting_list_holds_their_grids_only(
    app_settings: Settings, live_database: str, closings: datetime
) -> None:
    worker = make_member(live_database, Role.grid_worker)
    assert worker.person
    grids = set(areas_of(live_database, worker.person, "grid"))
    end = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
    with TestClient(create_app(app_settings), headers=worker.headers) as client:
        for at in (closings, end):
            r = client.get("/api/v1/command/board", params={"at": at.isoformat()})
            assert r.status_code == 200, r.text
            got = r.json()["awaiting_callback"]
            with psycopg.connect(live_database) as conn:
                rows = conn.execute(
                    "SELECT i.call_no FROM incident i JOIN grid g ON g.id = i.grid_id "
                    "WHERE g.code = ANY (%s)",
                    (sorted(grids),),
                ).fetchall()
            theirs = {row[0] for row in rows}
            want = [c for c, _ in expected_awaiting(live_database, at, 3) if c in theirs]
            assert [a["call_no"] for a in got] == want
