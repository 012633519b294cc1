"""Sweeps (梳网清格): targets, progress per grid and per grid worker, who did the work, overdue
targets and the map, recomputed with pandas and shapely from the sample's layers, the raw
inspection rows and the assignment table; who may open and read which sweep."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from tests import field_fixtures
from tests.field_fixtures import FieldStage, inspection, post_inspection

field_stage = field_fixtures.field_stage  # the fixture
KINDS = ("rental_house", "water_marker", "camera")
RESULT = {"rental_house": "pass", "water_marker": "ok", "camera": "working"}


def grid_of_points(stage: FieldStage, kind: str) -> pd.DataFrame:
    """Each thing of a kind with its grid by the boundary rule (the lowest-coded grid whose
    closed outline holds it), by shapely."""
    things = stage.layers[kind][["code", "geometry"]]
    grids = stage.layers["grid"][["code", "geometry"]].rename(columns={"code": "grid"})
    pairs = things.sjoin(grids, predicate="intersects", how="inner")
    first = pairs.groupby("code")["grid"].min().reset_index()
    first["kind"] = kind
    return first


def expected_progress(
    stage: FieldStage,
    grids: list[str],
    kinds: list[str],
    start: datetime,
    end: datetime,
    at: datetime,
) -> dict[str, Any]:
    """The sweep's answer recomputed: targets from shapely, done from the raw inspection rows
    (first inspection within [start, end)), workers from the assignment rows."""
    targets = pd.concat([grid_of_points(stage, k) for k in kinds])
    targets = targets[targets.grid.isin(grids)]
    rows = stage.sql("SELECT kind, code, inspected_at, inspector, id FROM inspection")
    done = pd.DataFrame(rows, columns=["kind", "code", "inspected_at", "inspector", "id"])
    done = done[(done.inspected_at >= start) & (done.inspected_at < end)]
    done = done.sort_values(["inspected_at", "id"]).drop_duplicates(["kind", "code"])
    merged = targets.merge(done, on=["kind", "code"], how="left")
    merged["done"] = merged.inspected_at.notna()
    finished = at >= end
    by_grid = {
        g: {
            "targets": int((merged.grid == g).sum()),
            "done": int(merged[merged.grid == g].done.sum()),
        }
        for g in grids
    }
    for g in by_grid.values():
        g["overdue"] = g["targets"] - g["done"] if finished else 0
    moment = min(at, end - timedelta(microseconds=1))
    assignment = pd.DataFrame(
        stage.sql(
            """SELECT p.code, g.code, a.valid_from, a.valid_to FROM assignment a
               JOIN person p ON p.id = a.person_id JOIN grid g ON g.id = a.grid_id
               WHERE a.role = 'grid_worker' AND a.area_kind = 'grid'"""
        ),
        columns=["person", "grid", "valid_from", "valid_to"],
    )
    in_force = assignment[
        (assignment.valid_from <= moment)
        & (assignment.valid_to.isna() | (assignment.valid_to > moment))
        & assignment.grid.isin(grids)
    ].drop_duplicates(["person", "grid"])
    by_person = {}
    for person, theirs in in_force.groupby("person"):
        mine = merged[merged.grid.isin(theirs.grid)]
        by_person[person] = {
            "grids": sorted(theirs.grid),
            "targets": len(mine),
            "done": int(mine.done.sum()),
        }
    done_by = merged[merged.done].groupby("inspector").size().to_dict()
    overdue = (
        sorted(
            zip(
                merged[~merged.done].grid,
                merged[~merged.done].kind,
                merged[~merged.done].code,
                strict=True,
            )
        )
        if finished
        else []
    )
    return {
        "targets": len(merged),
        "done": int(merged.done.sum()),
        "by_grid": by_grid,
        "by_person": by_person,
        "done_by": done_by,
        "overdue": overdue,
        "map": {
            (k, c): bool(d) for k, c, d in zip(merged.kind, merged.code, merged.done, strict=True)
        },
    }


def check(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    """The service's sweep against the recomputation."""
    sweep = answer["sweep"]
    assert (sweep["targets"], sweep["done"]) == (expected["targets"], expected["done"])
    by_grid = {
        g["grid"]: {k: g[k] for k in ("targets", "done", "overdue")} for g in answer["by_grid"]
    }
    assert by_grid == expected["by_grid"]
    by_person = {
        p["person"]: {k: p[k] for k in ("grids", "targets", "done")} for p in answer["by_person"]
    }
    assert by_person == expected["by_person"]
    assert {d["inspector"]: d["done"] for d in answer["done_by"]} == expected["done_by"]
    overdue = sorted((o["grid"], o["kind"], o["code"]) for o in answer["overdue"])
    assert overdue == expected["overdue"]
    shown = {
        (f["properties"]["kind"], f["properties"]["code"]): f["properties"]["done"]
        for f in answer["map"]["features"]
    }
    assert shown == expected["map"]


