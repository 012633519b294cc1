"""The live stream (GET /api/v1/stream) served with two workers: events committed arrive at every
stream in whose scope they are (grids found by shapely on the sample's GeoPackage), in order,
never rolled-back ones; Last-Event-ID and ?after= replay exactly what was missed; a stream whose
user is signed out ends."""

from __future__ import annotations

import random
from collections.abc import Iterator

import geopandas as gpd
import httpx
import psycopg
import pytest

from geo_service.accounts.roles import Role
from geo_service.services.stream import APPLICATION_NAME
from tests.cast import Member, areas_of, make_member
from tests.live_fixtures import (
    Placed,
    StreamReader,
    random_point_in,
    wait_for,
    write_incident,
    write_step,
    write_unit,
)

pytest_plugins = ("tests.live_fixtures",)
pytestmark = pytest.mark.usefixtures("live_service")


@pytest.fixture(scope="module")
def members(live_database: str) -> dict[str, Member]:
    """Readers of the stream: the station's roles, and two grid workers of different grids."""
    with psycopg.connect(live_database) as conn:
        workers = [
            r[0]
            for r in conn.execute(
                """SELECT DISTINCT p.code FROM person p JOIN assignment a ON a.person_id = p.id
                   WHERE a.role = 'grid_worker' AND a.area_kind = 'grid'
                     AND a.validity @> now() ORDER BY p.code LIMIT 2"""
            )
        ]
    assert len(workers) == 2
    return {
        "leader": make_member(live_database, Role.leader),
        "command_room": make_member(live_database, Role.command_room),
        "community_officer": make_member(live_database, Role.community_officer),
        "grid_worker_1": make_member(live_database, Role.grid_worker, person=workers[0]),
        "grid_worker_2": make_member(live_database, Role.grid_worker, person=workers[1]),
    }


def grids_of(live_database: str, member: Member) -> set[str] | None:
    """The grid codes a member's stream is limited to (None: the whole station)."""
    if member.role != Role.grid_worker:
        return None
    assert member.person
    return set(areas_of(live_database, member.person, "grid"))


def open_stream(url: str, member: Member, **headers: str) -> StreamReader:
    """A reader of the member's stream, once the service answered its headers."""
    reader = StreamReader(url, {**member.headers, **headers})
    assert reader.opened.wait(30)
    assert reader.status == 200, reader.status
    return reader


def log_ids(live_database: str, after: int) -> list[tuple[int, str | None, str | None]]:
    """The log's events after an id, as the owner reads them: (id, call_no, call_sign)."""
    with psycopg.connect(live_database) as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                """SELECT id, payload ->> 'call_no', call_sign FROM command_event
                   WHERE id > %s ORDER BY id""",
                (after,),
            )
        ]


def latest(live_database: str) -> int:
    with psycopg.connect(live_database) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM command_event").fetchone()
    assert row
    return int(row[0])


@pytest.fixture
def readers() -> Iterator[list[StreamReader]]:
    """Streams opened by a test, closed after it."""
    opened: list[StreamReader] = []
    yield opened
    for reader in opened:
        reader.close()


def expected_ids(
    events: list[tuple[int, str | None, str | None]],
    grids: set[str] | None,
    grid_of_call: dict[str, str],
    grid_of_unit: dict[int, str],
) -> list[int]:
    """The events a reader limited to these grids (None: all) must get, by the grids shapely
    found for each call and each unit position."""
    if grids is None:
        return [e[0] for e in events]
    out = []
    for event_id, call_no, call_sign in events:
        where = grid_of_unit.get(event_id) if call_sign and event_id in grid_of_unit else None
        if where is None and call_no is not None and call_no in grid_of_call:
            where = grid_of_call[call_no]
        if where in grids:
            out.append(event_id)
    return out


