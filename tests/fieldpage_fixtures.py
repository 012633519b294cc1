"""Fixtures of the phone page "my area" (tests/test_me.py, tests/test_me_page.py): a loaded
database of its own where rental houses and water markers also stand exactly on grid borders
and vertices, a grid worker holds two neighbouring grids, some incidents carry caller details;
users of each role of the page; sweeps open, finished and to come over their grids, with some
targets inspected; reports by each user (accepted, closed or not, by steps) and by others; and
the expected answers recomputed with pandas and shapely."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from geo_service.accounts.roles import Role
from tests.cast import Member, areas_of, make_member
from tests.conftest import loaded_database
from tests.reference import Reference, shared_edge_points, shared_vertices

LISTS = (
    "rentals_due",
    "markers_due",
    "markers_broken",
    "cameras_out",
    "incidents_recent",
    "sweep_targets_open",
    "reports_mine",
)
# Moments the sweeps and reports of the page's database are made around (those test_me asks
# about: now, and two moments within the sample's year of incidents).
CENTRES = ("now", "2026-10-20T12:00:00+08:00", "2026-07-15T08:00:00+08:00")
RESULT = {"rental_house": "pass", "water_marker": "ok", "camera": "working"}
ITEMS = (
    '{"extinguisher": "ok", "escape_route": "ok", "wiring": "ok", "ebike_indoor_charging": "ok"}'
)

PER_ROLE = 3  # users of each role of the page
CALLER_PHONE = "13912345678"
CALLER_WORDS = "caller-only-words-xyz"


@dataclass
class MeWorld:
    """The database, its users of each role and what the independent side needs."""

    url: str
    users: dict[Role, list[Member]]
    reference: Reference
    two_grid_worker: Member
    caller_incidents: list[str] = field(default_factory=list)


def _neighbour(reference: Reference, code: str) -> str:
    """A grid sharing an edge with this one (a stretch of border, not only a corner)."""
    grids = reference.grids.set_index("code")
    mine = grids.geometry[code]
    for other, geom in grids.geometry.items():
        if other != code and shapely.intersection(mine, geom).length > 1e-5:
            return str(other)
    raise AssertionError(f"grid {code} has no neighbour")


@pytest.fixture(scope="module")
def me_world(sample_path: Path, reference: Reference) -> Iterator[MeWorld]:
    """A loaded database of its own with things on borders, a two-grid worker, caller details
    on some incidents, and PER_ROLE users of each of the page's roles."""
    rng = np.random.default_rng(14)
    with loaded_database("geo_me", sample_path) as url:
        users = {
            role: [_member(url, role, offset) for offset in range(PER_ROLE)]
            for role in (Role.grid_worker, Role.community_officer, Role.volunteer)
        }
        worker = users[Role.grid_worker][0]
        assert worker.person
        first = areas_of(url, worker.person, "grid")[0]
        second = _neighbour(reference, first)
        on_edges = np.vstack(
            [
                shared_edge_points(reference.grids, rng, 160),
                shared_vertices(reference.grids, rng, 40),
                _border_points(reference, [first, second], rng, 40),
            ]
        )
        now = datetime.now(UTC)
        with psycopg.connect(url) as conn:
            conn.execute(
                """INSERT INTO assignment (person_id, role, area_kind, grid_id, valid_from)
                   SELECT p.id, 'grid_worker', 'grid', g.id, %s FROM person p, grid g
                   WHERE p.code = %s AND g.code = %s""",
                (now - timedelta(days=1), worker.person, second),
            )
            for i, (lon, lat) in enumerate(on_edges):
                checked = _moment(rng, now)
                conn.execute(
                    """INSERT INTO rental_house (code, address, landlord, phone, rooms, tenants,
                                                 last_fire_check_at, geom)
                       VALUES (%s, %s, 'edge', '13800001111', 2, 3, %s,
                               ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                    (f"RHE{i:04d}", f"border {i}", checked, float(lon), float(lat)),
                )
                conn.execute(
                    """INSERT INTO water_marker (code, kind, status, last_inspected_at, geom)
                       VALUES (%s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                    (
                        f"WME{i:04d}",
                        str(rng.choice(["rescue_pole", "lifebuoy", "warning_sign"])),
                        str(rng.choice(["ok", "ok", "ok", "damaged", "missing"])),
                        _moment(rng, now),
                        float(lon),
                        float(lat),
                    ),
                )
            rows = conn.execute(
                """UPDATE incident SET caller_phone = %s, address = %s, description = %s,
                          taken_by = 'operator'
                   WHERE id IN (SELECT id FROM incident WHERE received_at > %s
                                ORDER BY id LIMIT 400)
                   RETURNING call_no""",
                (CALLER_PHONE, CALLER_WORDS, CALLER_WORDS, now - timedelta(days=400)),
            ).fetchall()
            _sweeps(conn, reference, users, rng, now)
            _reports(conn, reference, users, rng, now)
        yield MeWorld(url, users, reference, worker, [r[0] for r in rows])


def centre(text: str, now: datetime) -> datetime:
    """One of CENTRES as a moment (now: the given one)."""
    return now if text == "now" else datetime.fromisoformat(text)


def _days(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(days=float(rng.uniform(low, high)))


def _sweeps(
    conn: psycopg.Connection,
    reference: Reference,
    users: dict[Role, list[Member]],
    rng: np.random.Generator,
    now: datetime,
) -> None:
    """Around each of CENTRES: sweeps open then (ending within days or weeks), one finished
    and one to come, each over some of the users' grids and a random other; their targets as
    field_open_sweep makes them; about half of them inspected, before, within or after the
    period (as the operator: the things' status is left alone)."""
    people = [m.person for ms in users.values() for m in ms if m.person]
    rows = conn.execute(
        """SELECT DISTINCT g.code FROM assignment a JOIN person p ON p.id = a.person_id
           LEFT JOIN beat_grid bg ON bg.beat_id = a.beat_id AND bg.plan_id = plan_in_force(now())
           JOIN grid g ON g.id = coalesce(a.grid_id, bg.grid_id)
           WHERE p.code = ANY (%s) AND a.validity @> now() ORDER BY 1""",
        (people,),
    ).fetchall()
    theirs = [r[0] for r in rows]
    every = list(reference.codes)
    kinds = list(RESULT)
    for text in CENTRES:
        c = centre(text, now)
        periods = [(c - _days(rng, 0.5, 15), c + _days(rng, 0.1, 14)) for _ in range(5)]
        periods.append((c - _days(rng, 20, 30), c - _days(rng, 0.5, 5)))  # finished
        periods.append((c + _days(rng, 0.5, 5), c + _days(rng, 6, 20)))  # to come
        for n, (starts, ends) in enumerate(periods):
            grids = [str(g) for g in rng.choice(theirs, size=min(len(theirs), 4), replace=False)]
            grids.append(str(rng.choice(every)))
            chosen = [k for k in kinds if rng.random() < 0.7] or ["water_marker"]
            row = conn.execute(
                """INSERT INTO sweep (name, starts_at, ends_at, target_kinds, opened_by)
                   VALUES (%s, %s, %s, %s, 'test') RETURNING id""",
                (f"sweep {text[:10]} {n}", starts, ends, chosen),
            ).fetchone()
            assert row
            conn.execute(
                """INSERT INTO sweep_grid (sweep_id, grid_id)
                   SELECT %s, id FROM grid WHERE code = ANY (%s)""",
                (row[0], grids),
            )
            targets = conn.execute(
                """INSERT INTO sweep_target (sweep_id, kind, thing_id, code, grid_id, geom)
                   SELECT %(sweep)s, x.kind, x.id, x.code, g.id, x.geom
                   FROM grid g
                   JOIN (SELECT 'rental_house' AS kind, t.id, t.code, t.geom FROM rental_house t
                         UNION ALL SELECT 'water_marker', t.id, t.code, t.geom FROM water_marker t
                         UNION ALL SELECT 'camera', t.id, t.code, t.geom FROM camera t) x
                     ON ST_Intersects(g.geom, x.geom)
                   WHERE g.code = ANY (%(grids)s) AND x.kind = ANY (%(kinds)s)
                     AND grid_at_point(x.geom) = g.id
                   RETURNING kind, thing_id, code""",
                {"sweep": row[0], "grids": grids, "kinds": chosen},
            ).fetchall()
            for kind, thing_id, code in targets:
                if rng.random() < 0.5:
                    continue
                # from three days before the period to three days after it
                when = (
                    starts
                    - timedelta(days=3)
                    + (ends - starts + timedelta(days=6)) * float(rng.random())
                )
                conn.execute(
                    """INSERT INTO inspection (client_id, kind, thing_id, code, inspected_at,
                                               inspector, result, items)
                       VALUES (gen_random_uuid(), %s, %s, %s, %s, 'test', %s, %s)""",
                    (
                        kind,
                        thing_id,
                        code,
                        when,
                        RESULT[kind],
                        ITEMS if kind == "rental_house" else None,
                    ),
                )


def _reports(
    conn: psycopg.Connection,
    reference: Reference,
    users: dict[Role, list[Member]],
    rng: np.random.Generator,
    now: datetime,
) -> None:
    """Reports by each user and by others, made before each of CENTRES (and a few after), at
    random places; routed, then some accepted and of those some closed, with notes, by steps
    (the status column is left as made: the lists read the steps)."""
    categories = conn.execute("SELECT code, department_id FROM report_category").fetchall()
    places = reference.grids.geometry.representative_point()
    reporters = [m.name for ms in users.values() for m in ms] + ["someone_else"]
    for reporter in reporters:
        for text in CENTRES:
            c = centre(text, now)
            for _ in range(4):
                made = c - _days(rng, -1 if text != "now" else 0, 20)
                category, department = categories[int(rng.integers(0, len(categories)))]
                place = places.iloc[int(rng.integers(0, len(places)))]
                row = conn.execute(
                    """INSERT INTO report (client_id, category, department_id, note, geom,
                                           reporter, reported_at)
                       VALUES (gen_random_uuid(), %s, %s, 'test report',
                               ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s)
                       RETURNING id""",
                    (category, department, place.x, place.y, reporter, made),
                ).fetchone()
                assert row
                steps = [("route", made)]
                if rng.random() < 0.3:
                    steps.append(("note", made + _days(rng, 0, 4)))
                if rng.random() < 0.6:
                    accepted = made + _days(rng, 0, 3)
                    steps.append(("accept", accepted))
                    if rng.random() < 0.5:
                        steps.append(("close", accepted + _days(rng, 0, 5)))
                for kind, at in steps:
                    conn.execute(
                        """INSERT INTO report_step (report_id, kind, at, actor, note)
                           VALUES (%s, %s, %s, 'test', %s)""",
                        (row[0], kind, at, f"{kind} note"),
                    )


def _member(url: str, role: Role, offset: int) -> Member:
    from tests.accounts import PERSON_ROLE_OF, person_with_role

    return make_member(url, role, person=person_with_role(url, PERSON_ROLE_OF[role], offset * 4))


def _moment(rng: np.random.Generator, now: datetime) -> datetime | None:
    """A last check: never (one in eight), or up to 200 days before now."""
    if rng.random() < 0.125:
        return None
    return now - timedelta(days=float(rng.uniform(0, 200)))


def _border_points(
    reference: Reference, codes: list[str], rng: np.random.Generator, n: int
) -> np.ndarray:
    """Points on the outlines of these grids (their shared edge and their borders with others),
    at k/8 of a segment."""
    grids = reference.grids.set_index("code")
    rings = [
        np.asarray(poly.exterior.coords)
        for code in codes
        for poly in getattr(grids.geometry[code], "geoms", [grids.geometry[code]])
    ]
    out = []
    for _ in range(n):
        ring = rings[rng.integers(0, len(rings))]
        i = rng.integers(0, len(ring) - 1)
        k = rng.integers(1, 8) / 8.0
        out.append(ring[i] + (ring[i + 1] - ring[i]) * k)
    return np.array(out)


# ---------------------------------------------------------------- the independent side


def areas_expected(world: MeWorld, member: Member) -> tuple[str, set[str]]:
    """("grid", grid codes) for a grid worker or community officer (their beats' grids in the
    plan in force), ("village", codes) for a volunteer: read from the assignment table."""
    assert member.person
    if member.role == Role.grid_worker:
        return "grid", set(areas_of(world.url, member.person, "grid"))
    if member.role == Role.volunteer:
        return "village", set(areas_of(world.url, member.person, "village"))
    plan = world.reference.plan_at(datetime.now(UTC).isoformat())
    with psycopg.connect(world.url) as conn:
        beats = conn.execute(
            """SELECT b.code, bp.code FROM assignment a JOIN person p ON p.id = a.person_id
               JOIN beat b ON b.id = a.beat_id JOIN beat_plan bp ON bp.id = b.plan_id
               WHERE p.code = %s AND a.area_kind = 'beat' AND a.validity @> now()""",
            (member.person,),
        ).fetchall()
    mine = {b for b, p in beats if p == plan}
    return "grid", {g for (p, g), b in world.reference.beat_of.items() if p == plan and b in mine}


def _frame(url: str, query: str, params: tuple = ()) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cur = conn.execute(query, params)
        names = [d.name for d in cur.description or ()]
        return pd.DataFrame(cur.fetchall(), columns=names)


def _located(world: MeWorld, frame: pd.DataFrame, kind: str, codes: set[str]) -> pd.DataFrame:
    """The rows whose point lies, by the boundary rule (shapely), in one of these areas."""
    if frame.empty:
        return frame
    at = datetime.now(UTC).isoformat()
    where = world.reference.locate(shapely.points(frame.lon.to_numpy(), frame.lat.to_numpy()), at)
    index = 0 if kind == "village" else 1
    keep = [w is not None and w[index] in codes for w in where]
    return frame[keep]


def markers_in(world: MeWorld, member: Member) -> set[str]:
    """Codes of every water marker in the member's areas (by the boundary rule)."""
    kind, codes = areas_expected(world, member)
    markers = _frame(
        world.url, "SELECT code, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM water_marker"
    )
    return set(_located(world, markers, kind, codes).code)


def lists_expected(
    world: MeWorld,
    member: Member,
    *,
    at: datetime,
    marker_days: int,
    rental_days: int,
    within: int,
    recent: int,
) -> dict[str, dict[str, object]]:
    """Every list of the member at ``at``: {"codes": ordered codes, "count", "urgent"}."""
    kind, codes = areas_expected(world, member)
    at_ts = pd.Timestamp(at)
    soon = at_ts + pd.Timedelta(days=within)
    out: dict[str, dict[str, object]] = {}

    rentals = _frame(
        world.url,
        "SELECT code, ST_X(geom) AS lon, ST_Y(geom) AS lat, last_fire_check_at AS last "
        "FROM rental_house",
    )
    markers = _frame(
        world.url,
        "SELECT code, status, ST_X(geom) AS lon, ST_Y(geom) AS lat, last_inspected_at AS last "
        "FROM water_marker",
    )
    cameras = _frame(
        world.url, "SELECT code, status, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM camera"
    )
    incidents = _frame(
        world.url,
        "SELECT call_no AS code, received_at, ST_X(geom) AS lon, ST_Y(geom) AS lat "
        "FROM incident WHERE received_at > %s AND received_at <= %s",
        (at - timedelta(days=recent), at),
    )
    # a volunteer sees no rental houses, cameras or incidents (issue 11: water only)
    if member.role == Role.volunteer:
        rentals, cameras, incidents = rentals[:0], cameras[:0], incidents[:0]

    def due(frame: pd.DataFrame, days: int, name: str) -> None:
        mine = _located(world, frame, kind, codes).copy()
        mine["due_at"] = pd.to_datetime(mine["last"], utc=True) + pd.Timedelta(days=days)
        mine = mine[mine["due_at"].isna() | (mine["due_at"] <= soon)]
        mine = mine.assign(never=mine["due_at"].isna()).sort_values(
            ["never", "due_at", "code"], ascending=[False, True, True]
        )
        urgent = mine["due_at"].isna() | (mine["due_at"] <= at_ts)
        out[name] = {"codes": list(mine.code), "count": len(mine), "urgent": int(urgent.sum())}

    due(rentals, rental_days, "rentals_due")
    due(markers, marker_days, "markers_due")
    broken = _located(world, markers[markers.status.isin(["missing", "damaged"])], kind, codes)
    broken = broken.sort_values(["status", "code"], ascending=[False, True])
    out["markers_broken"] = {
        "codes": list(broken.code),
        "count": len(broken),
        "urgent": int((broken.status == "missing").sum()),
    }
    bad = _located(world, cameras[cameras.status.isin(["faulty", "offline"])], kind, codes)
    bad = bad.sort_values(["status", "code"], ascending=[False, True])
    out["cameras_out"] = {
        "codes": list(bad.code),
        "count": len(bad),
        "urgent": int((bad.status == "offline").sum()),
    }
    recent_ones = _located(world, incidents, kind, codes) if kind == "grid" else incidents[:0]
    recent_ones = recent_ones.sort_values(["received_at", "code"], ascending=[False, True])
    out["incidents_recent"] = {
        "codes": list(recent_ones.code),
        "count": len(recent_ones),
        "urgent": 0,
    }
    out["sweep_targets_open"] = _sweep_targets_expected(world, member, at, within)
    out["reports_mine"] = _reports_expected(world, member, at)
    return out


def _sweep_targets_expected(
    world: MeWorld, member: Member, at: datetime, within: int
) -> dict[str, object]:
    """Targets of the sweeps open at ``at`` whose point lies in the member's areas (shapely, the
    boundary rule), with no inspection of the thing from the sweep's start until ``at``; one per
    thing (the sweep ending first, then the lowest id), by the sweep's end and code; urgent when
    the sweep ends within ``within`` days. A volunteer reads no sweeps."""
    if member.role == Role.volunteer:
        return {"codes": [], "count": 0, "urgent": 0}
    kind, codes = areas_expected(world, member)
    at_ts = pd.Timestamp(at)
    targets = _frame(
        world.url,
        """SELECT t.sweep_id, t.kind, t.thing_id, t.code, s.starts_at, s.ends_at,
                  ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat
           FROM sweep_target t JOIN sweep s ON s.id = t.sweep_id""",
    )
    inspections = _frame(world.url, "SELECT kind, thing_id, inspected_at FROM inspection")
    starts = pd.to_datetime(targets.starts_at, utc=True)
    ends = pd.to_datetime(targets.ends_at, utc=True)
    mine = _located(world, targets[(starts <= at_ts) & (at_ts < ends)], kind, codes)
    joined = mine.merge(inspections, on=["kind", "thing_id"], how="inner")
    inspected = pd.to_datetime(joined.inspected_at, utc=True)
    done_rows = joined[
        (inspected >= pd.to_datetime(joined.starts_at, utc=True)) & (inspected <= at_ts)
    ]
    done = set(zip(done_rows.sweep_id, done_rows.kind, done_rows.thing_id, strict=True))
    keep = [
        (s, k, t) not in done
        for s, k, t in zip(mine.sweep_id, mine.kind, mine.thing_id, strict=True)
    ]
    left = mine[pd.Series(keep, index=mine.index, dtype=bool)].sort_values(
        ["kind", "thing_id", "ends_at", "sweep_id"]
    )
    left = left.drop_duplicates(["kind", "thing_id"]).sort_values(["ends_at", "code"])
    urgent = pd.to_datetime(left.ends_at, utc=True) <= at_ts + pd.Timedelta(days=within)
    return {"codes": list(left.code), "count": len(left), "urgent": int(urgent.sum())}


def _reports_expected(world: MeWorld, member: Member, at: datetime) -> dict[str, object]:
    """The member's own reports made by ``at`` and not closed by then (the steps up to ``at``),
    newest first; urgent while not accepted."""
    at_ts = pd.Timestamp(at)
    reports = _frame(
        world.url, "SELECT id, reported_at FROM report WHERE reporter = %s", (member.name,)
    )
    steps = _frame(world.url, "SELECT report_id, kind, at FROM report_step")
    steps = steps[pd.to_datetime(steps["at"], utc=True) <= at_ts]
    closed = set(steps[steps.kind == "close"].report_id)
    accepted = set(steps[steps.kind == "accept"].report_id)
    made = reports[pd.to_datetime(reports.reported_at, utc=True) <= at_ts]
    made = made[~made.id.isin(closed)]
    made = made.sort_values(["reported_at", "id"], ascending=[False, False])
    return {
        "codes": [str(i) for i in made.id],
        "count": len(made),
        "urgent": int((~made.id.isin(accepted)).sum()),
    }
