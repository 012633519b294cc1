"""Department accounts (issue 14, 5, 部门报到): each department's user sees exactly the reports
routed to it (recomputed with pandas from the report and report_category tables, over random
reports of every category), reads their photos and records the department's steps as itself;
another department's report is 404; nothing that names people or calls is theirs. The accounts
command line and the admin API refuse a department account without a known department."""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import orjson
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser, Page, Response
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from shapely import wkb
from shapely.geometry import Point
from typer.testing import CliRunner, Result

from geo_service.accounts.credentials import secret_hash
from geo_service.accounts.roles import Role
from geo_service.cli import app as cli
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.browser import not_blank, served, shoot, sign_in
from tests.cast import Member
from tests.conftest import loaded_database

RANDOM_REPORTS = 160
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
PHONE = {"width": 360, "height": 740}
# What a department user reads of the station's data, and nothing else (the accounts' own tables
# are the service's, read by app_enter and the sign-in).
THEIRS = {"report", "report_step", "report_photo", "department", "report_category",
          "layer_report", "layer_report_step"}  # fmt: skip
ALWAYS = {"basemap_version", "grid_cell_state", "incident_kpi_rule", "spatial_ref_sys",
          "geometry_columns", "geography_columns", "app_user", "user_session",
          "api_token"}  # fmt: skip


@dataclass
class Stage:
    """The app, one user of each department (token by department code), a leader, a grid
    worker and an admin, and the random reports added."""

    client: TestClient
    url: str
    departments: dict[str, str]  # code -> token
    names: dict[str, str]  # code -> user name
    leader: str
    worker: str
    admin: str

    def as_(self, department: str) -> dict[str, str]:
        return bearer(self.departments[department])

    def sql(self, query: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(query, params).fetchall()

    def frame(self, query: str, params: tuple[Any, ...] | None = None) -> pd.DataFrame:
        with psycopg.connect(self.url) as conn:
            cur = conn.execute(query, params)
            columns = [c.name for c in cur.description or ()]
            return pd.DataFrame(cur.fetchall(), columns=columns)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 8, 7)).save(out, "PNG")
    return out.getvalue()


def _add_random_reports(url: str, n: int) -> None:
    """n reports as the operator: random categories, grids, reporters, statuses and times, a
    photo on some, routed as field_report routes them (the category's department)."""
    rng = np.random.default_rng(1414)
    photo = _png()
    with psycopg.connect(url) as conn:
        categories = [r[0] for r in conn.execute("SELECT code FROM report_category ORDER BY 1")]
        grids = [r[0] for r in conn.execute("SELECT code FROM grid ORDER BY 1")]
        now = datetime.now(UTC)
        for _ in range(n):
            row = conn.execute(
                """INSERT INTO report (client_id, category, department_id, status, note, geom,
                                       grid_id, village_id, reporter, reported_at, photos)
                   SELECT %s, c.code, c.department_id, %s, 'random report',
                          ST_PointOnSurface(g.geom), g.id, g.village_id, %s, %s, %s
                   FROM report_category c, grid g WHERE c.code = %s AND g.code = %s
                   RETURNING id""",
                (
                    uuid.uuid4(),
                    str(rng.choice(["open", "open", "accepted", "closed"])),
                    f"reporter_{int(rng.integers(0, 9))}",
                    now - timedelta(hours=float(rng.uniform(1, 24 * 60))),
                    int(has_photo := bool(rng.random() < 0.3)),
                    str(rng.choice(categories)),
                    str(rng.choice(grids)),
                ),
            ).fetchone()
            assert row
            if has_photo:
                conn.execute(
                    """INSERT INTO report_photo (report_id, n, media_type, width, height,
                                                 sha256, bytes)
                       VALUES (%s, 1, 'image/png', 8, 8, %s, %s)""",
                    (row[0], hashlib.sha256(photo).digest(), photo),
                )


@pytest.fixture(scope="module")
def stage(sample_path: Path) -> Iterator[Stage]:
    with loaded_database("geo_dept", sample_path) as url:
        _add_random_reports(url, RANDOM_REPORTS)
        with psycopg.connect(url) as conn:
            codes = [r[0] for r in conn.execute("SELECT code FROM department ORDER BY id")]
        names = {code: f"dept_{code}" for code in codes}
        tokens = {
            code: make_user(url, Role.department, name=names[code], department=code)
            for code in codes
        }
        with TestClient(create_app(Settings(database_url=url))) as client:
            yield Stage(
                client=client,
                url=url,
                departments=tokens,
                names=names,
                leader=make_user(url, Role.leader),
                worker=make_user(url, Role.grid_worker),
                admin=make_user(url, Role.admin),
            )


