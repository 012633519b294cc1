"""The sample's field history (issue 14, section 7), recomputed with pandas and geopandas from the
GeoPackage and compared with the loaded database and the service's answers: markers' and rental
houses' fields follow their latest inspection, check-ins' poles, the sweeps' progress, reports'
departments and the dusk patrol table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.db import connect
from geo_service.main import create_app
from geo_service.sample.world import END_OF_DATA
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database

NOW = pd.Timestamp(END_OF_DATA)


@dataclass
class Stage:
    """The database loaded from the sample, a leader's client, and the sample's layers."""

    url: str
    client: TestClient
    headers: dict[str, str]
    path: Path

    def sql(self, query: str, params: object = None) -> list[tuple]:
        with connect(self.url) as conn:
            return conn.execute(query, params).fetchall()

    def layer(self, name: str) -> pd.DataFrame:
        return pyogrio.read_dataframe(self.path, layer=name, read_geometry=False)


@pytest.fixture(scope="module")
def stage(sample_path: Path) -> Iterator[Stage]:
    with loaded_database("geo_fieldsample", sample_path) as url:
        token = make_user(url, Role.leader, name="fs_leader")
        with TestClient(create_app(Settings(database_url=url))) as client:
            yield Stage(url, client, bearer(token), sample_path)


def _times(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True)


def test_markers_and_rentals_follow_their_latest_inspection(stage: Stage) -> None:
    insp = stage.layer("inspection").assign(t=lambda f: _times(f.inspected_at))
    markers = insp[insp.kind == "water_marker"].sort_values(["t", "client_id"])
    latest = markers.drop_duplicates("code", keep="last").set_index("code")
    want_status = latest.result.replace({"replaced": "ok"})
    stored = pd.DataFrame(
        stage.sql("SELECT code, status, last_inspected_at FROM water_marker"),
        columns=["code", "status", "last"],
    ).set_index("code")
    inspected = stored[stored["last"].notna()]
    assert sorted(inspected.index) == sorted(latest.index)
    assert (inspected.status == want_status.loc[inspected.index]).all()
    assert (_times(inspected["last"]) == latest.t.loc[inspected.index]).all()
    # the GeoPackage's layer says the same
    layer = stage.layer("water_marker").set_index("code")
    assert (layer.status.loc[latest.index] == want_status).all()
    assert (_times(layer.last_inspected_at.loc[latest.index]) == latest.t).all()
    assert layer.last_inspected_at.drop(latest.index).isna().all()
    # rental houses: the last fire-safety check is the latest inspection
    rentals = insp[insp.kind == "rental_house"].groupby("code").t.max()
    checked = pd.DataFrame(
        stage.sql(
            "SELECT code, last_fire_check_at FROM rental_house WHERE last_fire_check_at IS NOT NULL"
        ),
        columns=["code", "last"],
    ).set_index("code")
    assert sorted(checked.index) == sorted(rentals.index)
    assert (_times(checked["last"]) == rentals.loc[checked.index]).all()
    # a failed check says what to fix by when; fire-safety items on every check
    fire = insp[insp.kind == "rental_house"]
    failed = fire[fire.result == "fail"]
    assert len(failed) and failed.fix_what.notna().all() and failed.fix_by.notna().all()
    assert fire["items"].str.contains("ebike_indoor_charging").all()
    assert set(fire.result) == {"pass", "fail"}


def test_most_markers_were_inspected_within_90_days_some_poles_were_replaced(
    stage: Stage,
) -> None:
    last = pd.DataFrame(stage.sql("SELECT last_inspected_at FROM water_marker"), columns=["t"])
    age = NOW - _times(last.t)
    within = (age <= pd.Timedelta(days=90)).mean()
    overdue = (age > pd.Timedelta(days=90)).sum()
    assert 0.7 < within < 0.97 and overdue > 0
    insp = stage.layer("inspection")
    poles = insp[insp.kind == "water_marker"].sort_values("inspected_at")
    replaced = poles[poles.result == "replaced"]
    assert len(replaced)
    found_missing_before = 0
    for code, when in zip(replaced.code, replaced.inspected_at, strict=True):
        before = poles[(poles.code == code) & (poles.inspected_at < when)]
        found_missing_before += bool((before.result == "missing").any())
    assert found_missing_before == len(replaced)


def test_every_check_in_sees_poles_of_its_own_water(stage: Stage) -> None:
    insp = stage.layer("inspection")
    markers = stage.layer("water_marker").set_index("code")
    check_ins = insp[insp.kind == "water_body"].set_index("client_id")
    seen = insp[insp.check_in_client_id.notna()]
    assert len(seen) > 0 and (seen.kind == "water_marker").all()
    water_of_check_in = check_ins.code.loc[seen.check_in_client_id].to_numpy()
    assert (markers.water_body_code.loc[seen.code].to_numpy() == water_of_check_in).all()
    assert (markers.kind.loc[seen.code] == "rescue_pole").all()
    assert (
        check_ins.inspected_at.loc[seen.check_in_client_id].to_numpy() == seen.inspected_at
    ).all()
    # stored: every pole tied to its check-in, the check-in's water the pole's
    rows = stage.sql(
        """SELECT count(*), count(*) FILTER (WHERE m.water_body_id = c.thing_id)
           FROM inspection i JOIN inspection c ON c.id = i.check_in_id
           JOIN water_marker m ON m.id = i.thing_id"""
    )
    assert rows[0] == (len(seen), len(seen))


def test_inspectors_are_assigned_to_the_place_then(stage: Stage) -> None:
    """Grid workers inspect things of their grids; volunteers walk waters of their villages."""
    rows = stage.sql(
        """WITH placed AS (  -- what the inspector must cover, and in which role
               SELECT i.kind, i.check_in_id IS NOT NULL AS check_in, i.person_id,
                      i.inspected_at,
                      CASE WHEN i.kind = 'water_body' THEN 'volunteer'
                           WHEN i.check_in_id IS NOT NULL THEN 'volunteer'
                           ELSE 'grid_worker' END AS role,
                      CASE WHEN i.kind = 'water_body' THEN w.geom
                           WHEN i.check_in_id IS NOT NULL THEN cw.geom
                           WHEN i.kind = 'water_marker' THEN m.geom
                           ELSE r.geom END AS geom
               FROM inspection i
               LEFT JOIN water_body w ON i.kind = 'water_body' AND w.id = i.thing_id
               LEFT JOIN inspection c ON c.id = i.check_in_id
               LEFT JOIN water_body cw ON cw.id = c.thing_id
               LEFT JOIN water_marker m ON i.kind = 'water_marker' AND m.id = i.thing_id
               LEFT JOIN rental_house r ON i.kind = 'rental_house' AND r.id = i.thing_id)
           SELECT p.kind, p.check_in, count(*), count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM assignment a
               LEFT JOIN grid g ON g.id = a.grid_id
               LEFT JOIN village v ON v.id = a.village_id
               WHERE a.person_id = p.person_id AND a.role = p.role
                 AND a.validity @> p.inspected_at
                 AND ST_Intersects(coalesce(g.geom, v.geom), p.geom)))
           FROM placed p GROUP BY 1, 2 ORDER BY 1, 2"""
    )
    assert {(kind, check_in) for kind, check_in, _, _ in rows} == {
        ("rental_house", False),
        ("water_body", False),
        ("water_marker", False),
        ("water_marker", True),
    }
    for kind, check_in, n, covered in rows:
        assert n > 0 and covered == n, (kind, check_in)


def _grid_of(stage: Stage, kind: str) -> pd.DataFrame:
    """Each thing's grid by the boundary rule (the lowest code of the grids holding it)."""
    things = gpd.read_file(stage.path, layer=kind)[["code", "geometry"]]
    grids = gpd.read_file(stage.path, layer="grid")[["code", "geometry"]]
    pairs = things.sjoin(grids.rename(columns={"code": "grid"}), predicate="intersects")
    return pairs.groupby("code")["grid"].min().reset_index().assign(kind=kind)


