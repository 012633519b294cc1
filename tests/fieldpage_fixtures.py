"""Fixtures of the phone page "my area" (tests/test_me.py, tests/test_me_page.py): a loaded
database of its own where rental houses and water markers also stand exactly on grid borders
and vertices, a grid worker holds two neighbouring grids, some incidents carry caller details;
users of each role of the page; and the expected answers recomputed with pandas and shapely."""

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

LISTS = ("rentals_due", "markers_due", "markers_broken", "cameras_out", "incidents_recent")
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
        yield MeWorld(url, users, reference, worker, [r[0] for r in rows])


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
    return out
