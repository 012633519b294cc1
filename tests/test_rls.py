"""Row-level security and masked phones: plain SQL as the service's role (geo_service_app) in a
user's context sees exactly that user's rows, checked against shapely on the sample's GeoPackage;
writes are for planners and leaders; a grid worker asking outside their grids is refused."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo_service.db import connect
from geo_service.ingest.imports import import_layer
from geo_service.services.patrol import refresh_grid_cells
from geo_service.settings import REPO_ROOT, SERVICE_ROLE
from tests.conftest import loaded_database
from tests.reference import Reference

NOW = pd.Timestamp.now(tz="UTC")
MASKED = re.compile(r"^\d{3}\*{4}\d{4}$")
STATION_ROLES = ("leader", "command_room", "planner", "community_officer")
# Tables whose rows the service may never see in areas scope.
HIDDEN_IN_AREAS = ("import_run", "incident_staging", "position_fix_staging")
# What the service reads of each table in the checks: a key per row.
KEYS = {
    "station": "SELECT code FROM station",
    "village": "SELECT code FROM village",
    "grid": "SELECT code FROM grid",
    "beat_plan": "SELECT code FROM beat_plan",
    "beat": "SELECT id FROM beat",
    "beat_grid": "SELECT plan_id, grid_id, beat_id FROM beat_grid",
    "person": "SELECT code FROM person",
    "assignment": """SELECT person_id, role, area_kind, station_id, village_id, grid_id, beat_id,
                            valid_from FROM assignment""",
    "water_body": "SELECT code FROM water_body",
    "water_body_piece": "SELECT DISTINCT water_body_id FROM water_body_piece",
    "water_marker": "SELECT code FROM water_marker",
    "rental_house": "SELECT code FROM rental_house",
    "camera": "SELECT code FROM camera",
    "place": "SELECT code FROM place",
    "road": "SELECT code FROM road",
    "incident": "SELECT call_no FROM incident",
    "position_fix": "SELECT count(*) FROM position_fix",
    "grid_cell": "SELECT h3 FROM grid_cell",
    "grid_cell_state": "SELECT only_row FROM grid_cell_state",
    "basemap_version": "SELECT id FROM basemap_version",
    **{t: f"SELECT 1 FROM {t}" for t in HIDDEN_IN_AREAS},
}


def migration_tables() -> set[str]:
    """The tables the migrations before the accounts (001-011) make: the station's data."""
    names: set[str] = set()
    for path in sorted((REPO_ROOT / "sql" / "migrations").glob("0*.sql")):
        if int(path.name[:3]) < 12:
            text = path.read_text(encoding="utf-8")
            names |= set(re.findall(r"CREATE (?:UNLOGGED )?TABLE (\w+)", text))
    return names


# --- the database, the sample, and contexts ---------------------------------------------------


@pytest.fixture(scope="module")
def db(sample_path: Path) -> Iterator[str]:
    """The loaded sample, with the H3 cell cache filled (as the owner)."""
    with loaded_database("geo_rls", sample_path) as url:

        async def refresh() -> None:
            async with await psycopg.AsyncConnection.connect(url) as conn:
                await refresh_grid_cells(conn)

        asyncio.run(refresh())
        yield url


def service_url(url: str) -> str:
    """The same database as the service's own role."""
    params = conninfo_to_dict(url)
    params["user"] = SERVICE_ROLE
    params.pop("password", None)
    return make_conninfo("", **params)


@dataclass(frozen=True)
class Context:
    """A user's context as app_enter sets it (geo.* settings, transaction-local)."""

    role: str
    scope: str
    grids: tuple[int, ...] = ()
    villages: tuple[int, ...] = ()
    own_people: tuple[int, ...] = ()
    own_grids: tuple[int, ...] | None = None

    def settings(self) -> dict[str, str]:
        array = lambda ids: "{" + ",".join(map(str, sorted(ids))) + "}"  # noqa: E731
        out = {
            "geo.user_id": "1",
            "geo.user_name": f"t_{self.role}",
            "geo.role": self.role,
            "geo.scope": self.scope,
            "geo.grids": array(self.grids),
            "geo.villages": array(self.villages),
            "geo.own_people": array(self.own_people),
        }
        if self.own_grids is not None:
            out["geo.own_grids"] = array(self.own_grids)
        return out