def test_events_reach_every_stream_in_scope(
    live_service: str,
    live_database: str,
    members: dict[str, Member],
    sample_grids: gpd.GeoDataFrame,
    readers: list[StreamReader],
) -> None:
    """Random calls, steps and unit moves in random grids (and in the grid workers' own) reach
    the station's streams all, and each grid worker's streams those of their grids, in order;
    two workers each LISTEN."""
    rng = random.Random(12)
    url = f"{live_service}/api/v1/stream"
    scopes = {name: grids_of(live_database, m) for name, m in members.items()}
    for member in members.values():
        for _ in range(2):  # streams land on either worker
            readers.append(open_stream(url, member))
    names = [name for name in members for _ in range(2)]
    start = latest(live_database)

    own = sorted(scopes["grid_worker_1"] or ()) + sorted(scopes["grid_worker_2"] or ())
    placed: list[Placed] = []
    grid_of_unit: dict[int, str] = {}
    for k in range(40):
        grid = own[k % len(own)] if k % 3 == 0 else None
        placed.append(write_incident(live_database, sample_grids, rng, grid=grid))
        if k % 4 == 1:
            write_step(live_database, placed[-1].call_no, "dispatch", call_sign=f"U{k}")
        if k % 5 == 2:  # a unit somewhere, and the grid it is in (shapely)
            row = sample_grids.iloc[rng.randrange(len(sample_grids))]
            p = random_point_in(row.geometry, rng)
            before = latest(live_database)
            write_unit(live_database, f"U{k}", status="available", lon=p.x, lat=p.y)
            for event_id, _, call_sign in log_ids(live_database, before):
                if call_sign == f"U{k}":
                    grid_of_unit[event_id] = row["code"]
    events = log_ids(live_database, start)
    grid_of_call = {p.call_no: p.grid for p in placed}
    assert len(events) >= 40 + 10 + 8

    for reader, name in zip(readers, names, strict=True):
        want = expected_ids(events, scopes[name], grid_of_call, grid_of_unit)
        if scopes[name] is not None:
            assert 0 < len(want) < len(events), name  # a scope that filters something
        wait_for(lambda r=reader, w=want: set(w) <= set(r.ids()), what=f"{name}'s events")
    for reader, name in zip(readers, names, strict=True):  # nothing more, in order
        want = expected_ids(events, scopes[name], grid_of_call, grid_of_unit)
        got = [i for i in reader.ids() if i > start]
        assert got == want, name
        assert all(e.data["id"] == e.id for e in reader.events if e.event == "message")

    # the heartbeat (every 2 s here): a comment line on every stream
    wait_for(lambda: all(r.comments > 0 for r in readers), what="a heartbeat on every stream")

    with psycopg.connect(live_database) as conn:
        listening = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert listening and listening[0] == 2  # one hub per worker


def test_rolled_back_writes_never_arrive(
    live_service: str,
    live_database: str,
    members: dict[str, Member],
    sample_grids: gpd.GeoDataFrame,
    readers: list[StreamReader],
) -> None:
    """NOTIFY is delivered after commit: a call whose transaction rolled back is never sent."""
    reader = open_stream(f"{live_service}/api/v1/stream", members["command_room"])
    readers.append(reader)
    start = latest(live_database)
    with psycopg.connect(live_database) as conn:
        conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, h3, h3_r7,
                                     h3_r8, h3_r9)
               SELECT 'ROLLED-BACK', now(), category, 'received', geom, h3, h3_r7, h3_r8, h3_r9
               FROM incident LIMIT 1"""
        )
        conn.rollback()
    kept = write_incident(live_database, sample_grids, random.Random(5))
    events = log_ids(live_database, start)
    assert [e[1] for e in events] == [kept.call_no]
    wait_for(lambda: events[0][0] in reader.ids(), what="the committed call")
    assert [i for i in reader.ids() if i > start] == [events[0][0]]


def test_last_event_id_replays_what_was_missed(
    live_service: str,
    live_database: str,
    members: dict[str, Member],
    sample_grids: gpd.GeoDataFrame,
    readers: list[StreamReader],
) -> None:
    """A stream that reconnects with Last-Event-ID (or ?after=) first gets exactly the events of
    its scope logged after that id, then the live ones, each once."""
    rng = random.Random(7)
    url = f"{live_service}/api/v1/stream"
    leader = members["leader"]
    first = open_stream(url, leader)
    placed = [write_incident(live_database, sample_grids, rng) for _ in range(5)]
    wait_for(lambda: len(first.ids("incident")) >= 5, what="the first five calls")
    last_seen = first.ids()[-1]
    first.close()

    worker = members["grid_worker_1"]
    grids = grids_of(live_database, worker)
    assert grids
    own = sorted(grids)
    for k in range(12):  # while nobody listens
        placed.append(
            write_incident(live_database, sample_grids, rng, grid=own[0] if k % 2 else None)
        )
    missed = log_ids(live_database, last_seen)
    grid_of_call = {p.call_no: p.grid for p in placed}

    again = open_stream(url, leader, **{"Last-Event-ID": str(last_seen)})
    readers.append(again)
    by_after = StreamReader(f"{url}?after={last_seen}", worker.headers)
    readers.append(by_after)
    assert by_after.opened.wait(30) and by_after.status == 200
    wait_for(lambda: len(again.ids()) >= len(missed), what="the replay")
    live = write_incident(live_database, sample_grids, rng, grid=own[0])
    after_live = log_ids(live_database, last_seen)
    grid_of_call[live.call_no] = live.grid
    want_worker = expected_ids(after_live, grids, grid_of_call, {})
    wait_for(lambda: after_live[-1][0] in again.ids(), what="the live call after the replay")
    wait_for(lambda: want_worker[-1] in by_after.ids(), what="the worker's live call")
    assert again.ids() == [e[0] for e in after_live]
    assert by_after.ids() == want_worker
    assert len(want_worker) < len(after_live)


def calls_of(reader: StreamReader) -> dict[str, int]:
    """The calls whose incident events a stream sent, with their event ids."""
    return {
        e.data["payload"]["call_no"]: e.id
        for e in list(reader.events)
        if e.event == "message" and e.id is not None and e.data["kind"] == "incident"
    }


def test_events_are_numbered_in_commit_order(
    live_service: str,
    live_database: str,
    members: dict[str, Member],
    sample_grids: gpd.GeoDataFrame,
    readers: list[StreamReader],
) -> None:
    """Writer A logs a call and holds its transaction open; writer B logs one and commits, and a
    stream sends it; then A commits. A's event has an id above B's: it comes after B's on the
    live stream, and a stream reconnecting with B's id as Last-Event-ID replays it (an id taken
    when A wrote its row would be below B's, and no replay after B would ever send it)."""
    rng = random.Random(21)
    url = f"{live_service}/api/v1/stream"
    member = members["command_room"]
    reader = open_stream(url, member)
    readers.append(reader)
    start = latest(live_database)
    with psycopg.connect(live_database) as held:  # A commits on leaving the block
        a = write_incident(live_database, sample_grids, rng, within=held)
        b = write_incident(live_database, sample_grids, rng)
        wait_for(lambda: b.call_no in calls_of(reader), what="B's call")
        b_id = calls_of(reader)[b.call_no]
        assert a.call_no not in calls_of(reader)
    wait_for(lambda: a.call_no in calls_of(reader), what="A's call, live")
    a_id = calls_of(reader)[a.call_no]
    assert a_id > b_id
    assert [(e[0], e[1]) for e in log_ids(live_database, start)] == [
        (b_id, b.call_no),
        (a_id, a.call_no),
    ]
    sent = [i for i in reader.ids() if i > start]
    assert sent == [b_id, a_id]

    again = StreamReader(f"{url}?live=false", {**member.headers, "Last-Event-ID": str(b_id)})
    readers.append(again)
    wait_for(again.ended.is_set, what="the replay after B's event")
    assert again.status == 200
    assert calls_of(again) == {a.call_no: a_id}
    assert again.ids() == [a_id]