def routed(stage: Stage) -> pd.DataFrame:
    """Every report with the department its category routes it to, by pandas from the tables."""
    reports = stage.frame("SELECT id, category, status, photos FROM report")
    categories = stage.frame("SELECT code AS category, department_id FROM report_category")
    departments = stage.frame("SELECT id AS department_id, code AS department FROM department")
    return reports.merge(categories, on="category").merge(departments, on="department_id")


def places(stage: Stage, kind: str) -> list[tuple[str, str, Any]]:
    """Every grid or village (code, name, shape), read as the owner."""
    rows = stage.sql(f"SELECT code, name, ST_AsBinary(geom) FROM {kind} ORDER BY code")
    return [(code, name, wkb.loads(bytes(geom))) for code, name, geom in rows]


def place_of(stage: Stage, rids: list[int]) -> dict[int, tuple[str, str]]:
    """The village and grid names of each report, by shapely: the grid and village whose shape
    holds the report's point (the random reports lie inside their grid)."""
    grids, villages = places(stage, "grid"), places(stage, "village")
    answer = {}
    for rid, lon, lat in stage.sql(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM report WHERE id = ANY (%s)", (rids,)
    ):
        point = Point(lon, lat)
        (grid,) = [name for _, name, shape in grids if shape.covers(point)]
        (village,) = [name for _, name, shape in villages if shape.covers(point)]
        answer[rid] = (village, grid)
    return answer


def report_ids(reply: Any) -> set[int]:
    assert reply.status_code == 200, reply.text[:300]
    return {r["id"] for r in reply.json()}


# ------------------------------------------------------------------------------------ reading


def test_each_department_sees_exactly_its_reports(stage: Stage) -> None:
    expected = routed(stage)
    assert len(expected) >= RANDOM_REPORTS
    assert expected["department"].nunique() == len(stage.departments)  # every one has some
    for code in stage.departments:
        theirs = expected[expected["department"] == code]
        assert 0 < len(theirs) < 1000
        got = stage.client.get("/api/v1/reports", params={"limit": 1000}, headers=stage.as_(code))
        assert report_ids(got) == set(theirs["id"]), code
        assert {r["department"]["code"] for r in got.json()} == {code}
        for status in ("open", "accepted", "closed"):
            part = stage.client.get(
                "/api/v1/reports",
                params={"limit": 1000, "status": status},
                headers=stage.as_(code),
            )
            assert report_ids(part) == set(theirs.loc[theirs["status"] == status, "id"])
        # asking for another department's reports answers none of them
        other = next(c for c in stage.departments if c != code)
        asked = stage.client.get(
            "/api/v1/reports", params={"department": other}, headers=stage.as_(code)
        )
        assert report_ids(asked) == set()
    # the leader still sees them all
    everyone = stage.client.get(
        "/api/v1/reports", params={"limit": 1000}, headers=bearer(stage.leader)
    )
    assert len(expected) >= 1000 or report_ids(everyone) == set(expected["id"])


def test_a_department_reads_its_reports_and_photos_not_anothers(stage: Stage) -> None:
    expected = routed(stage)
    with_photo = expected[expected["photos"] > 0]
    for code in stage.departments:
        mine = with_photo[with_photo["department"] == code]
        others = with_photo[with_photo["department"] != code]
        assert len(others)
        if len(mine):
            rid = int(mine["id"].iloc[0])
            one = stage.client.get(f"/api/v1/reports/{rid}", headers=stage.as_(code))
            assert one.status_code == 200 and one.json()["department"]["code"] == code
            photo = stage.client.get(one.json()["photos"][0]["url"], headers=stage.as_(code))
            assert photo.status_code == 200 and photo.content == _png()
        rid = int(others["id"].iloc[0])
        for path in (f"/api/v1/reports/{rid}", f"/api/v1/reports/{rid}/photos/1"):
            hidden = stage.client.get(path, headers=stage.as_(code))
            assert hidden.status_code == 404, (path, hidden.text[:200])
            assert hidden.headers["content-type"].startswith("application/problem+json")
    assert (with_photo["department"].value_counts() > 0).sum() > 1


