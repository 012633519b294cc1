"""Marking waters for dusk shore patrol (傍晚巡河): PUT and DELETE /api/v1/water/patrols/{code}
by planners, leaders and community officers (their beats' waters, checked against shapely over
many waters), refusals naming the areas, 404 naming the code, marking twice changing nothing,
the audit trail and the patrol table; and the water map's "patrolled this evening" layer after a
dusk check-in recorded through /api/v1/inspections (yesterday's does not count)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from shapely.geometry.base import BaseGeometry

from geo_service.moments import STATION_TZ
from tests import field_fixtures
from tests.field_fixtures import FieldStage, inspection, post_inspection

field_stage = field_fixtures.field_stage  # the fixture

PATH = "/api/v1/water/patrols/{}"


def _marked(stage: FieldStage) -> set[str]:
    """The waters marked now: their mark has not ended."""
    rows = stage.sql(
        "SELECT w.code FROM patrol_water p JOIN water_body w ON w.id = p.water_body_id "
        "WHERE p.unmarked_at IS NULL"
    )
    return {r[0] for r in rows}


def _periods(stage: FieldStage) -> pd.DataFrame:
    """Every mark, as stored: code, marked_at, unmarked_at (NaT: in force)."""
    rows = stage.sql(
        "SELECT w.code, p.marked_at, p.unmarked_at FROM patrol_water p "
        "JOIN water_body w ON w.id = p.water_body_id"
    )
    frame = pd.DataFrame(rows, columns=["code", "marked_at", "unmarked_at"])
    for column in ("marked_at", "unmarked_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _marked_at(stage: FieldStage, at: datetime) -> set[str]:
    """The waters whose mark held at a moment (pandas over the stored periods)."""
    p, moment = _periods(stage), pd.Timestamp(at)
    held = (p.marked_at <= moment) & (p.unmarked_at.isna() | (p.unmarked_at > moment))
    return set(p[held].code)


def _unmark_as_operator(stage: FieldStage, codes: list[str]) -> None:
    """Take away the marks in force the test made (as the owner)."""
    stage.sql(
        "DELETE FROM patrol_water WHERE unmarked_at IS NULL AND water_body_id IN "
        "(SELECT id FROM water_body WHERE code = ANY (%s)) RETURNING water_body_id",
        (codes,),
    )


def _officer_grids(stage: FieldStage) -> BaseGeometry:
    """The community officer's beats' grids in the plan in force (read from the assignment
    table), as one shape of the sample's grids."""
    person = stage.users["officer"].person
    rows = stage.sql(
        """SELECT DISTINCT g.code FROM assignment a JOIN person p ON p.id = a.person_id
           JOIN beat_grid bg ON bg.beat_id = a.beat_id AND bg.plan_id = plan_in_force(now())
           JOIN grid g ON g.id = bg.grid_id
           WHERE p.code = %s AND a.area_kind = 'beat' AND a.validity @> now()""",
        (person,),
    )
    codes = [r[0] for r in rows]
    assert codes, "the officer covers no grid"
    return stage.layers["grid"].set_index("code").loc[codes].union_all()


def _audit(stage: FieldStage, action: str, code: str) -> list[tuple[Any, ...]]:
    return stage.sql(
        "SELECT actor, detail FROM audit_event WHERE action = %s AND subject = %s ORDER BY seq",
        (action, f"water_body {code}"),
    )


