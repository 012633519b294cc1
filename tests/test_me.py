"""/api/v1/me and /api/v1/me/map for grid workers, community officers and volunteers: their
areas, the people covering them and every list with its counts, against the same due items
recomputed with pandas and shapely (the boundary rule of tests/reference.py) over a database
where rental houses and markers also stand exactly on grid borders; other people's areas never
shown; incidents without caller details."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.cast import Member
from tests.fieldpage_fixtures import (
    CALLER_PHONE,
    CALLER_WORDS,
    LISTS,
    MeWorld,
    areas_expected,
    lists_expected,
    markers_in,
)

pytest_plugins = ["tests.fieldpage_fixtures"]

ROLES = (Role.grid_worker, Role.community_officer, Role.volunteer)
# Moments asked about: now (the sample's incidents are older than the recent window), and two
# moments within the sample's year of incidents.
MOMENTS = ("now", "2026-10-20T12:00:00+08:00", "2026-07-15T08:00:00+08:00")


@pytest.fixture(scope="module")
def me_client(me_world: MeWorld) -> Iterator[TestClient]:
    """The app on the page's database, every list in full (a limit above any list)."""
    own = Settings(database_url=me_world.url, me_list_limit=1000)
    with TestClient(create_app(own)) as client:
        yield client


def _moment(text: str) -> datetime:
    return (
        datetime.now(UTC).replace(microsecond=0) if text == "now" else datetime.fromisoformat(text)
    )


def _ask(client: TestClient, member: Member, path: str, at: datetime) -> dict:
    reply = client.get(path, params={"at": at.isoformat()}, headers=member.headers)
    assert reply.status_code == 200, reply.text[:500]
    return reply.json()


CASES = [(role, i, m) for role in ROLES for i in range(3) for m in MOMENTS]


@pytest.mark.parametrize(("role", "index", "moment"), CASES)
def test_lists_and_counts_match_a_recomputation(
    me_client: TestClient,
    me_world: MeWorld,
    role: Role,
    index: int,
    moment: str,
) -> None:
    """Every list, its order, count and urgent count equal the pandas/shapely recomputation."""
    member = me_world.users[role][index]
    settings = Settings(database_url=me_world.url)
    at = _moment(moment)
    body = _ask(me_client, member, "/api/v1/me", at)
    kind, codes = areas_expected(me_world, member)
    assert codes, f"{member.person} covers nothing"
    assert {(a["kind"], a["code"]) for a in body["areas"]} == {(kind, c) for c in codes}
    want = lists_expected(
        me_world,
        member,
        at=at,
        marker_days=settings.inspection_due_days,
        rental_days=settings.rental_check_days,
        within=settings.me_due_within_days,
        recent=settings.me_recent_days,
    )
    assert list(body["lists"]) == list(LISTS)
    for name in LISTS:
        got = body["lists"][name]
        assert [i["code"] for i in got["items"]] == want[name]["codes"], name
        assert (got["count"], got["urgent"]) == (want[name]["count"], want[name]["urgent"]), name


def test_the_cases_are_not_empty(me_client: TestClient, me_world: MeWorld) -> None:
    """The recomputation is compared on lists that hold something: border items, incidents."""
    at = _moment(MOMENTS[1])
    seen = {name: 0 for name in LISTS}
    border = 0
    for role in ROLES:
        for member in me_world.users[role]:
            body = _ask(me_client, member, "/api/v1/me", at)
            for name in LISTS:
                seen[name] += body["lists"][name]["count"]
                border += sum(
                    i["code"].startswith(("RHE", "WME")) for i in body["lists"][name]["items"]
                )
    assert all(seen.values()), seen
    assert border > 5, border


def test_the_two_grid_worker_gets_border_items_once(
    me_client: TestClient, me_world: MeWorld
) -> None:
    """Things on the border between a worker's own two grids are listed once."""
    member = me_world.two_grid_worker
    body = _ask(me_client, member, "/api/v1/me", _moment("now"))
    assert len(body["areas"]) == 2
    for name in LISTS:
        codes = [i["code"] for i in body["lists"][name]["items"]]
        assert len(codes) == len(set(codes)), name
    mapped = _ask(me_client, member, "/api/v1/me/map", _moment("now"))
    ids = [f["id"] for f in mapped["features"]]
    assert len(ids) == len(set(ids))


def test_a_short_limit_keeps_the_counts_and_the_first_items(
    me_world: MeWorld, me_client: TestClient
) -> None:
    member = me_world.users[Role.community_officer][0]
    at = _moment(MOMENTS[1])
    full = _ask(me_client, member, "/api/v1/me", at)
    own = Settings(database_url=me_world.url, me_list_limit=3)
    with TestClient(create_app(own)) as client:
        short = _ask(client, member, "/api/v1/me", at)
    for name in LISTS:
        assert short["lists"][name]["count"] == full["lists"][name]["count"]
        assert short["lists"][name]["items"] == full["lists"][name]["items"][:3]