@contextmanager
def service(url: str, context: Context | None) -> Iterator[psycopg.Connection]:
    """A connection as geo_service_app inside one transaction with the context set (none: no
    setting at all), rolled back at the end."""
    with psycopg.connect(service_url(url)) as conn:
        if context is not None:
            for name, value in context.settings().items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        try:
            yield conn
        finally:
            conn.rollback()


def rows(conn: psycopg.Connection, query: str, *params: object) -> Counter:
    """The rows of a query as a multiset (single columns unwrapped)."""
    found = conn.execute(query, params or None).fetchall()
    return Counter(r[0] if len(r) == 1 else r for r in found)


@dataclass
class Sample:
    """The sample's GeoPackage read with geopandas, and the database's ids of its codes."""

    path: Path
    ids: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        read = lambda name, **kw: gpd.read_file(self.path, layer=name, **kw)  # noqa: E731
        plain = lambda name: pyogrio.read_dataframe(  # noqa: E731
            self.path, layer=name, read_geometry=False
        )
        self.grid = read("grid").sort_values("code").reset_index(drop=True)
        self.village = read("village")
        self.geo = {n: read(n) for n in ("water_body", "water_marker", "rental_house", "camera")}
        self.geo |= {n: read(n) for n in ("place", "road")}
        self.person = plain("person")
        self.beat_grid = plain("beat_grid")
        plans = plain("beat_plan")
        self.published = set(plans.loc[plans["status"] == "published", "code"])
        live = plans[plans["status"] == "published"].copy()
        live["effective_from"] = pd.to_datetime(live["effective_from"], utc=True)
        self.plan_now = live[live["effective_from"] <= NOW].sort_values("effective_from")
        self.plan_now = self.plan_now.iloc[-1]["code"]
        a = plain("assignment")
        a["valid_from"] = pd.to_datetime(a["valid_from"], utc=True)
        a["valid_to"] = pd.to_datetime(a["valid_to"].replace("", None), utc=True)
        a["in_force"] = (a["valid_from"] <= NOW) & (a["valid_to"].isna() | (a["valid_to"] > NOW))
        self.assignment = a

    def load_ids(self, url: str) -> None:
        """Ids of codes, read as the owner (the database's own numbering)."""
        with connect(url) as conn:
            for table in ("grid", "village", "person", "water_body", "beat_plan", "station"):
                self.ids[table] = dict(conn.execute(f"SELECT code, id FROM {table}").fetchall())
            self.ids["beat"] = {
                (p, b): i
                for p, b, i in conn.execute(
                    "SELECT p.code, b.code, b.id FROM beat b JOIN beat_plan p ON p.id = b.plan_id"
                ).fetchall()
            }

    # -- the areas of people, as app_enter derives them (from the file, not the database) --

    def grids_of(self, person: str) -> set[str]:
        a = self.assignment
        mine = a[(a["person_code"] == person) & (a["role"] == "grid_worker") & a["in_force"]]
        return set(mine["area_code"])

    def villages_of_grids(self, grids: set[str]) -> set[str]:
        return set(self.grid.loc[self.grid["code"].isin(grids), "village_code"])

    def beats_holding(self, grids: set[str], plan: str | None = None) -> set[tuple[str, str]]:
        bg = self.beat_grid[self.beat_grid["grid_code"].isin(grids)]
        if plan is not None:
            bg = bg[bg["plan_code"] == plan]
        return set(zip(bg["plan_code"], bg["beat_code"], strict=True))

    def own_people(self, grids: set[str]) -> set[str]:
        """People with an assignment in force on the grids, their villages, the beats of the
        plan in force holding them, or the station."""
        a = self.assignment[self.assignment["in_force"]]
        villages = self.villages_of_grids(grids)
        beats = self.beats_holding(grids, self.plan_now)
        on = (
            ((a["area_kind"] == "grid") & a["area_code"].isin(grids))
            | ((a["area_kind"] == "village") & a["area_code"].isin(villages))
            | (a["area_kind"] == "station")
            | pd.Series(
                [
                    k == "beat" and (p, c) in beats
                    for k, p, c in zip(a["area_kind"], a["plan_code"], a["area_code"], strict=True)
                ],
                index=a.index,
            )
        )
        return set(a.loc[on, "person_code"]) if len(grids) else set()

    def volunteer_villages(self, person: str) -> set[str]:
        a = self.assignment
        mine = a[(a["person_code"] == person) & (a["role"] == "volunteer") & a["in_force"]]
        return set(mine["area_code"])

    def grid_worker(self, grids: set[str]) -> Context:
        villages = self.villages_of_grids(grids)
        return Context(
            "grid_worker",
            "areas",
            grids=tuple(self.ids["grid"][g] for g in grids),
            villages=tuple(self.ids["village"][v] for v in villages),
            own_people=tuple(self.ids["person"][p] for p in self.own_people(grids)),
        )

    def volunteer(self, person: str) -> Context:
        villages = self.volunteer_villages(person)
        return Context(
            "volunteer", "areas", villages=tuple(self.ids["village"][v] for v in villages)
        )

    def community_officer(self, person: str) -> tuple[Context, set[str]]:
        """The context of a community officer and their own grids (their beats' grids in the
        plan in force)."""
        a = self.assignment
        beats = a[(a["person_code"] == person) & (a["area_kind"] == "beat") & a["in_force"]]
        keys = set(zip(beats["plan_code"], beats["area_code"], strict=True))
        bg = self.beat_grid
        own = {
            g
            for p, b, g in zip(bg["plan_code"], bg["beat_code"], bg["grid_code"], strict=True)
            if p == self.plan_now and (p, b) in keys
        }
        ids = self.ids["grid"]
        context = Context(
            "community_officer",
            "station",
            own_people=tuple(self.ids["person"][p] for p in self.own_people(own)),
            own_grids=tuple(ids[g] for g in own),
        )
        return context, own