def test_mark_again_and_unmark(field_stage: FieldStage) -> None:
    """A planner marks a water (201), marks it again (200, the same mark); unmarking answers 204
    twice and ends the mark (kept, with its end); marking again opens a new mark; the summer's
    patrol table never lists a water marked after the summer; each call is in the audit
    trail."""
    waters = field_stage.layers["water_body"]
    code = sorted(set(waters.code) - set(_periods(field_stage).code))[-1]
    planner = field_stage.users["planner"]
    first = field_stage.client.put(PATH.format(code), headers=planner.headers)
    assert first.status_code == 201, first.text
    mark = first.json()
    name = waters.set_index("code").loc[code, "name"]
    assert (mark["code"], mark["name"], mark["marked"]) == (code, name, True)
    again = field_stage.client.put(PATH.format(code), headers=planner.headers)
    assert again.status_code == 200 and again.json() == mark
    assert code in _marked(field_stage)
    stored = field_stage.sql(
        "SELECT p.marked_at FROM patrol_water p JOIN water_body w ON w.id = p.water_body_id "
        "WHERE w.code = %s",
        (code,),
    )
    assert pd.Timestamp(mark["marked_at"]) == pd.Timestamp(stored[0][0])
    table = field_stage.client.get(
        "/api/v1/water/patrols", params={"year": 2026}, headers=planner.headers
    ).json()
    summer_end = datetime(2026, 9, 1, tzinfo=STATION_TZ)
    assert (code in {w["code"] for w in table["waters"]}) == (
        pd.Timestamp(mark["marked_at"]) < pd.Timestamp(summer_end)
    )
    assert [(a, d["created"]) for a, d in _audit(field_stage, "patrol_mark", code)] == [
        (planner.name, True),
        (planner.name, False),
    ]

    for _ in range(2):
        gone = field_stage.client.delete(PATH.format(code), headers=planner.headers)
        assert gone.status_code == 204 and gone.content == b""
    assert code not in _marked(field_stage)
    periods = _periods(field_stage)
    ended = periods[periods.code == code]
    assert len(ended) == 1 and ended.marked_at.iloc[0] == pd.Timestamp(mark["marked_at"])
    assert ended.unmarked_at.iloc[0] > ended.marked_at.iloc[0]
    assert [(a, d["removed"]) for a, d in _audit(field_stage, "patrol_unmark", code)] == [
        (planner.name, True),
        (planner.name, False),
    ]
    anew = field_stage.client.put(PATH.format(code), headers=planner.headers)
    assert anew.status_code == 201, anew.text
    assert pd.Timestamp(anew.json()["marked_at"]) >= ended.unmarked_at.iloc[0]
    periods = _periods(field_stage)
    assert len(periods[periods.code == code]) == 2 and code in _marked(field_stage)
    _unmark_as_operator(field_stage, [code])


def test_a_community_officer_marks_the_waters_of_their_beats_only(
    field_stage: FieldStage,
) -> None:
    """For many waters, some in the officer's beats' grids and some not (shapely): marked when
    the water meets those grids, else 403 naming the officer's grids and nothing changed."""
    officer = field_stage.users["officer"]
    mine = _officer_grids(field_stage)
    waters = field_stage.layers["water_body"]
    inside = waters[waters.intersects(mine)]
    outside = waters[~waters.intersects(mine)]
    assert len(inside) and len(outside)
    rng = random.Random(14)
    chosen = rng.sample(sorted(inside.code), min(12, len(inside))) + rng.sample(
        sorted(outside.code), min(24, len(outside))
    )
    before = _marked(field_stage)
    made: list[str] = []
    try:
        for code in chosen:
            reply = field_stage.client.put(PATH.format(code), headers=officer.headers)
            if code in set(inside.code):
                assert reply.status_code in (200, 201), (code, reply.text)
                if reply.status_code == 201:
                    made.append(code)
                assert code in _marked(field_stage)
            else:
                assert reply.status_code == 403, (code, reply.text)
                problem = reply.json()
                assert reply.headers["content-type"].startswith("application/problem+json")
                assert code in problem["detail"]
                assert "grid" in problem["detail"]
                gone = field_stage.client.delete(PATH.format(code), headers=officer.headers)
                assert gone.status_code == 403, gone.text
        assert _marked(field_stage) == before | set(made)
    finally:
        _unmark_as_operator(field_stage, made)


@pytest.mark.parametrize("who", ["planner", "leader", "officer"])
def test_an_unknown_water_is_404_naming_it(field_stage: FieldStage, who: str) -> None:
    before = _marked(field_stage)
    for method in ("PUT", "DELETE"):
        reply = field_stage.client.request(
            method, PATH.format("NO_SUCH_WATER_9"), headers=field_stage.as_(who)
        )
        assert reply.status_code == 404, reply.text
        problem = reply.json()
        assert "NO_SUCH_WATER_9" in problem["detail"] and problem.get("parameter") == "code"
    assert _marked(field_stage) == before


@pytest.mark.parametrize("who", ["worker", "volunteer", "command_room"])
def test_others_may_not_mark(field_stage: FieldStage, who: str) -> None:
    code = sorted(field_stage.layers["water_body"].code)[0]
    before = _marked(field_stage)
    for method in ("PUT", "DELETE"):
        reply = field_stage.client.request(method, PATH.format(code), headers=field_stage.as_(who))
        assert reply.status_code == 403, reply.text
    assert _marked(field_stage) == before