def test_replay_too_long_says_reset(
    live_service: str, live_database: str, members: dict[str, Member]
) -> None:
    """A replay of more than STREAM_REPLAY_MAX events (30 here) is a `reset` event instead."""
    assert latest(live_database) > 30
    reader = open_stream(f"{live_service}/api/v1/stream?after=0", members["leader"])
    try:
        wait_for(lambda: bool(reader.events), what="the reset")
        first = reader.events[0]
        assert first.event == "reset"
        assert first.data["latest"] == latest(live_database) == first.id
    finally:
        reader.close()


def test_signed_out_stream_ends(
    live_service: str, live_database: str, sample_grids: gpd.GeoDataFrame
) -> None:
    """Credentials are checked again (every second here): a locked user's stream ends with
    `signed_out`; a revoked token's too."""
    url = f"{live_service}/api/v1/stream"
    for how in ("lock", "revoke"):
        member = make_member(live_database, Role.command_room)
        reader = open_stream(url, member)
        try:
            with psycopg.connect(live_database) as conn:
                if how == "lock":
                    conn.execute(
                        "UPDATE app_user SET locked = true WHERE name = %s", (member.name,)
                    )
                else:
                    conn.execute(
                        """UPDATE api_token SET revoked_at = now() WHERE user_id =
                           (SELECT id FROM app_user WHERE name = %s)""",
                        (member.name,),
                    )
            wait_for(reader.ended.is_set, what=f"the {how}ed user's stream to end")
            assert reader.events[-1].event == "signed_out"
        finally:
            reader.close()


def test_refusals(live_service: str, live_database: str, members: dict[str, Member]) -> None:
    """No credentials 401; a volunteer (no incidents) 403; a Last-Event-ID that is no id 422."""
    url = f"{live_service}/api/v1/stream"
    assert httpx.get(url, timeout=10).status_code == 401
    volunteer = make_member(live_database, Role.volunteer)
    assert httpx.get(url, headers=volunteer.headers, timeout=10).status_code == 403
    r = httpx.get(
        url, headers={**members["leader"].headers, "Last-Event-ID": "yesterday"}, timeout=10
    )
    assert r.status_code == 422
    assert r.json()["parameter"] == "Last-Event-ID"
    r = httpx.get(f"{url}?after=-3", headers=members["leader"].headers, timeout=10)
    assert r.status_code == 422