@pytest.mark.parametrize("role", ROLES)
def test_the_map_holds_the_areas_and_every_item_and_nothing_else(
    me_client: TestClient, me_world: MeWorld, role: Role
) -> None:
    for member in me_world.users[role]:
        at = _moment(MOMENTS[1])
        body = _ask(me_client, member, "/api/v1/me", at)
        reply = me_client.get(
            "/api/v1/me/map", params={"at": at.isoformat()}, headers=member.headers
        )
        assert reply.headers["content-type"].startswith("application/geo+json")
        mapped = reply.json()
        layers: dict[str, set[str]] = {}
        for f in mapped["features"]:
            layers.setdefault(f["properties"]["layer"], set()).add(f["properties"]["code"])
        _, codes = areas_expected(me_world, member)
        assert layers.pop("area") == codes
        for name in LISTS:
            assert layers.pop(name, set()) == {i["code"] for i in body["lists"][name]["items"]}
        assert layers.pop("water_marker", set()) == markers_in(me_world, member)
        assert set(layers) <= {"basemap_village", "basemap_water", "basemap_road"}
        assert layers.get("basemap_village"), "the map has a background"
        if role == Role.volunteer:  # a volunteer's basemap: their villages only (their policy)
            assert layers["basemap_village"] == codes


def test_incidents_come_without_caller_details(me_client: TestClient, me_world: MeWorld) -> None:
    assert me_world.caller_incidents
    found = 0
    with psycopg.connect(me_world.url) as conn:
        moments = conn.execute(
            "SELECT received_at FROM incident WHERE call_no = ANY (%s) ORDER BY 1",
            (me_world.caller_incidents,),
        ).fetchall()
    for member in me_world.users[Role.grid_worker] + me_world.users[Role.community_officer]:
        for (received,) in moments[:: max(1, len(moments) // 6)]:
            at = received + timedelta(days=1)
            for path in ("/api/v1/me", "/api/v1/me/map"):
                reply = me_client.get(path, params={"at": at.isoformat()}, headers=member.headers)
                assert CALLER_PHONE not in reply.text and CALLER_WORDS not in reply.text
                assert "caller" not in reply.text and "taken_by" not in reply.text
            body = reply.json()
            found += sum(
                f["properties"]["code"] in me_world.caller_incidents
                for f in body["features"]
                if f["properties"]["layer"] == "incidents_recent"
            )
    assert found, "some incidents with caller details were listed (without them)"


@pytest.mark.parametrize("role", ROLES)
def test_people_covering_the_areas(me_client: TestClient, me_world: MeWorld, role: Role) -> None:
    """Grid workers and community officers: the people with an assignment in force on their
    grids, those grids' villages, the beats holding them in the plan in force and the station,
    phones in full; volunteers: nobody (they see no people)."""
    for member in me_world.users[role]:
        body = _ask(me_client, member, "/api/v1/me", _moment("now"))
        got = {(p["code"], p["role"], p["area_code"], p["phone"]) for p in body["people"]}
        if role == Role.volunteer:
            assert got == set()
            continue
        _, grids = areas_expected(me_world, member)
        plan = me_world.reference.plan_at(datetime.now(UTC).isoformat())
        ref = me_world.reference
        villages = {ref.villages[list(ref.codes).index(g)] for g in grids}
        beats = {b for (p, g), b in ref.beat_of.items() if p == plan and g in grids}
        with psycopg.connect(me_world.url) as conn:
            rows = conn.execute(
                """SELECT p.code, a.role, a.area_kind, coalesce(g.code, v.code, b.code, s.code),
                          bp.code, p.phone
                   FROM assignment a JOIN person p ON p.id = a.person_id
                   LEFT JOIN grid g ON g.id = a.grid_id
                   LEFT JOIN village v ON v.id = a.village_id
                   LEFT JOIN beat b ON b.id = a.beat_id
                   LEFT JOIN beat_plan bp ON bp.id = b.plan_id
                   LEFT JOIN station s ON s.id = a.station_id
                   WHERE a.validity @> now()""",
            ).fetchall()
        want = {
            (code, person_role, area, phone)
            for code, person_role, area_kind, area, of_plan, phone in rows
            if area_kind == "station"
            or (area_kind == "grid" and area in grids)
            or (area_kind == "village" and area in villages)
            or (area_kind == "beat" and area in beats and of_plan == plan)
        }
        assert got == want, got ^ want