# ------------------------------------------------------------------------------------ steps


def test_a_department_reads_where_its_reports_are(stage: Stage) -> None:
    """A department user reads no grid or village row (row-level security test below), yet
    each report of theirs names its grid and village (codes and names), as shapely places its
    point among the owner's grids and villages."""
    expected = routed(stage)
    rng = np.random.default_rng(145)
    for code in ("town_water", "town_safety", "response_team"):
        theirs = expected.loc[expected["department"] == code, "id"].tolist()
        picked = [int(x) for x in rng.choice(theirs, size=min(6, len(theirs)), replace=False)]
        where = place_of(stage, picked)
        for rid in picked:
            got = stage.client.get(f"/api/v1/reports/{rid}", headers=stage.as_(code)).json()
            assert (got["village_name"], got["grid_name"]) == where[rid], rid
            (grid,) = [c for c, n, _ in places(stage, "grid") if n == got["grid_name"]]
            assert got["grid"] == grid


def test_a_department_steps_its_reports_as_itself_and_not_anothers(stage: Stage) -> None:
    expected = routed(stage)
    opened = expected[expected["status"] == "open"]
    for code in stage.departments:
        mine = opened[opened["department"] == code]
        other = opened[opened["department"] != code]
        assert len(mine) and len(other), code
        rid = int(mine["id"].iloc[0])
        url = f"/api/v1/reports/{rid}/steps"
        accepted = stage.client.post(url, json={"kind": "accept"}, headers=stage.as_(code))
        assert accepted.status_code == 200, accepted.text[:300]
        assert accepted.json()["status"] == "accepted"
        closed = stage.client.post(
            url, json={"kind": "close", "note": "done on site"}, headers=stage.as_(code)
        )
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        steps = stage.sql(
            """SELECT s.kind, s.actor, d.code, s.note FROM report_step s
               LEFT JOIN department d ON d.id = s.department_id
               WHERE s.report_id = %s AND s.kind <> 'route' ORDER BY s.id""",
            (rid,),
        )
        name = stage.names[code]
        assert steps == [("accept", name, code, None), ("close", name, code, "done on site")]
        assert [s["actor"] for s in closed.json()["steps"][-2:]] == [name, name]
        audited = stage.sql(
            "SELECT actor, role FROM audit_event WHERE subject = %s AND action = 'report_step'",
            (f"report {rid}",),
        )
        assert audited == [(name, "department")] * 2
        # another department's open report: 404, and nothing of it changed
        theirs = int(other["id"].iloc[0])
        before = stage.sql(
            "SELECT (SELECT status FROM report WHERE id = %s), "
            "(SELECT count(*) FROM report_step WHERE report_id = %s)",
            (theirs, theirs),
        )
        for kind in ("accept", "close", "note"):
            refused = stage.client.post(
                f"/api/v1/reports/{theirs}/steps",
                json={"kind": kind, "note": "not ours"},
                headers=stage.as_(code),
            )
            assert refused.status_code == 404, refused.text[:300]
            assert refused.json()["parameter"] == "report_id"
        after = stage.sql(
            "SELECT (SELECT status FROM report WHERE id = %s), "
            "(SELECT count(*) FROM report_step WHERE report_id = %s)",
            (theirs, theirs),
        )
        assert after == before
        opened = opened[opened["id"] != rid]


def _step(
    stage: Stage, code: str, rid: int, kind: str, client_id: uuid.UUID | None, note: str | None
) -> Any:
    body: dict[str, Any] = {"kind": kind, "note": note}
    if client_id is not None:
        body["client_id"] = str(client_id)
    return stage.client.post(f"/api/v1/reports/{rid}/steps", json=body, headers=stage.as_(code))


def _steps_of(stage: Stage, rid: int) -> pd.DataFrame:
    return stage.frame(
        "SELECT id, kind, note, client_id FROM report_step "
        "WHERE report_id = %s AND kind <> 'route' ORDER BY id",
        (rid,),
    )