def _expected(stage: Stage, name: str) -> tuple[pd.DataFrame, pd.Series]:
    sweeps = stage.layer("sweep").set_index("name")
    grids = stage.layer("sweep_grid")
    mine = set(grids[grids.sweep_name == name].grid_code)
    kinds = sweeps.target_kinds.loc[name].split(",")
    targets = pd.concat([_grid_of(stage, k) for k in kinds])
    targets = targets[targets.grid.isin(mine)]
    start, end = (
        _times(sweeps.starts_at.loc[[name]]).iloc[0],
        _times(sweeps.ends_at[[name]]).iloc[0],
    )
    insp = stage.layer("inspection").assign(t=lambda f: _times(f.inspected_at))
    within = insp[(insp.t >= start) & (insp.t < end)]
    done = targets.merge(
        within[["kind", "code"]].drop_duplicates(), on=["kind", "code"], how="left", indicator=True
    )
    done["done"] = done.pop("_merge") == "both"
    return done, sweeps.loc[name]


def test_the_finished_sweep_as_the_service_reports_it(stage: Stage) -> None:
    sweeps = stage.client.get("/api/v1/sweeps", headers=stage.headers).json()
    assert len(sweeps) == 2
    finished = [s for s in sweeps if s["status"] == "finished"]
    assert len(finished) == 1
    expected, _ = _expected(stage, finished[0]["name"])
    answer = stage.client.get(f"/api/v1/sweeps/{finished[0]['id']}", headers=stage.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["sweep"]["targets"], body["sweep"]["done"]) == (
        len(expected),
        int(expected.done.sum()),
    )
    assert 0.8 < expected.done.mean() < 1.0  # most done, some overdue
    by_grid = {g["grid"]: (g["targets"], g["done"], g["overdue"]) for g in body["by_grid"]}
    for grid, part in expected.groupby("grid"):
        n, d = len(part), int(part.done.sum())
        assert by_grid.pop(grid) == (n, d, n - d)
    assert all(t == 0 for t, _, _ in by_grid.values())  # grids without targets
    shown = {
        (f["properties"]["kind"], f["properties"]["code"]): f["properties"]["done"]
        for f in body["map"]["features"]
    }
    assert shown == dict(
        zip(zip(expected.kind, expected.code, strict=True), expected.done, strict=True)
    )