@pytest.fixture(scope="module")
def sample(sample_path: Path, db: str) -> Sample:
    s = Sample(sample_path)
    s.load_ids(db)
    return s


@pytest.fixture(scope="module")
def event_grids(sample_path: Path, grids: gpd.GeoDataFrame, reference: Reference) -> dict:
    """The grid (boundary rule, shapely) of every incident and position fix of the sample."""
    out = {}
    for layer, key in (("incident", "call_no"), ("position_fix", "person_code")):
        frame = gpd.read_file(sample_path, layer=layer)
        located = reference.locate(frame.geometry.values, "2026-08-01T00:00:00+08:00")
        out[layer] = (frame[key].to_numpy(), np.array([p[1] if p else None for p in located]))
    return out


def meets(frame: gpd.GeoDataFrame, shapes: list[shapely.Geometry]) -> set[str]:
    """Codes of the features meeting (closed: touching counts) any of the shapes."""
    if not shapes:
        return set()
    hit = np.zeros(len(frame), dtype=bool)
    for shape in shapes:
        hit |= frame.geometry.intersects(shape).to_numpy()
    return set(frame.loc[hit, "code"])


def expected_rows(
    sample: Sample, event_grids: dict, db: str, *, grids: set[str], villages: set[str]
) -> dict[str, Counter]:
    """What a user in areas scope must see, computed from the GeoPackage: a grid worker's grids
    (and their villages), or a volunteer's villages (no grids)."""
    ids = sample.ids
    grid_shapes = list(sample.grid.loc[sample.grid["code"].isin(grids), "geometry"])
    village_shapes = list(sample.village.loc[sample.village["code"].isin(villages), "geometry"])
    area = grid_shapes if grids else village_shapes
    water = meets(sample.geo["water_body"], area)
    out = {
        "station": {next(iter(ids["station"]))} if villages else set(),
        "village": villages,
        "grid": grids,
        "water_body": water,
        "water_body_piece": {ids["water_body"][w] for w in water},
        "water_marker": meets(sample.geo["water_marker"], area),
        "rental_house": meets(sample.geo["rental_house"], grid_shapes),
        "camera": meets(sample.geo["camera"], grid_shapes),
        "place": meets(sample.geo["place"], area),
        "road": meets(sample.geo["road"], area),
        "basemap_version": {1},
        "grid_cell_state": {True},
        **{t: set() for t in HIDDEN_IN_AREAS},
    }
    people = sample.own_people(grids)
    beats = sample.beats_holding(grids)
    out["beat_plan"] = sample.published if grids else set()
    out["beat"] = {ids["beat"][b] for b in beats}
    out["person"] = people
    bg = sample.beat_grid[sample.beat_grid["grid_code"].isin(grids)]
    out["beat_grid"] = Counter(
        (ids["beat_plan"][p], ids["grid"][g], ids["beat"][(p, b)])
        for p, b, g in zip(bg["plan_code"], bg["beat_code"], bg["grid_code"], strict=True)
    )
    a = sample.assignment
    a = a[a["person_code"].isin(people)]
    assignments = Counter()
    for r in a.itertuples():
        area_ids = {
            "station": ids["station"].get(r.area_code) if r.area_kind == "station" else None,
            "village": ids["village"].get(r.area_code) if r.area_code in villages else None,
            "grid": ids["grid"].get(r.area_code) if r.area_code in grids else None,
            "beat": ids["beat"].get((r.plan_code, r.area_code))
            if (r.plan_code, r.area_code) in beats
            else None,
        }
        if r.area_kind == "station" or area_ids[r.area_kind] is not None:
            one = [area_ids[k] if k == r.area_kind else None for k in area_ids]
            assignments[
                (ids["person"][r.person_code], r.role, r.area_kind, *one, r.valid_from)
            ] += 1
    out["assignment"] = assignments
    calls, of = event_grids["incident"]
    out["incident"] = set(calls[np.isin(of, list(grids))])
    _, fix_grid = event_grids["position_fix"]
    out["position_fix"] = int(np.isin(fix_grid, list(grids)).sum())  # a count: ids are the db's
    with connect(db) as conn:  # the cells of the grids (cached by the owner's refresh)
        out["grid_cell"] = rows(
            conn,
            "SELECT h3 FROM grid_cell WHERE grid_id = ANY (%s)",
            [ids["grid"][g] for g in grids],
        )
    return {k: v if isinstance(v, Counter | int) else Counter(v) for k, v in out.items()}