def test_a_resent_step_is_stored_once(stage: Stage) -> None:
    """accept, note and close each sent twice with one client_id: one step row each, the second
    answer the report as the first left it; the accept sent again after the close still
    answers 200 (the report as it is now, closed) and stores nothing; the audit says which
    was stored."""
    code = "town_water"
    rid = min(_open_of(stage, code))
    sent: dict[str, uuid.UUID] = {}
    for kind, note in (("accept", None), ("note", "on the way"), ("close", "fixed the rail")):
        sent[kind] = uuid.uuid4()
        first = _step(stage, code, rid, kind, sent[kind], note)
        again = _step(stage, code, rid, kind, sent[kind], note)
        assert first.status_code == 200, first.text[:300]
        assert again.status_code == 200, again.text[:300]
        assert again.json() == first.json()
        steps = _steps_of(stage, rid)
        assert (steps["client_id"] == sent[kind]).sum() == 1, kind
    late = _step(stage, code, rid, "accept", sent["accept"], None)
    assert late.status_code == 200 and late.json()["status"] == "closed"
    steps = _steps_of(stage, rid)
    assert list(steps["kind"]) == ["accept", "note", "close"]
    assert list(steps["client_id"]) == [sent["accept"], sent["note"], sent["close"]]
    assert [s["kind"] for s in late.json()["steps"]] == ["route", "accept", "note", "close"]
    # without a client_id, a step that no longer fits is refused as before
    refused = _step(stage, code, rid, "accept", None, None)
    assert refused.status_code == 409 and refused.json()["parameter"] == "kind"
    audited = stage.frame(
        "SELECT detail ->> 'step' AS step, (detail ->> 'created')::boolean AS created "
        "FROM audit_event WHERE action = 'report_step' AND subject = %s ORDER BY seq",
        (f"report {rid}",),
    )
    assert list(audited.itertuples(index=False, name=None)) == [
        ("accept", True), ("accept", False), ("note", True), ("note", False),
        ("close", True), ("close", False), ("accept", False),
    ]  # fmt: skip


def test_a_client_id_of_another_reports_step_is_refused(stage: Stage) -> None:
    code = "station"
    first, other = sorted(_open_of(stage, code))[:2]
    client_id = uuid.uuid4()
    assert _step(stage, code, first, "note", client_id, "seen").status_code == 200
    before = _steps_of(stage, other), stage.sql("SELECT status FROM report WHERE id = %s", (other,))
    for kind in ("accept", "note", "close"):
        clash = _step(stage, code, other, kind, client_id, "again")
        assert clash.status_code == 409, clash.text[:300]
        assert clash.headers["content-type"].startswith("application/problem+json")
        assert clash.json()["parameter"] == "client_id"
        assert str(client_id) in clash.json()["detail"]
    after = _steps_of(stage, other), stage.sql("SELECT status FROM report WHERE id = %s", (other,))
    assert after[0].equals(before[0]) and after[1] == before[1]
    assert (_steps_of(stage, first)["client_id"] == client_id).sum() == 1