def test_the_open_sweep_is_partly_done_at_the_samples_moment(stage: Stage) -> None:
    at = (NOW + timedelta(hours=1)).isoformat()
    sweeps = stage.client.get("/api/v1/sweeps", params={"at": at}, headers=stage.headers).json()
    open_ = [s for s in sweeps if s["status"] == "open"]
    assert len(open_) == 1
    expected, _ = _expected(stage, open_[0]["name"])
    assert (open_[0]["targets"], open_[0]["done"]) == (len(expected), int(expected.done.sum()))
    assert 0 < open_[0]["done"] < open_[0]["targets"]


def test_reports_go_to_their_categorys_department(stage: Stage) -> None:
    categories = dict(
        stage.sql(
            "SELECT c.code, d.code FROM report_category c "
            "JOIN department d ON d.id = c.department_id"
        )
    )
    stored = stage.sql(
        """SELECT r.client_id::text, r.category, d.code, r.status FROM report r
           JOIN department d ON d.id = r.department_id"""
    )
    assert len(stored) == len(stage.layer("report")) > 0
    assert all(dept == categories[cat] for _, cat, dept, _ in stored)
    steps = stage.layer("report_step")
    reports = stage.layer("report").set_index("client_id")
    route = steps[steps.kind == "route"].set_index("report_client_id")
    assert sorted(route.index) == sorted(reports.index)
    assert (route.department == reports.category.loc[route.index].map(categories)).all()
    # the status follows the steps
    last = (
        steps[steps.kind != "route"]
        .sort_values("at")
        .drop_duplicates("report_client_id", keep="last")
    )
    status = pd.Series("open", index=reports.index)
    status.loc[last.report_client_id] = last.kind.map(
        {"accept": "accepted", "close": "closed"}
    ).to_numpy()
    assert {c: s for c, _, _, s in stored} == status.to_dict()
    assert set(status) == {"open", "accepted", "closed"}


def test_the_dusk_patrol_table_of_the_summer(stage: Stage) -> None:
    answer = stage.client.get(
        "/api/v1/water/patrols", params={"year": END_OF_DATA.year}, headers=stage.headers
    )
    assert answer.status_code == 200
    body = answer.json()
    marked = set(stage.layer("patrol_water").water_body_code)
    insp = stage.layer("inspection")
    walks = insp[(insp.kind == "water_body") & insp.code.isin(marked)].copy()
    local = _times(walks.inspected_at).dt.tz_convert("Asia/Shanghai")
    walks = walks[local.dt.hour >= 16].assign(day=local.dt.date.astype(str))
    counts = walks.groupby(["day", "code"]).size()
    days = pd.date_range(f"{END_OF_DATA.year}-06-01", f"{END_OF_DATA.year}-08-31").date.astype(str)
    assert [d["date"] for d in body["days"]] == list(days)
    total = 0
    for day in body["days"]:
        walked = {w["code"]: w["check_ins"] for w in day["walked"]}
        want = counts.xs(day["date"]).to_dict() if day["date"] in counts.index else {}
        assert walked == want, day["date"]
        assert set(day["not_walked"]) == marked - set(want)
        total += len(want)
    assert body["totals"] == {"water_days": len(days) * len(marked), "walked": total}
    assert 0.4 < total / (len(days) * len(marked)) < 0.8