def seen(conn: psycopg.Connection) -> dict[str, Counter | int]:
    """What a connection sees of every table (position fixes: how many)."""
    out: dict[str, Counter | int] = {t: rows(conn, q) for t, q in KEYS.items()}
    out["position_fix"] = next(iter(out["position_fix"]))
    out["assignment"] = Counter(
        (*r[:-1], pd.Timestamp(r[-1]).tz_convert("UTC")) for r in out["assignment"].elements()
    )
    return out


def differences(got: dict, want: dict) -> dict[str, str]:
    """Per table, what is seen that should not be and what is missing (a few of each)."""
    out = {}
    for table, expected in want.items():
        actual = got[table]
        if actual == expected:
            continue
        if isinstance(expected, int):
            out[table] = f"{actual} rows, not {expected}"
            continue
        extra, missing = list((actual - expected).elements()), list((expected - actual).elements())
        out[table] = f"{len(extra)} too many {extra[:3]}, {len(missing)} missing {missing[:3]}"
    return out


# --- what each user sees ----------------------------------------------------------------------


def test_grid_workers_see_exactly_their_grids(db: str, sample: Sample, event_grids: dict) -> None:
    """Random grid workers of the sample (and one of two grids at once): every table shows
    exactly the rows of their grids, their villages and the people covering them."""
    rng = np.random.default_rng(11)
    a = sample.assignment
    workers = sorted(set(a.loc[(a["role"] == "grid_worker") & a["in_force"], "person_code"]))
    chosen = [sample.grids_of(p) for p in rng.choice(workers, 8, replace=False)]
    chosen.append(chosen[0] | chosen[1])  # two grids, maybe in two villages
    checked = Counter()
    for grids in chosen:
        want = expected_rows(
            sample, event_grids, db, grids=grids, villages=sample.villages_of_grids(grids)
        )
        with service(db, sample.grid_worker(grids)) as conn:
            got = seen(conn)
        assert not differences(got, want), (sorted(grids), differences(got, want))
        checked.update({t: len(v) if isinstance(v, Counter) else v for t, v in want.items()})
    # the check was not empty: each kind of row was seen by some of them
    for table in (
        "grid",
        "person",
        "assignment",
        "incident",
        "position_fix",
        "rental_house",
        "camera",
        "water_marker",
        "water_body",
        "road",
        "place",
        "beat",
        "grid_cell",
    ):
        assert checked[table] > 0, table