def test_steps_sent_again_at_random_are_counted_once(stage: Stage) -> None:
    """A department's open and accepted reports, random steps with a fresh client_id and random
    resends of earlier ones (a lost answer, in any order): every answer is the one the report's
    state machine gives (recomputed here), and pandas recounts one stored step per client_id
    that was accepted the first time it was sent, per report, and the reports' statuses."""
    rng = np.random.default_rng(1414_5)
    code = "town_urban"
    reports = routed(stage)
    mine = reports[(reports["department"] == code) & (reports["status"] != "closed")]
    chosen = mine.sample(n=min(6, len(mine)), random_state=5)
    assert len(chosen) >= 3
    status = dict(zip(chosen["id"].astype(int), chosen["status"], strict=True))
    before = {rid: len(_steps_of(stage, rid)) for rid in status}
    sends: list[tuple[int, str, uuid.UUID]] = []  # (report, kind, client_id) first sent
    stored: list[tuple[int, uuid.UUID]] = []
    for _ in range(90):
        if sends and rng.random() < 0.45:  # a resend of an earlier step, answer lost
            rid, kind, client_id = sends[int(rng.integers(len(sends)))]
        else:
            rid = int(rng.choice(list(status)))
            kind = str(rng.choice(["accept", "note", "close", "note"]))
            client_id = uuid.uuid4()
            sends.append((rid, kind, client_id))
        was_stored = (rid, client_id) in stored
        fits = (
            kind == "note"
            or (kind == "accept" and status[rid] == "open")
            or (kind == "close" and status[rid] in ("open", "accepted"))
        )
        reply = _step(stage, code, rid, kind, client_id, "step")
        if was_stored or fits:
            assert reply.status_code == 200, reply.text[:300]
            if not was_stored:
                stored.append((rid, client_id))
                status[rid] = {"accept": "accepted", "close": "closed"}.get(kind, status[rid])
            assert reply.json()["status"] == status[rid]
        else:
            assert reply.status_code == 409 and reply.json()["parameter"] == "kind"
    assert len(sends) < 90  # some were sent again
    ids = list(status)
    steps = stage.frame(
        "SELECT report_id, client_id FROM report_step "
        "WHERE report_id = ANY(%s) AND kind <> 'route'",
        (ids,),
    )
    counted = steps.groupby("report_id").size().reindex(ids, fill_value=0)
    expected = pd.Series([r for r, _ in stored]).value_counts().reindex(ids, fill_value=0)
    assert (counted - pd.Series(before)).to_dict() == expected.to_dict()
    assert steps["client_id"].dropna().is_unique
    assert set(steps["client_id"].dropna()) == {c for _, c in stored}
    now = stage.frame("SELECT id, status FROM report WHERE id = ANY(%s)", (ids,))
    assert dict(zip(now["id"], now["status"], strict=True)) == status


def test_a_department_users_account_page_names_their_department(stage: Stage) -> None:
    page = stage.client.get("/account", params={"lang": "en"}, headers=stage.as_("town_water"))
    assert page.status_code == 200
    assert "<code>town_water</code>" in page.text and "镇水利站" in page.text


def test_a_department_makes_no_report(stage: Stage) -> None:
    body = {
        "client_id": str(uuid.uuid4()),
        "category": "help",
        "note": "x",
        "reported_at": datetime.now(UTC).isoformat(),
        "lon": 120.34,
        "lat": 29.86,
    }
    reply = stage.client.post(
        "/api/v1/reports",
        data={"report": orjson.dumps(body).decode()},
        headers=stage.as_("response_team"),
    )
    assert reply.status_code == 403
    assert "department response_team" in reply.json()["areas"]


# ------------------------------------------------------------------- nothing else of the station


def test_a_department_reads_no_incident_person_or_layer(stage: Stage) -> None:
    person, grid = stage.sql(
        """SELECT (SELECT code FROM person ORDER BY code LIMIT 1),
                  (SELECT code FROM grid ORDER BY code LIMIT 1)"""
    )[0]
    paths = [
        "/api/v1/incidents/heatmap",
        "/api/v1/incidents/hourly",
        f"/api/v1/people/{person}/coverage",
        f"/api/v1/areas/grid/{grid}",
        "/api/v1/lookup?lon=120.34&lat=29.86",
        "/api/v1/layers/person.geojson",
        "/api/v1/layers/incident.geojson",
        "/api/v1/me",
        "/api/v1/overview/layers",
        "/ogc/collections",
        "/api/v1/stream",
        "/maps/overview",
    ]
    for code in stage.departments:
        for path in paths:
            reply = stage.client.get(path, headers=stage.as_(code))
            assert reply.status_code == 403, (code, path, reply.status_code)
            assert f"department {code}" in reply.json()["areas"], reply.json()


def _service_url(url: str) -> str:
    params = conninfo_to_dict(url)
    params["user"] = "geo_service_app"
    params.pop("password", None)
    return make_conninfo("", **params)


