"""The timeline (issue 12, section 3): random sequences of steps over many incidents against a
Python model of the issue's rules (which step may follow which, which units are free), the
answers' statuses, steps allowed next, units and timelines; refusals that name what to fix."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg
import pyogrio
from pyproj import Geod

if TYPE_CHECKING:
    from tests.desk_fixtures import Desk

pytest_plugins = ["tests.desk_fixtures"]

KINDS = ("dispatch", "arrive", "close", "divert", "accept", "callback", "cancel", "note")
# The rules, written out for the model: what may follow each state.
MAY_FOLLOW = {
    "received": {"dispatch", "divert", "cancel", "note"},
    "dispatched": {"dispatch", "arrive", "cancel", "note"},
    "arrived": {"dispatch", "arrive", "close", "note"},
    "diverted": {"accept", "cancel", "note"},
    "accepted": {"close", "note"},
    "closed": {"callback", "note"},
    "called_back": {"note"},
    "cancelled": {"note"},
}
MOVES_TO = {
    "dispatch": "dispatched",
    "arrive": "arrived",
    "close": "closed",
    "divert": "diverted",
    "accept": "accepted",
    "cancel": "cancelled",
    "callback": "called_back",
}
ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
GEOD = Geod(ellps="WGS84")


@dataclass
class Model:
    """One incident as the model sees it."""

    call_no: str
    state: str = "received"
    units: dict[str, str] = field(default_factory=dict)  # call sign -> dispatched | on_scene
    dispatched_ever: set[str] = field(default_factory=set)
    steps: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "closed" if self.state == "called_back" else self.state


def _body(rng: random.Random, kind: str, inc: Model, units: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind}
    if kind == "dispatch":
        body["call_sign"] = rng.choice(units)
    elif kind == "arrive" and rng.random() < 0.7:
        pool = sorted(inc.dispatched_ever) if inc.dispatched_ever and rng.random() < 0.8 else units
        body["call_sign"] = rng.choice(pool)
    elif kind == "close":
        body["result"] = rng.choice(["handled on scene", "mediated", "referred"])
    elif kind == "callback":
        body["result"] = rng.choice(ANSWERS)
    elif kind == "note":
        body["note"] = f"note {rng.randrange(1000)}"
    return body


def _expect(body: dict[str, Any], inc: Model, busy: dict[str, str]) -> bool:
    """Whether the model accepts the step (and then applies it)."""
    kind = body["kind"]
    if kind not in MAY_FOLLOW[inc.state]:
        return False
    sign = body.get("call_sign")
    if kind == "dispatch" and sign in busy:
        return False
    return not (kind == "arrive" and sign is not None and sign not in inc.dispatched_ever)


def _apply(body: dict[str, Any], inc: Model, busy: dict[str, str]) -> None:
    kind, sign = body["kind"], body.get("call_sign")
    inc.steps.append(kind)
    if kind == "dispatch":
        inc.units[sign] = "dispatched"
        inc.dispatched_ever.add(sign)
        busy[sign] = inc.call_no
        inc.state = "arrived" if inc.state == "arrived" else "dispatched"
        return
    if kind == "arrive" and sign is not None and sign in inc.units:
        inc.units[sign] = "on_scene"
    if kind in ("close", "cancel"):
        for unit in inc.units:
            busy.pop(unit, None)
        inc.units.clear()
    inc.state = MOVES_TO.get(kind, inc.state)


def test_random_step_sequences_follow_the_model(desk: Desk) -> None:
    rng = random.Random(12)
    units = desk.units[:6]  # few units, so that some are busy when asked for
    reply = desk.command.get("/api/v1/units").json()
    busy = {u["call_sign"]: u["call_no"] for u in reply if u["call_no"] and u["call_sign"] in units}
    incidents = [
        Model(desk.post_call(category="dispute")["incident"]["call_no"]) for _ in range(14)
    ]
    incidents += [
        Model(desk.post_call(category="non_police")["incident"]["call_no"], state="diverted")
        for _ in range(4)
    ]
    for inc in incidents[-4:]:
        inc.steps.append("divert")
    accepted = refused = 0
    for _ in range(300):
        inc = rng.choice(incidents)
        if rng.random() < 0.6:  # mostly steps that may follow, so that sequences get long
            kind = rng.choice(sorted(MAY_FOLLOW[inc.state]))
        else:
            kind = rng.choice(KINDS)
        body = _body(rng, kind, inc, units)
        ok = _expect(body, inc, busy)
        reply = desk.command.post(f"/api/v1/incidents/{inc.call_no}/events", json=body)
        if not ok:
            assert reply.status_code == 409, (inc, body, reply.text)
            problem = reply.json()
            assert reply.headers["content-type"].startswith("application/problem+json")
            if kind not in MAY_FOLLOW[inc.state]:
                assert set(problem["allowed"]) == MAY_FOLLOW[inc.state]
                assert problem["parameter"] == "kind"
                assert all(step in problem["detail"] for step in MAY_FOLLOW[inc.state])
            else:
                assert problem["parameter"] == "call_sign"
            refused += 1
            continue
        assert reply.status_code == 200, (inc, body, reply.text)
        _apply(body, inc, busy)
        accepted += 1
        answer = reply.json()
        assert answer["status"] == inc.status
        assert set(answer["next_steps"]) == MAY_FOLLOW[inc.state]
        assert {u["call_sign"]: u["status"] for u in answer["units"]} == inc.units
    assert accepted > 150 and refused > 30
    for inc in incidents:  # the stored timelines, read back
        answer = desk.command.get(f"/api/v1/incidents/{inc.call_no}").json()
        assert [s["kind"] for s in answer["timeline"]] == inc.steps
        assert answer["status"] == inc.status
    states = {u["call_sign"]: u for u in desk.command.get("/api/v1/units").json()}
    for sign in units:
        owner = busy.get(sign)
        assert states[sign]["call_no"] == owner
        if owner is None:
            assert states[sign]["status"] == "available"
    with psycopg.connect(desk.database_url) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'incident_step' "
            "AND subject = ANY (%s)",
            ([inc.call_no for inc in incidents],),
        ).fetchone()
    assert audited == (accepted,)


def test_a_reported_and_an_automatic_arrival_both_show(desk: Desk) -> None:
    unit = desk.units[6]
    inc = desk.post_call(category="theft")["incident"]
    path = f"/api/v1/incidents/{inc['call_no']}/events"
    assert desk.command.post(path, json={"kind": "dispatch", "call_sign": unit}).status_code == 200
    fix = {"call_sign": unit, "at": _later(inc, 120), "lon": inc["lon"], "lat": inc["lat"]}
    stored = desk.command.post("/api/v1/positions", json={"fixes": [fix]}).json()
    assert stored["arrivals"] == [
        {"call_no": inc["call_no"], "call_sign": unit, "at": stored["arrivals"][0]["at"]}
    ]
    reported = desk.command.post(
        path, json={"kind": "arrive", "call_sign": unit, "at": _later(inc, 200)}
    ).json()
    arrive = [s for s in reported["timeline"] if s["kind"] == "arrive"]
    assert [s["source"] for s in arrive] == ["automatic", "reported"]
    assert reported["arrival"]["automatic_at"] != reported["arrival"]["reported_at"]
    assert arrive[1]["lon"] == inc["lon"]  # where the unit was: its last fix
    closed = desk.command.post(path, json={"kind": "close", "result": "done"}).json()
    assert closed["units"] == [] and closed["next_steps"] == ["callback", "note"]
    again = desk.command.post(path, json={"kind": "close", "result": "done"})
    assert again.status_code == 409 and again.json()["allowed"] == ["callback", "note"]


def _later(inc: dict[str, Any], seconds: int) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(inc["received_at"]) + timedelta(seconds=seconds)).isoformat()


def test_refusals_name_what_to_fix(desk: Desk) -> None:
    inc = desk.post_call(category="theft", received_at="2026-11-30T10:00:00+08:00")["incident"]
    path = f"/api/v1/incidents/{inc['call_no']}/events"
    before = desk.command.post(path, json={"kind": "note", "note": "x", "at": "2026-11-29"})
    assert before.status_code == 422 and before.json()["parameter"] == "at"
    assert "before the call" in before.json()["detail"]
    unknown = desk.command.post("/api/v1/incidents/NOPE404/events", json={"kind": "cancel"})
    assert unknown.status_code == 404 and unknown.json()["parameter"] == "call_no"
    nobody = desk.command.post(path, json={"kind": "dispatch", "call_sign": "ZZ99"})
    assert nobody.status_code == 404 and nobody.json()["parameter"] == "call_sign"
    bad = desk.command.post(path, json={"kind": "callback", "result": "delighted"})
    assert bad.status_code == 422
    no_note = desk.command.post(path, json={"kind": "note"})
    assert no_note.status_code == 422
    no_kind = desk.command.post(path, json={"kind": "celebrate"})
    assert no_kind.status_code == 422
    # nothing of it was stored
    assert desk.command.get(f"/api/v1/incidents/{inc['call_no']}").json()["timeline"] == []


def test_a_step_sent_again_is_recorded_once(desk: Desk) -> None:
    inc = desk.post_call(category="dispute")["incident"]
    path = f"/api/v1/incidents/{inc['call_no']}/events"
    step = {"kind": "dispatch", "call_sign": desk.units[7], "at": _later(inc, 90)}
    first = desk.command.post(path, json=step)
    again = desk.command.post(path, json=step)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert [s["kind"] for s in again.json()["timeline"]] == ["dispatch"]
    later = desk.command.post(path, json={**step, "at": _later(inc, 95)})
    assert later.status_code == 409  # the unit is busy with this incident now
    closed = desk.command.post(path, json={"kind": "cancel"})
    assert closed.status_code == 200


def test_the_samples_timelines_follow_the_rules(sample_path: Path) -> None:
    """Every sample timeline replays through the model step by step, and leaves its incident in
    the status the incident layer says; dispatch 45 s .. 5 min after the call (mostly 1-3);
    about 40 % of non-police calls diverted; callbacks mostly satisfied; each automatic arrival
    stamped within 50 m of its incident (pyproj's geodesic distance)."""
    steps = pyogrio.read_dataframe(sample_path, layer="incident_step")
    incidents = pyogrio.read_dataframe(sample_path, layer="incident").set_index("call_no")
    shifts = pyogrio.read_dataframe(sample_path, layer="duty_shift")
    steps["t"] = pd.to_datetime(steps["at"], utc=True)
    steps = steps.sort_values(["call_no", "t"], kind="stable")
    status: dict[str, str] = {}
    for call_no, timeline in steps.groupby("call_no", sort=False):
        state = "received"
        for kind in timeline["kind"]:
            assert kind in MAY_FOLLOW[state], (call_no, list(timeline["kind"]))
            if kind == "dispatch":
                state = "arrived" if state == "arrived" else "dispatched"
            else:
                state = MOVES_TO.get(kind, state)
        status[call_no] = "closed" if state == "called_back" else state
    expected = {no: status.get(no, "received") for no in incidents.index}
    assert expected == incidents["status"].to_dict()
    received = pd.to_datetime(incidents["received_at"], utc=True)
    first = steps[steps["kind"] == "dispatch"].groupby("call_no")["t"].min()
    delay = (first - received.reindex(first.index)).dt.total_seconds()
    assert delay.between(45, 300).all() and delay.between(60, 180).mean() > 0.6
    non_police = incidents["category"] == "non_police"
    diverted = steps.loc[steps["kind"] == "divert", "call_no"].unique()
    share = incidents.index[non_police].isin(diverted).mean()
    assert 0.33 < share < 0.47
    answers = steps.loc[steps["kind"] == "callback", "result"]
    assert set(answers) <= {"satisfied", "basically_satisfied", "unsatisfied"}
    assert (answers == "satisfied").mean() > 0.9
    assert set(shifts["unit_kind"]) <= {"car", "motorbike", "ebike", "foot"}
    auto = steps[steps["source"] == "automatic"]
    assert len(auto) > 100
    where = incidents.loc[auto["call_no"]]
    _, _, metres = GEOD.inv(
        where.geometry.x.to_numpy(),
        where.geometry.y.to_numpy(),
        auto["lon"].to_numpy(float),
        auto["lat"].to_numpy(float),
    )
    assert (metres <= 50.5).all()
    # a unit is in one place at a time: its patrol pauses while it is on its way to a call
    fixes = pyogrio.read_dataframe(sample_path, layer="position_fix", read_geometry=False)
    assert not fixes.duplicated(["person_code", "recorded_at"]).any()