def test_volunteers_see_their_villages_water_and_basemap_only(
    db: str, sample: Sample, event_grids: dict
) -> None:
    rng = np.random.default_rng(12)
    a = sample.assignment
    volunteers = sorted(set(a.loc[(a["role"] == "volunteer") & a["in_force"], "person_code"]))
    markers = 0
    for person in rng.choice(volunteers, 6, replace=False):
        villages = sample.volunteer_villages(person)
        assert villages
        want = expected_rows(sample, event_grids, db, grids=set(), villages=villages)
        with service(db, sample.volunteer(person)) as conn:
            got = seen(conn)
        assert not differences(got, want), (person, differences(got, want))
        for table in (
            "person",
            "assignment",
            "incident",
            "position_fix",
            "camera",
            "rental_house",
            "grid",
            "beat",
            "beat_grid",
            "beat_plan",
            "grid_cell",
        ):
            assert not got[table], (person, table)
        markers += len(got["water_marker"])
    assert markers > 0


@pytest.mark.parametrize("role", STATION_ROLES)
def test_station_roles_see_what_the_owner_sees(db: str, sample: Sample, role: str) -> None:
    with connect(db) as conn:
        owner = seen(conn)
    with service(db, Context(role, "station")) as conn:
        got = seen(conn)
        views = {
            v: conn.execute(f"SELECT count(*) FROM {v}").fetchone()[0]
            for (v,) in conn.execute(
                "SELECT viewname FROM pg_views WHERE schemaname = 'public' AND viewname "
                "NOT IN ('geometry_columns', 'geography_columns') ORDER BY 1"
            ).fetchall()
        }
    assert not differences(got, owner)
    with connect(db) as conn:
        assert views == {v: conn.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in views}
    assert views["layer_incident"] > 0 and views["layer_person"] > 0


@pytest.mark.parametrize(
    "context", [None, Context("auditor", "none"), Context("admin", "none"), Context("", "")]
)
def test_no_user_and_no_scope_see_nothing(db: str, context: Context | None) -> None:
    with service(db, context) as conn:
        got = seen(conn)
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                "AND c.relkind IN ('r', 'v') AND has_table_privilege(c.oid, 'SELECT') "
                "AND c.relname NOT IN ('spatial_ref_sys', 'geometry_columns', 'geography_columns', "
                "'app_user', 'user_session', 'api_token')"
            ).fetchall()
        ]
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    assert {t: v for t, v in got.items() if v} == {}
    assert {t: n for t, n in counts.items() if n} == {}
    assert len(counts) >= 30


def test_every_table_of_the_station_is_guarded(db: str) -> None:
    """Row-level security on every table of migrations 001-011, a read policy each, views that
    run with the asker's rights, and the service owning nothing and bypassing nothing."""
    tables = migration_tables()
    assert {"incident", "position_fix", "grid_cell", "water_body_piece"} <= tables
    with connect(db) as conn:
        guarded = dict(
            conn.execute(
                "SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY (%s)",
                (list(tables),),
            ).fetchall()
        )
        policies = {
            t
            for (t,) in conn.execute(
                "SELECT tablename FROM pg_policies WHERE policyname = tablename || '_read'"
            ).fetchall()
        }
        views = conn.execute(
            """SELECT c.relname, coalesce(c.reloptions, '{}') FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.objid = c.oid AND d.deptype = 'e')"""
        ).fetchall()
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls, (SELECT count(*) FROM pg_class c "
            "WHERE c.relowner = r.oid) FROM pg_roles r WHERE rolname = %s",
            (SERVICE_ROLE,),
        ).fetchone()
        migrations = conn.execute(
            "SELECT has_table_privilege(%s, 'schema_migrations', 'SELECT')", (SERVICE_ROLE,)
        ).fetchone()[0]
        leakproof = conn.execute(
            "SELECT bool_and(proleakproof) FROM pg_proc WHERE oid = ANY (ARRAY["
            "'st_intersects(geometry, geometry)', 'geometry_overlaps(geometry, geometry)', "
            "'st_dwithin(geometry, geometry, float8)']::regprocedure[])"
        ).fetchone()[0]
    assert guarded == dict.fromkeys(tables, True)
    assert tables <= policies
    assert len(views) >= 18
    assert [v for v, options in views if "security_invoker=true" not in options] == []
    assert role == (False, False, 0)
    assert not migrations
    assert leakproof