def test_row_level_security_gives_a_department_its_reports_only(stage: Stage) -> None:
    """As the service's role, signed in by app_enter with the department user's token: every
    table and view of the station is empty but the department's reports, their steps and
    photos, and the departments and categories (the choices of a form)."""
    expected = routed(stage)
    code = "town_water"
    token = stage.departments[code]
    with psycopg.connect(_service_url(stage.url)) as conn:
        entered = conn.execute(
            "SELECT role, scope, areas FROM app_enter('token', %s, '1 hour', '1 day')",
            (secret_hash(token),),
        ).fetchone()
        assert entered is not None
        role, scope, areas = entered
        assert (role, scope) == ("department", "areas")
        assert [(a["kind"], a["code"]) for a in areas] == [("department", code)]
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                "AND c.relkind IN ('r', 'v') AND has_table_privilege(c.oid, 'SELECT')"
            ).fetchall()
        ]
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        seen = {r[0] for r in conn.execute("SELECT id FROM report")}
        photos = {r[0] for r in conn.execute("SELECT report_id FROM report_photo")}
        # the place read as the owner: only of a report they see
        mine = int(expected.loc[expected["department"] == code, "id"].iloc[0])
        other = int(expected.loc[expected["department"] != code, "id"].iloc[0])
        placed = {
            rid: conn.execute("SELECT field_report_place(%s)", (rid,)).fetchone()[0]
            for rid in (mine, other)
        }
        conn.rollback()
    assert placed[mine]["grid_name"] and placed[mine]["village_name"]
    assert placed[other] is None
    assert len(counts) >= 30
    assert {t for t, n in counts.items() if n} - ALWAYS <= THEIRS
    theirs = expected[expected["department"] == code]
    assert seen == set(theirs["id"])
    assert photos == set(theirs.loc[theirs["photos"] > 0, "id"])


# ----------------------------------------------------------------------------- making accounts


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url})


def test_the_command_line_needs_a_known_department(stage: Stage) -> None:
    codes = [r[0] for r in stage.sql("SELECT code FROM department ORDER BY id")]
    missing = run(stage.url, "user", "add", "d_cli", "--role", "department")
    assert missing.exit_code == 1
    assert missing.stderr == (
        f"error: A department account needs --department (a department code: {', '.join(codes)})\n"
    )
    unknown = run(stage.url, "user", "add", "d_cli", "--role", "department", "--department", "x")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: No department with code 'x'; the departments are")
    wrong = run(stage.url, "user", "add", "d_cli", "--role", "planner", "--department", "station")
    assert wrong.exit_code == 1
    assert wrong.stderr == "error: Only a department account names a department, not a planner\n"
    assert stage.sql("SELECT 1 FROM app_user WHERE name = 'd_cli'") == []
    added = run(
        stage.url, "user", "add", "d_cli", "--role", "department", "--department", "town_urban"
    )
    assert added.exit_code == 0, added.output
    assert "department town_urban" in added.stdout
    stored = stage.sql(
        "SELECT u.role, d.code, u.person_id FROM app_user u "
        "JOIN department d ON d.id = u.department_id WHERE u.name = 'd_cli'"
    )
    assert stored == [("department", "town_urban", None)]
    listed = run(stage.url, "user", "list")
    line = next(x for x in listed.stdout.splitlines() if x.startswith("d_cli "))
    assert "department town_urban" in line


def test_the_database_refuses_a_department_user_without_a_department(stage: Stage) -> None:
    with psycopg.connect(stage.url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO app_user (name, role, password_hash) VALUES ('d_sql', 'department', 'x')"
        )


def test_the_admin_api_needs_a_known_department(stage: Stage) -> None:
    admin = bearer(stage.admin)
    missing = stage.client.post(
        "/api/v1/users", json={"name": "d_api", "role": "department"}, headers=admin
    )
    assert missing.status_code == 422 and missing.json()["parameter"] == "department"
    assert "town_water" in missing.json()["detail"]
    unknown = stage.client.post(
        "/api/v1/users",
        json={"name": "d_api", "role": "department", "department": "nowhere"},
        headers=admin,
    )
    assert unknown.status_code == 404 and unknown.json()["parameter"] == "department"
    added = stage.client.post(
        "/api/v1/users",
        json={"name": "d_api", "role": "department", "department": "town_safety"},
        headers=admin,
    )
    assert added.status_code == 201, added.text
    assert added.json()["department"] == "town_safety" and added.json()["password"]
    users = stage.client.get("/api/v1/users", headers=admin).json()
    assert [u["department"] for u in users if u["name"] == "d_api"] == ["town_safety"]
    assert all(u["department"] is None for u in users if u["role"] != "department")


# ----------------------------------------------------------------------------- the page