# ------------------------------------------------------ the water map: patrolled this evening


def _patrol_layer(html: str) -> dict[str, Any]:
    """The dusk patrol layer's GeoJSON as the water map embeds it."""
    key = html.index('"evening_from"')
    start = html.rindex("{", 0, key)
    layer, _ = json.JSONDecoder().raw_decode(html[start:])
    assert layer["type"] == "FeatureCollection"
    return dict(layer)


def test_a_dusk_check_in_shows_on_the_water_map_and_yesterdays_does_not(
    field_stage: FieldStage,
) -> None:
    """Two waters of the volunteer's villages marked for patrol (through the API); one checked
    in at dusk of the last evening that has begun, the other at dusk the day before. Asked at
    that evening, the map's layer shows the first patrolled and the second marked and not
    patrolled; every water's "patrolled" equals what pandas finds in the raw check-ins."""
    volunteer = field_stage.users["volunteer"]
    villages = field_stage.layers["village"].set_index("code").loc[volunteer.villages].union_all()
    waters = field_stage.layers["water_body"]
    theirs = sorted(waters[waters.intersects(villages)].code)
    assert len(theirs) >= 2
    periods = _periods(field_stage)
    theirs = [c for c in theirs if c not in set(periods[periods.unmarked_at.notna()].code)]
    tonight_code, yesterday_code = theirs[-1], theirs[-2]
    now = datetime.now(STATION_TZ)
    day = now.date() if now.hour >= 17 else now.date() - timedelta(days=1)
    dusk = datetime.combine(day, datetime.min.time(), STATION_TZ) + timedelta(hours=16, minutes=30)
    for code in (tonight_code, yesterday_code):
        reply = field_stage.client.put(PATH.format(code), headers=field_stage.as_("leader"))
        assert reply.status_code in (200, 201), reply.text
    # as if marked two days before (the map answers as of a moment: marked then, or not)
    field_stage.sql(
        "UPDATE patrol_water SET marked_at = least(marked_at, %s) WHERE unmarked_at IS NULL "
        "AND water_body_id IN (SELECT id FROM water_body WHERE code = ANY (%s)) RETURNING 1",
        (dusk - timedelta(days=2), [tonight_code, yesterday_code]),
    )
    for code, when in ((tonight_code, dusk), (yesterday_code, dusk - timedelta(days=1))):
        body = inspection("water_body", code, "patrolled", inspected_at=when.isoformat())
        reply = post_inspection(field_stage, "volunteer", body)
        assert reply.status_code == 201, reply.text

    at = dusk + timedelta(minutes=20)
    page = field_stage.client.get(
        "/maps/water", params={"at": at.isoformat()}, headers=field_stage.as_("leader")
    )
    assert page.status_code == 200, page.text[:300]
    layer = {f["properties"]["code"]: f["properties"] for f in _patrol_layer(page.text)["features"]}
    assert layer[tonight_code]["patrolled"] is True and layer[tonight_code]["marked"] is True
    assert layer[yesterday_code]["patrolled"] is False and layer[yesterday_code]["marked"] is True

    # the independent side: check-ins from 16:00 station time of the day of `at` until `at`
    rows = pd.DataFrame(
        field_stage.sql("SELECT code, inspected_at FROM inspection WHERE kind = 'water_body'"),
        columns=["code", "inspected_at"],
    )
    local = pd.to_datetime(rows["inspected_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    evening = pd.Timestamp(datetime.combine(day, datetime.min.time()), tz="Asia/Shanghai")
    evening += pd.Timedelta(hours=16)
    walked = rows[(local >= evening) & (local <= pd.Timestamp(at))].groupby("code").size()
    assert {c: p["check_ins"] for c, p in layer.items() if p["patrolled"]} == walked.to_dict()
    assert {c for c, p in layer.items() if p["marked"]} == _marked_at(field_stage, at)


# ------------------------------------------------- marks are periods: the table keeps its past


def _summer_table(periods: pd.DataFrame, checkins: pd.DataFrame) -> dict[str, dict[str, int]]:
    """The independent side of the patrol table: for each day of June to August 2026, the
    waters whose mark meets the day's evening (16:00 to midnight, station time) and the evening
    check-ins of each (code -> check-ins, 0: not walked)."""
    local = checkins.inspected_at.dt.tz_convert("Asia/Shanghai")
    evening = checkins[local.dt.hour >= 16].assign(day=local.dt.date.astype(str))
    counts = evening.groupby(["day", "code"]).size()
    table: dict[str, dict[str, int]] = {}
    for day in pd.date_range("2026-06-01", "2026-08-31", freq="D"):
        start = pd.Timestamp(day.date(), tz="Asia/Shanghai") + pd.Timedelta(hours=16)
        end = pd.Timestamp(day.date(), tz="Asia/Shanghai") + pd.Timedelta(days=1)
        meets = (periods.marked_at < end) & (
            periods.unmarked_at.isna() | (periods.unmarked_at > start)
        )
        key = day.date().isoformat()
        table[key] = {c: int(counts.get((key, c), 0)) for c in set(periods[meets].code)}
    return table


def test_unmarking_keeps_the_days_the_water_was_marked(field_stage: FieldStage) -> None:
    """A leader marks a water, checks in on three evenings, unmarks it and marks it again. The
    calls' moments are moved into the summer as the owner (as if made then: marked 1 July 10:00,
    unmarked 20 July 18:30, station time). The summer's table counts the water from 1 to 20 July
    (walked on 5 and 20 July), not before and not after (the check-in of 25 July counts for
    nothing), and every day of the table equals what pandas finds in the stored marks and
    check-ins."""
    never = sorted(set(field_stage.layers["water_body"].code) - set(_periods(field_stage).code))
    assert never, "every water was marked already"
    code = never[len(never) // 2]
    leader = field_stage.as_("leader")

    mark = field_stage.client.put(PATH.format(code), headers=leader)
    assert mark.status_code == 201, mark.text
    walks = [
        datetime(2026, 7, d, h, 0, tzinfo=STATION_TZ) for d, h in ((5, 19), (20, 17), (25, 18))
    ]
    for when in walks:
        body = inspection("water_body", code, "patrolled", inspected_at=when.isoformat())
        assert post_inspection(field_stage, "leader", body).status_code == 201
    assert field_stage.client.delete(PATH.format(code), headers=leader).status_code == 204
    marked_at = datetime(2026, 7, 1, 10, 0, tzinfo=STATION_TZ)
    unmarked_at = datetime(2026, 7, 20, 18, 30, tzinfo=STATION_TZ)
    moved = field_stage.sql(
        "UPDATE patrol_water SET marked_at = %s, unmarked_at = %s WHERE water_body_id = "
        "(SELECT id FROM water_body WHERE code = %s) RETURNING 1",
        (marked_at, unmarked_at, code),
    )
    assert moved == [(1,)]  # one mark, ended, not deleted
    again = field_stage.client.put(PATH.format(code), headers=leader)
    assert again.status_code == 201, again.text  # a new mark, from now on
    try:
        reply = field_stage.client.get(
            "/api/v1/water/patrols", params={"year": 2026}, headers=leader
        )
        assert reply.status_code == 200, reply.text
        table = reply.json()
        got = {
            d["date"]: {w["code"]: w["check_ins"] for w in d["walked"]}
            | dict.fromkeys(d["not_walked"], 0)
            for d in table["days"]
        }
        # the water: counted 1 to 20 July, walked on 5 and 20 July, nowhere else
        on = {day for day, row in got.items() if code in row}
        assert on == {f"2026-07-{d:02d}" for d in range(1, 21)}
        assert {day for day, row in got.items() if row.get(code)} == {"2026-07-05", "2026-07-20"}
        water = next(w for w in table["waters"] if w["code"] == code)
        assert (water["days"], water["days_walked"]) == (20, 2)

        # every day, every water: against pandas over the stored marks and check-ins
        rows = field_stage.sql(
            "SELECT code, inspected_at FROM inspection WHERE kind = 'water_body'"
        )
        checkins = pd.DataFrame(rows, columns=["code", "inspected_at"])
        checkins["inspected_at"] = pd.to_datetime(checkins.inspected_at, utc=True)
        assert got == _summer_table(_periods(field_stage), checkins)
        assert table["totals"] == {
            "water_days": sum(map(len, got.values())),
            "walked": sum(1 for row in got.values() for n in row.values() if n),
        }
    finally:
        _unmark_as_operator(field_stage, [code])