def test_spatial_indexes_serve_the_service(db: str, grids: gpd.GeoDataFrame) -> None:
    """Under row-level security the lookup's spatial searches still go through their GiST
    indexes (PostGIS's predicates marked leakproof)."""
    x, y = grids.geometry[0].representative_point().coords[0]
    with service(db, Context("leader", "station")) as conn:
        plans = [
            "\n".join(r[0] for r in conn.execute(f"EXPLAIN {q}", {"x": x, "y": y}).fetchall())
            for q in (
                "SELECT id FROM grid_at(ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326))",
                "SELECT code FROM camera WHERE ST_Intersects(view_sector, "
                "ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326))",
                "SELECT code FROM water_marker WHERE ST_DWithin(geom_metric, "
                "ST_Transform(ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326), 4549), 500)",
            )
        ]
    for plan, index in zip(
        plans, ("grid_geom_gix", "camera_view_sector_gix", "water_marker_metric_gix"), strict=True
    ):
        assert index in plan, plan


# --- writes -----------------------------------------------------------------------------------

NEW_PLACE = """INSERT INTO place (code, name, kind, geom)
               VALUES ('PL_RLS', 'test', 'other', 'SRID=4326;POINT(120.3 29.8)')"""


@pytest.mark.parametrize("role", ["planner", "leader"])
def test_planners_and_leaders_write(db: str, role: str) -> None:
    with service(db, Context(role, "station")) as conn:
        assert conn.execute(NEW_PLACE).rowcount == 1
        total = conn.execute("SELECT count(*) FROM place").fetchone()[0]
        assert conn.execute("UPDATE place SET name = name || '.'").rowcount == total
        assert conn.execute("DELETE FROM place WHERE code = 'PL_RLS'").rowcount == 1