def test_the_department_page_in_english_and_only_for_departments(stage: Stage) -> None:
    page = stage.client.get("/department", params={"lang": "en"}, headers=stage.as_("town_water"))
    assert page.status_code == 200
    assert "To accept" in page.text
    ((name, name_en),) = stage.sql("SELECT name, name_en FROM department WHERE code = 'town_water'")
    assert name_en in page.text and name not in page.text
    assert name in stage.client.get("/department", headers=stage.as_("town_water")).text
    assert stage.client.get("/department", headers=stage.as_("town_water")).text.count("待签收")
    refused = stage.client.get("/department", headers=bearer(stage.leader))
    assert refused.status_code == 403


WORDS = Path(__file__).parents[1] / "web_map" / "templates" / "department_words.json"
OUTBOX_ENTRIES = """() => new Promise((resolve, reject) => {
    const req = indexedDB.open("geo-department", 1);
    req.onsuccess = () => {
        const all = req.result.transaction("outbox").objectStore("outbox").getAll();
        all.onsuccess = () => resolve(all.result);
        all.onerror = () => reject(all.error);
    };
    req.onerror = () => reject(req.error);
})"""


def send_again(page: Page, entry: dict) -> Response:
    """Put an outbox entry back as the page keeps it and bring the network back: the answer
    to the step the page then sends."""
    path = f"/reports/{entry['report_id']}/steps"
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(path), timeout=30_000
    ) as sent:
        page.evaluate(PUT_BACK, entry)
        page.evaluate("window.dispatchEvent(new Event('online'))")
    return sent.value


NO_RANDOM_UUID = """() => {
    const randomUUID = Crypto.prototype.randomUUID;
    delete Crypto.prototype.randomUUID;
    try {
        return crypto.randomUUID ? [] : Array.from({ length: 50 }, () => Kept.uuid());
    } finally {
        Crypto.prototype.randomUUID = randomUUID;
    }
}"""
PUT_BACK = """(entry) => new Promise((resolve, reject) => {
    const req = indexedDB.open("geo-department", 1);
    req.onsuccess = () => {
        const tx = req.result.transaction("outbox", "readwrite");
        tx.objectStore("outbox").put(entry);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
    };
    req.onerror = () => reject(req.error);
})"""


def test_both_phone_pages_say_a_refusal_in_both_languages() -> None:
    """The outbox's sentence for each refused status (kept.js ``refusal``) is in the words of
    /department and /me, in Chinese and in English, and the Chinese one is Chinese."""
    for words_file in (WORDS, WORDS.with_name("me_words.json")):
        words = orjson.loads(words_file.read_bytes())
        for lang in ("zh", "en"):
            refused = words[lang]["refused"]
            assert set(refused) == {"403", "404", "409", "413", "422", "other"}, words_file
            assert all(refused.values())
        assert all(
            any("\u4e00" <= c <= "\u9fff" for c in v) for v in words["zh"]["refused"].values()
        )
        assert not any(
            any("\u4e00" <= c <= "\u9fff" for c in v) for v in words["en"]["refused"].values()
        )


def _open_of(stage: Stage, code: str) -> set[int]:
    expected = routed(stage)
    return set(
        expected.loc[(expected["department"] == code) & (expected["status"] == "open"), "id"]
    )


def _cards_say_where(stage: Stage, page: Page) -> None:
    """Each card of the page says "village · grid" of its report, as shapely places it."""
    texts = page.locator("ul.reports li[data-id]").evaluate_all(
        "(items) => items.map((i) => [i.dataset.id, i.querySelector('.where').innerText])"
    )
    assert texts
    where = place_of(stage, [int(rid) for rid, _ in texts])
    for rid, text in texts:
        village, grid = where[int(rid)]
        assert f"{village} · {grid}" in text, (rid, text)