def busy_grids(stage: FieldStage, n: int, rng: random.Random) -> list[str]:
    """n grids holding things of every kind (random among them)."""
    counts = pd.concat([grid_of_points(stage, k) for k in KINDS]).groupby("grid").kind.nunique()
    full = sorted(counts[counts == len(KINDS)].index)
    assert len(full) >= n
    return sorted(rng.sample(full, n))


def open_sweep(stage: FieldStage, who: str, **body: Any) -> Any:
    return stage.client.post("/api/v1/sweeps", json=body, headers=stage.as_(who))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_open_sweep_against_pandas(field_stage: FieldStage, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start, end = now - timedelta(days=10), now + timedelta(days=5)
    grids = busy_grids(field_stage, 3, rng)
    kinds = sorted(rng.sample(KINDS, rng.randint(1, 3)))
    reply = open_sweep(
        field_stage,
        "planner",
        name=f"sweep {seed}",
        starts_at=start.isoformat(),
        ends_at=end.isoformat(),
        grids=grids,
        target_kinds=kinds,
    )
    assert reply.status_code == 201, reply.text
    summary = reply.json()
    assert summary["status"] == "open" and summary["grids"] == grids
    targets = pd.concat([grid_of_points(field_stage, k) for k in kinds])
    targets = targets[targets.grid.isin(grids)]
    assert summary["targets"] == len(targets) > 0
    # inspections by two people at random moments, some before the period (not counted)
    for _, target in targets.sample(frac=0.6, random_state=seed).iterrows():
        when = now - timedelta(days=rng.uniform(0, 14))
        who = rng.choice(["leader", "planner"])
        body = inspection(
            target.kind, target.code, RESULT[target.kind], inspected_at=when.isoformat()
        )
        assert post_inspection(field_stage, who, body).status_code == 201
    answer = field_stage.client.get(
        f"/api/v1/sweeps/{summary['id']}", headers=field_stage.as_("planner")
    )
    assert answer.status_code == 200, answer.text
    check(answer.json(), expected_progress(field_stage, grids, kinds, start, end, now))
    listed = field_stage.client.get("/api/v1/sweeps", headers=field_stage.as_("command_room"))
    mine = next(s for s in listed.json() if s["id"] == summary["id"])
    assert mine["done"] == answer.json()["sweep"]["done"]


def test_a_finished_sweep_lists_its_overdue_targets(field_stage: FieldStage) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    start, end = now - timedelta(days=20), now - timedelta(days=3)
    villages = sorted(field_stage.layers["village"].code)[:1]
    grids = sorted(field_stage.layers["grid"].query("village_code in @villages").code)
    reply = open_sweep(
        field_stage,
        "leader",
        name="finished",
        starts_at=start.isoformat(),
        ends_at=end.isoformat(),
        villages=villages,
        target_kinds=list(KINDS),
    )
    assert reply.status_code == 201, reply.text
    sweep_id = reply.json()["id"]
    assert reply.json()["grids"] == grids
    targets = pd.concat([grid_of_points(field_stage, k) for k in KINDS])
    targets = targets[targets.grid.isin(grids)]
    for _, target in targets.sample(frac=0.5, random_state=7).iterrows():
        when = start + timedelta(days=rng.uniform(-2, 19))  # some after the period: late
        if when > now:
            continue
        body = inspection(
            target.kind, target.code, RESULT[target.kind], inspected_at=when.isoformat()
        )
        assert post_inspection(field_stage, "leader", body).status_code == 201
    answer = field_stage.client.get(f"/api/v1/sweeps/{sweep_id}", headers=field_stage.as_("leader"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sweep"]["status"] == "finished"
    expected = expected_progress(field_stage, grids, list(KINDS), start, end, now)
    assert expected["overdue"]
    check(body, expected)
    assert body["sweep"]["overdue"] == len(expected["overdue"])


def test_who_opens_and_reads_which_sweep(field_stage: FieldStage) -> None:
    now = datetime.now(UTC)
    period = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=3)).isoformat()}
    worker = field_stage.users["worker"]
    other = sorted(set(field_stage.layers["grid"].code) - set(worker.grids))[0]
    # a community officer outside their beats: 403 naming their grids, nothing stored
    before = field_stage.sql("SELECT count(*) FROM sweep")
    person = field_stage.users["officer"].person
    theirs = [
        r[0]
        for r in field_stage.sql(
            """SELECT DISTINCT g.code FROM assignment a JOIN person p ON p.id = a.person_id
           JOIN beat_grid bg ON bg.beat_id = a.beat_id AND bg.plan_id = plan_in_force(now())
           JOIN grid g ON g.id = bg.grid_id
           WHERE p.code = %s AND a.area_kind = 'beat' AND a.validity @> now()""",
            (person,),
        )
    ]
    outside = sorted(set(field_stage.layers["grid"].code) - set(theirs))[0]
    reply = open_sweep(
        field_stage, "officer", name="x", grids=[outside], target_kinds=["camera"], **period
    )
    assert reply.status_code == 403, reply.text
    assert outside in reply.json()["detail"] and theirs[0] in reply.json()["detail"]
    assert field_stage.sql("SELECT count(*) FROM sweep") == before
    ok = open_sweep(
        field_stage, "officer", name="mine", grids=theirs[:1], target_kinds=["camera"], **period
    )
    assert ok.status_code == 201, ok.text
    # a grid worker reads the sweeps of their grids only, and only their grids' targets
    both = open_sweep(
        field_stage,
        "planner",
        name="both",
        grids=sorted([worker.grids[0], other]),
        target_kinds=list(KINDS),
        **period,
    )
    elsewhere = open_sweep(
        field_stage, "planner", name="elsewhere", grids=[other], target_kinds=list(KINDS), **period
    )
    assert both.status_code == elsewhere.status_code == 201
    seen = field_stage.client.get(
        f"/api/v1/sweeps/{both.json()['id']}", headers=worker.headers
    ).json()
    assert {f["properties"]["grid"] for f in seen["map"]["features"]} <= set(worker.grids)
    refused = field_stage.client.get(
        f"/api/v1/sweeps/{elsewhere.json()['id']}", headers=worker.headers
    )
    assert refused.status_code == 403 and worker.grids[0] in refused.json()["detail"]
    listed = {
        s["id"] for s in field_stage.client.get("/api/v1/sweeps", headers=worker.headers).json()
    }
    assert both.json()["id"] in listed and elsewhere.json()["id"] not in listed
    assert (
        field_stage.client.get("/api/v1/sweeps/999999", headers=worker.headers).status_code == 404
    )


def test_bad_sweeps_name_what_to_fix(field_stage: FieldStage) -> None:
    now = datetime.now(UTC)
    good = {
        "name": "x",
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "grids": sorted(field_stage.layers["grid"].code)[:1],
        "target_kinds": ["camera"],
    }
    before = field_stage.sql("SELECT count(*) FROM sweep")
    cases = [
        ({**good, "grids": ["NO-SUCH-GRID"]}, 404, "grids"),
        ({**good, "grids": [], "villages": ["NO-SUCH"]}, 404, "villages"),
        ({**good, "ends_at": (now - timedelta(days=1)).isoformat()}, 422, "body"),
        ({**good, "target_kinds": ["people"]}, 422, "0"),
        ({**good, "villages": ["V1"]}, 422, "body"),
    ]
    for body, status, parameter in cases:
        reply = open_sweep(field_stage, "planner", **body)
        assert reply.status_code == status, reply.text
        assert reply.json()["parameter"] == parameter, reply.json()
    assert field_stage.sql("SELECT count(*) FROM sweep") == before