@pytest.mark.parametrize("role", ["command_room", "community_officer", "grid_worker", "auditor"])
def test_others_write_nothing(db: str, sample: Sample, role: str) -> None:
    scope = {"grid_worker": "areas", "auditor": "none"}.get(role, "station")
    context = Context(role, scope)
    if role == "grid_worker":
        context = sample.grid_worker({sample.grid["code"][0]})
    with service(db, context) as conn:
        visible = conn.execute(
            "SELECT (SELECT count(*) FROM rental_house) + (SELECT count(*) FROM incident)"
        ).fetchone()[0]
        assert conn.execute("UPDATE place SET name = name || '.'").rowcount == 0
        assert conn.execute("DELETE FROM rental_house").rowcount == 0
        if role != "command_room":  # the command room takes calls (issue 12)
            assert conn.execute("UPDATE incident SET status = 'closed'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(NEW_PLACE)
    assert role == "auditor" or visible > 0  # they read, they do not write


def test_the_command_room_writes_incidents_and_nothing_else(db: str) -> None:
    """Issue 12: the command room changes incidents (in a transaction rolled back here), and
    every change is in the command room's log; it still writes no place or rental house."""
    with service(db, Context("command_room", "station")) as conn:
        logged = conn.execute("SELECT count(*) FROM command_event").fetchone()[0]
        changed = conn.execute(
            "UPDATE incident SET status = 'cancelled' WHERE id IN "
            "(SELECT id FROM incident ORDER BY id LIMIT 3)"
        ).rowcount
        assert changed == 3
        now = conn.execute("SELECT count(*) FROM command_event").fetchone()[0]
        assert now == logged + 3
        assert conn.execute("DELETE FROM rental_house").rowcount == 0


def test_imports_run_as_the_service_for_a_planner(
    db: str, sample: Sample, sample_path: Path, tmp_path: Path
) -> None:
    """An import over HTTP runs as the service's role: a planner's writes every layer kind
    needs (upsert, triggers on water bodies and grids, events through the staging tables,
    the import record) pass; a grid worker's are refused."""
    water = gpd.read_file(sample_path, layer="water_body")
    water.loc[0, "name"] = "改名的河"
    water.loc[1, "geometry"] = shapely.affinity.translate(water.geometry[1], 1e-5, 0)
    water.to_file(tmp_path / "water.gpkg")
    places = gpd.read_file(sample_path, layer="place")
    places.loc[0, "name"] = "改名的地点"
    places.to_file(tmp_path / "place.gpkg")
    incidents = gpd.read_file(sample_path, layer="incident").head(3)
    incidents["call_no"] = ["RLS0001", "RLS0002", "RLS0003"]
    incidents.to_file(tmp_path / "incident.gpkg")
    gpd.read_file(sample_path, layer="grid").to_file(tmp_path / "grid.gpkg")
    with service(db, Context("planner", "station")) as conn:
        before = conn.execute("SELECT version FROM basemap_version").fetchone()[0]
        reports = {
            layer: import_layer(conn, tmp_path / f"{file}.gpkg", layer=layer, mode="upsert")
            for layer, file in (
                ("water_body", "water"),
                ("place", "place"),
                ("incident", "incident"),
                ("grid", "grid"),
            )
        }
        assert (reports["water_body"].updated, reports["place"].updated) == (2, 1)
        assert reports["incident"].added == 3 and reports["grid"].unchanged == len(sample.grid)
        assert conn.execute("SELECT version FROM basemap_version").fetchone()[0] > before
        assert (
            conn.execute(
                "SELECT count(*) FROM incident WHERE call_no LIKE 'RLS%' AND grid_id IS NOT NULL"
            ).fetchone()[0]
            == 3
        )
        assert conn.execute("SELECT count(*) FROM import_run").fetchone()[0] == 4
    context = sample.grid_worker({sample.grid["code"][0]})
    with service(db, context) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        import_layer(conn, tmp_path / "place.gpkg", layer="place", mode="upsert")


# --- phones -----------------------------------------------------------------------------------


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def phones(conn: psycopg.Connection, view: str) -> dict[str, str | None]:
    return dict(conn.execute(f"SELECT code, phone FROM {view}").fetchall())


def test_phones_by_role(db: str, sample: Sample) -> None:
    full = dict(zip(sample.person["code"], sample.person["phone"].replace("", None), strict=True))
    houses = sample.geo["rental_house"]
    landlords = dict(zip(houses["code"], houses["phone"].replace("", None), strict=True))
    assert sum(p is not None for p in full.values()) > 100
    for context in (Context("leader", "station"), Context("command_room", "station"), None):
        if context is None:  # the operator: the owner's own connection, no user
            with connect(db) as conn:
                assert phones(conn, "layer_person") == full
                assert phones(conn, "layer_rental_house") == landlords
            continue
        with service(db, context) as conn:
            assert phones(conn, "layer_person") == full
            assert phones(conn, "layer_rental_house") == landlords
    with service(db, Context("planner", "station")) as conn:
        masked = phones(conn, "layer_person")
        houses_masked = phones(conn, "layer_rental_house")
    assert masked == {c: p and mask(p) for c, p in full.items()}
    assert all(MASKED.match(p) for p in masked.values() if p)
    assert houses_masked == {c: p and mask(p) for c, p in landlords.items()}


def test_community_officers_see_their_own_beats_in_full(db: str, sample: Sample) -> None:
    a = sample.assignment
    officers = sorted(set(a.loc[(a["role"] == "community_officer") & a["in_force"], "person_code"]))
    officer = officers[1]
    context, own_grids = sample.community_officer(officer)
    own = sample.own_people(own_grids)
    assert officer in own and len(own) > 5
    shapes = list(sample.grid.loc[sample.grid["code"].isin(own_grids), "geometry"])
    own_houses = meets(sample.geo["rental_house"], shapes)
    full = dict(zip(sample.person["code"], sample.person["phone"], strict=True))
    houses = sample.geo["rental_house"]
    landlords = dict(zip(houses["code"], houses["phone"], strict=True))
    with service(db, context) as conn:
        people = phones(conn, "layer_person")
        rentals = phones(conn, "layer_rental_house")
    assert people == {c: p if c in own else mask(p) for c, p in full.items()}
    assert rentals == {c: p if c in own_houses else mask(p) for c, p in landlords.items()}
    assert 0 < len(own_houses) < len(landlords)


def test_a_grid_worker_sees_their_community_officer_in_full(db: str, sample: Sample) -> None:
    """The lookup inside their grid, area details and the person layer give the community
    officer of the beat holding the grid (plan in force) with the full phone."""
    grid = sample.grid.iloc[7]
    beat = sample.beats_holding({grid["code"]}, sample.plan_now)
    a = sample.assignment
    officer = a[
        (a["role"] == "community_officer")
        & a["in_force"]
        & (a["plan_code"] == sample.plan_now)
        & a["area_code"].isin([b for _, b in beat])
    ]["person_code"].item()
    phone = sample.person.set_index("code").loc[officer, "phone"]
    x, y = grid.geometry.representative_point().coords[0]
    with service(db, sample.grid_worker({grid["code"]})) as conn:
        inside, answer = conn.execute(
            "SELECT inside, answer FROM lookup_point(%s, %s, now())", (x, y)
        ).fetchone()
        details = conn.execute(
            "SELECT area_details('grid', %s, now())", (grid["code"],)
        ).fetchone()[0]
        listed = phones(conn, "layer_person")
    assert inside and answer["grid"]["code"] == grid["code"]
    people = {p["code"]: p["phone"] for p in answer["people"]}
    assert people[officer] == phone and len(people) >= 3
    assert listed[officer] == phone
    assert all(not MASKED.match(p) for p in listed.values() if p)  # all theirs: none masked
    assert details["properties"]["people"] and details["properties"]["counts"]["grids"] == 1


# --- lookups outside a grid worker's areas ---------------------------------------------------


def test_lookup_outside_a_grid_workers_grids_is_refused_naming_them(
    db: str, sample: Sample, reference: Reference
) -> None:
    """Random points over the station's box, and points on their grids' borders: inside their
    grids by the boundary rule (shapely) the lookup answers; elsewhere, outside the station
    included, it raises insufficient_privilege (42501) with HINT areas naming their grids."""
    rng = np.random.default_rng(13)
    mine = set(sample.grid["code"].iloc[[20, 21]])
    shapes = list(sample.grid.loc[sample.grid["code"].isin(mine), "geometry"])
    minx, miny, maxx, maxy = sample.grid.total_bounds
    points = [
        np.column_stack(
            [rng.uniform(minx - 0.01, maxx + 0.01, 300), rng.uniform(miny - 0.01, maxy + 0.01, 300)]
        ),
        *(shapely.get_coordinates(s.representative_point()) for s in shapes),
        *(
            shapely.get_coordinates(s.boundary.interpolate(rng.uniform(0, 1, 150), normalized=True))
            for s in shapes
        ),
    ]
    points = np.vstack(points)
    expected = [
        p and p[1] in mine
        for p in reference.locate(shapely.points(points), "2026-12-01T00:00:00+08:00")
    ]
    answered = refused = 0
    with service(db, sample.grid_worker(mine)) as conn:
        for (x, y), allowed in zip(points, expected, strict=True):
            try:
                with conn.transaction():
                    grid = conn.execute(
                        "SELECT answer->'grid'->>'code' FROM lookup_point(%s, %s, now())",
                        (float(x), float(y)),
                    ).fetchone()[0]
            except psycopg.errors.InsufficientPrivilege as exc:
                assert not allowed, (x, y)
                assert exc.diag.message_hint == "areas"
                assert all(f"grid {g} (" in exc.diag.message_primary for g in mine)
                refused += 1
            else:
                assert allowed and grid in mine, (x, y, grid)
                answered += 1
    assert answered > 150 and refused > 150


def test_volunteer_and_station_lookups(db: str, sample: Sample) -> None:
    """A volunteer's lookup is refused naming their villages (the service refuses it first);
    the station's roles are never refused, outside the jurisdiction included."""
    a = sample.assignment
    person = sorted(a.loc[(a["role"] == "volunteer") & a["in_force"], "person_code"])[0]
    x, y = sample.grid.geometry[0].representative_point().coords[0]
    with (
        service(db, sample.volunteer(person)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege) as caught,
    ):
        conn.execute("SELECT * FROM lookup_point(%s, %s, now())", (x, y))
    assert all(
        f"village {v} (" in caught.value.diag.message_primary
        for v in sample.volunteer_villages(person)
    )
    with service(db, Context("planner", "station")) as conn:
        assert conn.execute("SELECT inside FROM lookup_point(%s, %s, now())", (x, y)).fetchone()[0]
        assert not conn.execute("SELECT inside FROM lookup_point(25, 0, now())").fetchone()[0]
    with service(db, None) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM lookup_point(%s, %s, now())", (x, y))