def test_the_page_answers_offline_and_sends_when_online(stage: Stage, browser: Browser) -> None:
    """At a phone's size, with every other host unreachable: the department's open reports;
    with no network the page opens again from what it kept, an acceptance waits in the outbox
    across a reload, and lands once the network returns, with the department user as actor."""
    code = "town_safety"
    member = Member(Role.department, stage.names[code], stage.departments[code], None)
    with tempfile.TemporaryFile() as log, served(stage.url, log) as base:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                      locale="zh-CN")  # fmt: skip
        outside: list[str] = []
        errors: list[str] = []
        host = urlparse(base).netloc

        def route(r: Any) -> None:
            if urlparse(r.request.url).netloc == host:
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, base, member, "/department")
        page.wait_for_selector("body[data-kept='1']", timeout=30_000)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
        assert page.evaluate("document.body.dataset.loaded") == "fresh"
        wanted = _open_of(stage, code)
        assert wanted
        shown = {int(x) for x in page.locator("#open-list li[data-id]").evaluate_all(
            "(items) => items.map((i) => i.dataset.id)")}  # fmt: skip
        assert shown == wanted
        assert page.get_attribute("#open-count", "data-count") == str(len(wanted))
        assert "镇应急管理办" in page.inner_text("#department")
        _cards_say_where(stage, page)
        assert not_blank(shoot(page, "department_online"))

        # no network: accept the first open report; it waits, across a reload
        context.set_offline(True)
        first = page.locator("#open-list li[data-id]").first
        rid = int(first.get_attribute("data-id") or 0)
        first.locator("button.accept").click()
        page.wait_for_selector("#outbox[data-count='1']")
        page.reload()
        page.wait_for_selector("body[data-loaded='kept']", timeout=30_000)
        page.wait_for_selector("#outbox[data-count='1']")
        assert page.locator(f"#accepted-list li.pending[data-id='{rid}']").count() == 1
        assert not_blank(shoot(page, "department_offline"))
        assert stage.sql("SELECT status FROM report WHERE id = %s", (rid,)) == [("open",)]
        (entry,) = page.evaluate(OUTBOX_ENTRIES)  # kept to send again, as if the answer were lost
        assert str(uuid.UUID(entry["client_id"])) == entry["client_id"]
        # on a plain-http address (no crypto.randomUUID) the ids are random UUIDs all the same
        made = page.evaluate(NO_RANDOM_UUID)
        assert len(set(made)) == len(made) == 50
        assert {uuid.UUID(m).version for m in made} == {4}

        # the network returns: the acceptance lands once, by the department's user
        context.set_offline(False)
        page.wait_for_selector("#outbox[data-count='0']", state="attached", timeout=30_000)
        page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
        assert stage.sql("SELECT status FROM report WHERE id = %s", (rid,)) == [("accepted",)]
        steps = stage.sql(
            "SELECT kind, actor, client_id::text FROM report_step "
            "WHERE report_id = %s AND kind <> 'route'",
            (rid,),
        )
        assert steps == [("accept", member.name, entry["client_id"])]
        assert page.locator(f"#accepted-list li[data-id='{rid}']").count() == 1

        # its answer lost: the same acceptance sent again is 200, no error, still one step
        assert send_again(page, entry).status == 200
        page.wait_for_selector("#outbox[data-count='0']", state="attached", timeout=30_000)
        assert page.locator("#outbox.failed").count() == 0
        assert stage.sql(
            "SELECT count(*) FROM report_step WHERE report_id = %s AND kind = 'accept'", (rid,)
        ) == [(1,)]

        # a refused answer (a report that is not there) says why in the page's words, then
        # the server's detail: Chinese on the Chinese page, English on the English one
        assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []
        errors.clear()  # the browser logs the refused request below, on purpose
        words = orjson.loads(WORDS.read_bytes())
        missing = int(stage.sql("SELECT max(id) + 1000 FROM report")[0][0])
        lost = {**entry, "id": str(uuid.uuid4()), "client_id": str(uuid.uuid4()),
                "report_id": missing, "seq": entry["seq"] + 1}  # fmt: skip
        refused = send_again(page, lost)
        assert refused.status == 404
        detail = refused.json()["detail"]
        page.wait_for_selector("#outbox.failed", timeout=30_000)
        shown = page.inner_text("#outbox")
        assert (
            f"{words['zh']['outbox_failed']} 1: {words['zh']['refused']['404']}: {detail}" in shown
        )
        page.goto(f"{base}/department?lang=en")
        page.wait_for_selector("#outbox.failed", timeout=30_000)
        assert f"{words['en']['refused']['404']}: {detail}" in page.inner_text("#outbox")
        page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
        ((name_en,),) = stage.sql("SELECT name_en FROM department WHERE code = %s", (code,))
        assert page.inner_text("#department").strip() == name_en
        categories = page.locator("ul.reports li[data-id] .category").all_inner_texts()
        assert categories and not [c for c in categories if CJK.search(c)]
        _cards_say_where(stage, page)
        assert not_blank(shoot(page, "department_en"))
        context.close()
    assert outside == []
    assert errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
