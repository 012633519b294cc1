"""Beat plans over HTTP (issue 13, sections 1 and 4): drafts, moves with the version they were
based on, locks, beats, the diff against a set computation, publication's problems against
networkx/shapely, and lookups and stamps after publication. On a database of their own."""

from __future__ import annotations

import importlib.util
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely

pytest.register_assert_rewrite("tests.planning_fixtures")
pytest_plugins = ["tests.planning_fixtures"]

from tests.planning_fixtures import Planning, beats_of, border_moves, contiguous  # noqa: E402

IN_FORCE = "2026"  # the sample's plan in force now (2026-07-01 on)


def _code() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def draft(planning: Planning, source: str | None = None) -> dict[str, Any]:
    """A new draft (from the plan in force unless source is given), as the API answers it."""
    body: dict[str, Any] = {"code": _code(), "name": "测试方案"}
    if source:
        body["source"] = source
    reply = planning.planner.post("/api/v1/plans", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def membership(document: dict[str, Any]) -> dict[str, str | None]:
    """grid -> beat of a plan document (None for grids in no beat)."""
    out: dict[str, str | None] = {g: None for g in document["grids_without_beat"]}
    for beat in document["beats"]:
        out.update({g: beat["code"] for g in beat["grids"]})
    return out


def get(planning: Planning, code: str) -> dict[str, Any]:
    reply = planning.planner.get(f"/api/v1/plans/{code}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def move(planning: Planning, code: str, version: int, moves: dict[str, str | None]) -> Any:
    return planning.planner.patch(
        f"/api/v1/plans/{code}/grids",
        json={"version": version, "moves": [{"grid": g, "beat": b} for g, b in moves.items()]},
    )


# ----------------------------------------------------------------------------- drafts


def test_a_draft_copies_the_plan_in_force(planning: Planning, sample_plans) -> None:
    made = draft(planning)
    assert made["status"] == "draft" and made["version"] == 1 and made["based_on"] == IN_FORCE
    assert membership(made) == sample_plans[IN_FORCE]
    assert all(beat["officer"] for beat in made["beats"])  # every beat keeps its officer
    from_2025 = draft(planning, source="2025")
    assert membership(from_2025) == sample_plans["2025"]
    listed = {p["code"]: p for p in planning.planner.get("/api/v1/plans").json()}
    assert {made["code"], from_2025["code"], "2025", "2026", "2027-draft"} <= set(listed)
    assert listed[IN_FORCE]["in_force"] and not listed["2025"]["in_force"]


def test_a_taken_code_or_unknown_source_is_refused(planning: Planning) -> None:
    made = draft(planning)
    again = planning.planner.post("/api/v1/plans", json={"code": made["code"], "name": "x"})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    unknown = planning.planner.post(
        "/api/v1/plans", json={"code": _code(), "name": "x", "source": "no-such-plan"}
    )
    assert unknown.status_code == 404 and unknown.json()["parameter"] == "source"
    assert planning.planner.get("/api/v1/plans/no-such-plan").status_code == 404
    bad = planning.planner.post("/api/v1/plans", json={"code": "has space", "name": "x"})
    assert bad.status_code == 422


# ----------------------------------------------------------------------- edits, versions


def test_moves_apply_to_their_version_and_a_stale_one_is_409(planning: Planning, grid_graph):
    made = draft(planning)
    before = membership(made)
    grid, there = next(border_moves(grid_graph, before))  # type: ignore[arg-type]
    first = move(planning, made["code"], 1, {grid: there})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    assert first.json()["moved"] == [{"grid": grid, "from": before[grid], "to": there}]
    after_first = membership(get(planning, made["code"]))
    assert after_first == {**before, grid: there}

    # a second planner, still on version 1, moves the grid elsewhere: refused with the change
    elsewhere = sorted({b for b in after_first.values() if b} - {there})[0]
    stale = move(planning, made["code"], 1, {grid: elsewhere})
    assert stale.status_code == 409, stale.text
    problem = stale.json()
    assert problem["refused"] == "stale" and problem["version"] == 2
    assert [c["version"] for c in problem["changes"]] == [2]
    assert problem["changes"][0]["detail"]["moves"] == [
        {"grid": grid, "from": before[grid], "to": there}
    ]
    assert membership(get(planning, made["code"])) == after_first  # nothing changed

    # a move to where the grid already is changes nothing and keeps the version
    same = move(planning, made["code"], 2, {grid: there})
    assert same.status_code == 200 and same.json() == {
        "code": made["code"],
        "version": 2,
        "moved": [],
    }


def test_bad_moves_change_nothing(planning: Planning) -> None:
    made = draft(planning)
    code = made["code"]
    grid = made["beats"][0]["grids"][0]
    for moves, status in (
        ({"no-such-grid": made["beats"][1]["code"]}, 422),
        ({grid: "no-such-beat"}, 422),
    ):
        reply = move(planning, code, 1, moves)
        assert reply.status_code == status, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
    twice = planning.planner.patch(
        f"/api/v1/plans/{code}/grids",
        json={"version": 1, "moves": [{"grid": grid, "beat": None}] * 2},
    )
    assert twice.status_code == 422
    assert get(planning, code)["version"] == 1
    assert membership(get(planning, code)) == membership(made)


def test_published_plans_never_change(planning: Planning) -> None:
    document = get(planning, IN_FORCE)
    grid = document["beats"][0]["grids"][0]
    reply = move(planning, IN_FORCE, document["version"], {grid: document["beats"][1]["code"]})
    assert reply.status_code == 409 and reply.json()["refused"] == "published"
    for path, body in (
        ("beats", {"changes": [{"op": "rename", "beat": "B01", "name": "x"}]}),
        ("locks", {"grids": {grid: True}}),
    ):
        reply = planning.planner.patch(
            f"/api/v1/plans/{IN_FORCE}/{path}", json={"version": document["version"], **body}
        )
        assert reply.status_code == 409, reply.text
    assert get(planning, IN_FORCE) == document


def test_locked_grids_and_beats_stay(planning: Planning) -> None:
    made = draft(planning)
    code = made["code"]
    b, c = (beat["code"] for beat in made["beats"][1:3])
    grid_a = made["beats"][0]["grids"][0]
    grid_c = made["beats"][2]["grids"][0]
    locks = planning.planner.patch(
        f"/api/v1/plans/{code}/locks", json={"version": 1, "grids": {grid_a: True}}
    )
    assert locks.status_code == 200 and locks.json()["version"] == 2
    refused = move(planning, code, 2, {grid_a: b})
    assert refused.status_code == 409 and refused.json()["grids"] == [grid_a]
    beat_lock = planning.planner.patch(
        f"/api/v1/plans/{code}/locks", json={"version": 2, "beats": {b: True}}
    )
    assert beat_lock.status_code == 200
    into = move(planning, code, 3, {grid_c: b})  # into a locked beat
    assert into.status_code == 409
    document = get(planning, code)
    assert document["locked_grids"] == [grid_a]
    assert {x["code"]: x["locked"] for x in document["beats"]}[b] is True
    unlock = planning.planner.patch(
        f"/api/v1/plans/{code}/locks",
        json={"version": 3, "grids": {grid_a: False}, "beats": {b: False}},
    )
    assert unlock.status_code == 200
    assert move(planning, code, 4, {grid_a: c, grid_c: b}).status_code == 200
    # a grid in no beat cannot be locked
    assert move(planning, code, 5, {grid_a: None}).status_code == 200
    bad = planning.planner.patch(
        f"/api/v1/plans/{code}/locks", json={"version": 6, "grids": {grid_a: True}}
    )
    assert bad.status_code == 422 and bad.json()["grids"] == [grid_a]


def test_beats_are_added_renamed_given_officers_and_removed_only_empty(
    planning: Planning, planning_db: str
) -> None:
    made = draft(planning)
    code = made["code"]
    first = made["beats"][0]
    with psycopg.connect(planning_db) as conn:
        officer = conn.execute(
            "SELECT code FROM person WHERE role = 'community_officer' ORDER BY code DESC LIMIT 1"
        ).fetchone()
        worker = conn.execute(
            "SELECT code FROM person WHERE role = 'grid_worker' LIMIT 1"
        ).fetchone()
    assert officer and worker

    def beats(version: int, *changes: dict[str, Any]) -> Any:
        return planning.planner.patch(
            f"/api/v1/plans/{code}/beats", json={"version": version, "changes": list(changes)}
        )

    done = beats(
        1,
        {"op": "add", "beat": "B99", "name": "新警格"},
        {"op": "rename", "beat": first["code"], "name": "改名警格"},
        {"op": "officer", "beat": "B99", "person": officer[0]},
    )
    assert done.status_code == 200, done.text
    document = get(planning, code)
    by_code = {b["code"]: b for b in document["beats"]}
    assert by_code["B99"]["grids"] == [] and by_code["B99"]["officer"]["code"] == officer[0]
    assert by_code[first["code"]]["name"] == "改名警格"

    not_empty = beats(2, {"op": "remove", "beat": first["code"]})
    assert not_empty.status_code == 409
    assert set(not_empty.json()["grids"]) == set(first["grids"])
    not_officer = beats(2, {"op": "officer", "beat": "B99", "person": worker[0]})
    assert not_officer.status_code == 422
    # all or none: the add is undone by the refused removal after it
    all_or_none = beats(
        2, {"op": "add", "beat": "B98", "name": "x"}, {"op": "remove", "beat": first["code"]}
    )
    assert all_or_none.status_code == 409
    assert "B98" not in {b["code"] for b in get(planning, code)["beats"]}
    assert beats(2, {"op": "remove", "beat": "B99"}).status_code == 200
    assert "B99" not in {b["code"] for b in get(planning, code)["beats"]}
    assert get(planning, code)["version"] == 3


def test_the_officers_to_choose_from_are_the_community_officers_with_their_beats(
    planning: Planning, planning_db: str
) -> None:
    made = draft(planning)
    code = made["code"]
    with psycopg.connect(planning_db) as conn:
        people = pd.DataFrame(
            conn.execute("SELECT code, name, role FROM person").fetchall(),
            columns=["code", "name", "role"],
        )
    officers = people[people.role == "community_officer"].sort_values("code")
    rng = random.Random(13)
    # give a few beats other officers (one officer may hold several beats), then compare
    beats = [b["code"] for b in made["beats"]]
    chosen = {b: rng.choice(list(officers.code)) for b in rng.sample(beats, min(4, len(beats)))}
    changes = [{"op": "officer", "beat": b, "person": p} for b, p in chosen.items()]
    done = planning.planner.patch(
        f"/api/v1/plans/{code}/beats", json={"version": 1, "changes": changes}
    )
    assert done.status_code == 200, done.text
    document = get(planning, code)
    held: dict[str, list[str]] = {}
    for beat in document["beats"]:
        if beat["officer"]:
            held.setdefault(beat["officer"]["code"], []).append(beat["code"])
    for beat, person in chosen.items():
        assert beat in held[person]

    reply = planning.planner.get(f"/api/v1/plans/{code}/officers")
    assert reply.status_code == 200, reply.text
    expected = [
        {"code": c, "name": n, "beats": sorted(held.get(c, []))}
        for c, n in zip(officers.code, officers.name, strict=True)
    ]
    assert reply.json() == expected
    assert len(expected) > 1
    # every one of them is accepted as an officer by the edit; nobody else is
    other = people[people.role != "community_officer"].code.iloc[0]
    refused = planning.planner.patch(
        f"/api/v1/plans/{code}/beats",
        json={"version": 2, "changes": [{"op": "officer", "beat": beats[0], "person": other}]},
    )
    assert refused.status_code == 422
    assert planning.planner.get("/api/v1/plans/no-such-plan/officers").status_code == 404


# -------------------------------------------------------------------------------- diff


def _expected_diff(
    a: dict[str, str | None], b: dict[str, str | None], workers: dict[str, list[str]]
) -> dict[str, Any]:
    """The diff by set arithmetic on the two memberships."""
    moved = sorted((g, a.get(g), b.get(g)) for g in set(a) | set(b) if a.get(g) != b.get(g))
    beats_a, beats_b = beats_of(a), beats_of(b)
    changed = {}
    for beat in set(beats_a) | set(beats_b):
        gained = beats_b.get(beat, set()) - beats_a.get(beat, set())
        lost = beats_a.get(beat, set()) - beats_b.get(beat, set())
        if gained or lost:
            changed[beat] = (sorted(gained), sorted(lost))
    people = sorted(
        (person, grid, a.get(grid), b.get(grid))
        for grid, persons in workers.items()
        for person in persons
        if a.get(grid) != b.get(grid)
    )
    return {"moved": moved, "changed": changed, "workers": people}


def test_the_diff_matches_a_set_computation(planning: Planning, planning_db: str) -> None:
    """Random moves (contiguity aside) on drafts; the diff against the plan in force and the
    other way round, against sets."""
    rng = random.Random(13)
    with psycopg.connect(planning_db) as conn:
        rows = conn.execute(
            """SELECT g.code, p.code FROM assignment a JOIN grid g ON g.id = a.grid_id
               JOIN person p ON p.id = a.person_id
               WHERE a.role = 'grid_worker' AND a.validity @> now()"""
        ).fetchall()
    workers: dict[str, list[str]] = {}
    for grid, person in rows:
        workers.setdefault(grid, []).append(person)
    base = membership(get(planning, IN_FORCE))
    beat_codes = sorted({b for b in base.values() if b})
    for case in range(12):
        made = draft(planning)
        grids = rng.sample(sorted(base), rng.randint(1, 40))
        moves: dict[str, str | None] = {
            g: (None if rng.random() < 0.1 else rng.choice(beat_codes)) for g in grids
        }
        reply = move(planning, made["code"], 1, moves)
        assert reply.status_code == 200, reply.text
        after = membership(get(planning, made["code"]))
        assert after == {**base, **moves}
        for a_code, b_code, a, b in (
            (IN_FORCE, made["code"], base, after),
            (made["code"], IN_FORCE, after, base),
        ):
            diff = planning.planner.get(f"/api/v1/plans/{a_code}/diff/{b_code}").json()
            want = _expected_diff(a, b, workers)
            assert [(m["grid"], m["from"], m["to"]) for m in diff["moved"]] == want["moved"], case
            got = {c["beat"]: (c["gained"], c["lost"]) for c in diff["beats_changed"]}
            assert got == want["changed"], case
            assert all(c["in_a"] and c["in_b"] for c in diff["beats_changed"])
            assert (
                sorted((w["person"], w["grid"], w["from"], w["to"]) for w in diff["grid_workers"])
                == want["workers"]
            )
            assert diff["officers"] == []  # the drafts keep every beat's officer


def test_the_diff_names_officers_whose_beat_changes(planning: Planning, planning_db: str) -> None:
    made = draft(planning)
    beats = made["beats"]
    one, two = beats[0], beats[1]
    # swap the two beats' officers
    changes = [
        {"op": "officer", "beat": one["code"], "person": two["officer"]["code"]},
        {"op": "officer", "beat": two["code"], "person": one["officer"]["code"]},
    ]
    reply = planning.planner.patch(
        f"/api/v1/plans/{made['code']}/beats", json={"version": 1, "changes": changes}
    )
    assert reply.status_code == 200, reply.text
    diff = planning.planner.get(f"/api/v1/plans/{IN_FORCE}/diff/{made['code']}").json()
    got = {(o["person"], tuple(o["from"]), tuple(o["to"])) for o in diff["officers"]}
    assert got == {
        (one["officer"]["code"], (one["code"],), (two["code"],)),
        (two["officer"]["code"], (two["code"],), (one["code"],)),
    }
    assert diff["moved"] == [] and diff["beats_changed"] == []
    # each beat's workload before and after, once the service computes workloads: the same
    # grids, the same workload
    if importlib.util.find_spec("geo_service.services.workload") is None:
        assert diff["workload"] is None
    else:
        assert set(diff["workload"]) == {b["code"] for b in beats}
        for beat, sides in diff["workload"].items():
            assert sides["a"] is not None and sides["a"] == sides["b"], beat


# ------------------------------------------------------------------------- files


def _read_rows(content: bytes, suffix: str, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / f"rows{suffix}"
    path.write_bytes(content)
    return pyogrio.read_dataframe(path, read_geometry=False)


def _import(planning: Planning, path: Path) -> Any:
    with path.open("rb") as f:
        return planning.planner.post(
            "/api/v1/imports", files={"file": (path.name, f)}, data={"layer": "beat_grid"}
        )


def test_a_draft_goes_out_and_back_in_as_csv_and_geopackage(
    planning: Planning, planning_db: str, grids, tmp_path: Path
) -> None:
    """A draft's grid→beat rows out as CSV and GeoPackage, changed, and read back in: the
    draft takes the file's membership and its version goes up; its beat outlines out as a
    GeoPackage are the unions of their grids (shapely)."""
    rng = random.Random(5)
    made = draft(planning)
    code = made["code"]
    beat_codes = [b["code"] for b in made["beats"]]
    version = 1
    for suffix, fmt in ((".csv", "csv"), (".gpkg", "gpkg")):
        out = planning.planner.get(f"/api/v1/layers/beat_grid.{fmt}", params={"plan": code})
        assert out.status_code == 200, out.text
        rows = _read_rows(out.content, suffix, tmp_path)
        assert set(rows["plan_code"]) == {code}
        assert dict(zip(rows["grid_code"], rows["beat_code"], strict=True)) == membership(
            get(planning, code)
        )
        changed = rows.sample(n=7, random_state=rng.randint(0, 1000)).index
        rows.loc[changed, "beat_code"] = [rng.choice(beat_codes) for _ in changed]
        path = tmp_path / f"changed{suffix}"
        pyogrio.write_dataframe(rows[["plan_code", "beat_code", "grid_code"]], path)
        reply = _import(planning, path)
        assert reply.status_code == 201, reply.text
        document = get(planning, code)
        want = dict(zip(rows["grid_code"], rows["beat_code"], strict=True))
        assert membership(document) == want
        if want != membership(made):
            version += 1
        assert document["version"] == version
        made = document
    with psycopg.connect(planning_db) as conn:
        kinds = conn.execute(
            """SELECT c.kind FROM plan_change c JOIN beat_plan p ON p.id = c.plan_id
               WHERE p.code = %s ORDER BY c.version""",
            (code,),
        ).fetchall()
    assert [k for (k,) in kinds] == ["create"] + ["import"] * (version - 1)

    outlines = planning.planner.get("/api/v1/layers/beat.gpkg", params={"plan": code})
    assert outlines.status_code == 200
    path = tmp_path / "beats.gpkg"
    path.write_bytes(outlines.content)
    beats = gpd.read_file(path).set_index("code")
    by_code = grids.set_index("code").geometry
    for beat, members in beats_of(membership(made)).items():  # type: ignore[arg-type]
        union = shapely.union_all([by_code[g] for g in members])
        assert beats.geometry[beat].symmetric_difference(union).area < 1e-12, beat


# ------------------------------------------------------------------------- publication


def _dry_run(planning: Planning, code: str, at: str) -> dict[str, Any]:
    reply = planning.leader.post(
        f"/api/v1/plans/{code}/publish", json={"effective_from": at, "dry_run": True}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_contiguity_matches_networkx(planning: Planning, grid_graph: nx.Graph) -> None:
    """Random drafts with random grids moved: the beats publication calls not contiguous are
    those networkx finds in more than one piece on shapely's edge adjacency."""
    rng = random.Random(7)
    base = membership(get(planning, IN_FORCE))
    beat_codes = sorted({b for b in base.values() if b})
    seen_broken = seen_whole = 0
    border = list(border_moves(grid_graph, base))  # type: ignore[arg-type]
    for case in range(16):
        made = draft(planning)
        if case % 2:  # anywhere: mostly breaks beats
            grids = rng.sample(sorted(base), rng.randint(1, 12))
            moves = {g: rng.choice(beat_codes) for g in grids}
        else:  # border grids to a neighbouring beat: one keeps both whole, more may not
            moves = dict(rng.sample(border, rng.choice((1, 1, 2, 3))))
        assert move(planning, made["code"], 1, moves).status_code == 200
        after = {**base, **moves}
        check = _dry_run(planning, made["code"], "2027-01-01T00:00:00+08:00")
        broken = {p["beat"] for p in check["problems"] if p["problem"] == "beat_not_contiguous"}
        want = {
            beat
            for beat, grids in beats_of(after).items()  # type: ignore[arg-type]
            if not contiguous(grid_graph, grids)
        }
        assert broken == want
        empty = {p["beat"] for p in check["problems"] if p["problem"] == "empty_beat"}
        assert empty == set(beat_codes) - set(beats_of(after))  # type: ignore[arg-type]
        assert check["publishable"] == (not want and not empty)
        seen_broken += bool(want)
        seen_whole += not want
    assert seen_broken and seen_whole  # both kinds of case were tried


def test_publication_lists_every_problem(planning: Planning, grid_graph: nx.Graph) -> None:
    made = draft(planning)
    code = made["code"]
    base = membership(made)
    beats = beats_of(base)  # type: ignore[arg-type]
    # a beat cut in two: take away a grid whose removal splits it
    cut = next(
        (g, b)
        for b, grids in sorted(beats.items())
        for g in sorted(grids)
        if len(grids) > 2 and not contiguous(grid_graph, grids - {g})
    )
    reply = move(planning, code, 1, {cut[0]: None})
    assert reply.status_code == 200
    add = planning.planner.patch(
        f"/api/v1/plans/{code}/beats",
        json={"version": 2, "changes": [{"op": "add", "beat": "B-EMPTY", "name": "空"}]},
    )
    assert add.status_code == 200
    refused = planning.leader.post(
        f"/api/v1/plans/{code}/publish",
        json={"effective_from": "2026-03-01T00:00:00+08:00", "version": 3},
    )
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["parameter"] == "effective_from"
    kinds = {p["problem"]: p for p in body["problems"]}
    assert set(kinds) == {
        "grids_without_beat",
        "empty_beat",
        "beat_not_contiguous",
        "before_plan_in_force",
    }
    assert kinds["grids_without_beat"]["grids"] == [cut[0]]
    assert kinds["empty_beat"]["beat"] == "B-EMPTY"
    assert kinds["beat_not_contiguous"]["beat"] == cut[1]
    assert kinds["before_plan_in_force"]["plan_in_force"] == IN_FORCE
    assert get(planning, code)["status"] == "draft"
    # a planner may not publish at all
    planner = planning.planner.post(
        f"/api/v1/plans/{code}/publish", json={"effective_from": "2027-01-01"}
    )
    assert planner.status_code == 403


def _snapshot(planning_db: str, table: str, column: str) -> dict[int, tuple[Any, ...]]:
    with psycopg.connect(planning_db) as conn:
        rows = conn.execute(
            f"SELECT e.id, e.{column}, e.grid_id, e.beat_id, p.code, b.code "
            f"FROM {table} e LEFT JOIN beat b ON b.id = e.beat_id "
            "LEFT JOIN beat_plan p ON p.id = b.plan_id"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_publication_answers_lookups_and_stamps_events_from_then(
    planning: Planning, planning_db: str, grid_graph: nx.Graph, reference, sample_plans
) -> None:
    """A draft with a few border grids moved, published from a moment in October 2026 (the
    sample's patrol fixes run through October): lookups at that moment and after answer the
    new beats, before it the old ones; incidents and fixes from then are stamped with the new
    plan's beats (only those rows); the new beats have their people from then."""
    made = draft(planning)
    code = made["code"]
    base = sample_plans[IN_FORCE]
    moves: dict[str, str] = {}
    current = dict(base)
    for grid, there in border_moves(grid_graph, current):
        if len(moves) == 3:
            break
        trial = {**current, grid: there}
        if grid not in moves and all(
            contiguous(grid_graph, g)
            for g in beats_of(trial).values()  # type: ignore[arg-type]
        ):
            moves[grid] = there
            current = trial
    assert len(moves) == 3
    assert move(planning, code, 1, moves).status_code == 200

    start = datetime.fromisoformat("2026-10-15T08:00:00+08:00")
    incidents = _snapshot(planning_db, "incident", "received_at")
    fixes = _snapshot(planning_db, "position_fix", "recorded_at")
    published = planning.leader.post(
        f"/api/v1/plans/{code}/publish",
        json={"effective_from": start.isoformat(), "version": 2},
    )
    assert published.status_code == 200, published.text
    done = published.json()
    assert done["previous"] == IN_FORCE and done["until"] is None and done["version"] == 3

    # events: from the start, the new plan's beat of their grid; before it, untouched
    for table, column, before, key in (
        ("incident", "received_at", incidents, "incidents"),
        ("position_fix", "recorded_at", fixes, "position_fixes"),
    ):
        after = _snapshot(planning_db, table, column)
        assert after.keys() == before.keys()
        changed = 0
        for id_, (at, grid, beat, plan, beat_code) in after.items():
            old = before[id_]
            if at < start or grid is None:
                assert (beat, plan) == (old[2], old[3]), (table, id_)
                continue
            assert plan == code, (table, id_)
            assert beat_code == current[_grid_code(planning_db, grid)], (table, id_)
            changed += 1
        assert done["restamped"][key] == changed
        assert changed > 0

    # lookups: at the start and after, the new beats; just before, the old ones
    grids = reference.grids.set_index("code")
    for grid, there in moves.items():
        point = grids.geometry[grid].representative_point()
        for at, plan, beat in (
            (start, code, there),
            (start + timedelta(days=30), code, there),
            (start - timedelta(seconds=1), IN_FORCE, base[grid]),
        ):
            answer = planning.planner.get(
                "/api/v1/lookup", params={"lon": point.x, "lat": point.y, "at": at.isoformat()}
            ).json()
            assert answer["plan"]["code"] == plan and answer["beat"]["code"] == beat, (grid, at)
            roles = {p["role"] for p in answer["people"]}
            assert "community_officer" in roles, (grid, at, answer["people"])

    # published: never changes again, and a second publication is refused
    again = planning.leader.post(
        f"/api/v1/plans/{code}/publish", json={"effective_from": "2027-01-01"}
    )
    assert again.status_code == 409
    listed = {p["code"]: p for p in planning.planner.get("/api/v1/plans").json()}
    assert listed[code]["in_force"] and listed[code]["status"] == "published"
    assert listed[code]["published_by"]


_GRID_CODES: dict[str, dict[int, str]] = {}


def _grid_code(planning_db: str, grid_id: int) -> str:
    if planning_db not in _GRID_CODES:
        with psycopg.connect(planning_db) as conn:
            _GRID_CODES[planning_db] = dict(conn.execute("SELECT id, code FROM grid").fetchall())
    return _GRID_CODES[planning_db][grid_id]
