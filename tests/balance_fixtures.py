"""Fixtures of the workload and rebalance tests: a database of their own (drafts are written
in it) with the sample loaded, a planner's client, and drafts made by inserting rows (as
planning's POST /api/v1/plans will)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database


@pytest.fixture(scope="session")
def planning_url(sample_path: Path) -> Iterator[str]:
    """A throwaway database with the sample loaded, where drafts are made and changed."""
    with loaded_database("geo_balance", sample_path) as url:
        yield url


@pytest.fixture(scope="session")
def planner(planning_url: str) -> Iterator[TestClient]:
    """The app on that database, signed in as a planner."""
    token = make_user(planning_url, Role.planner, name="balance_planner")
    settings = Settings(database_url=planning_url, balance_seconds=20)
    with TestClient(create_app(settings), headers=bearer(token)) as client:
        yield client


def make_draft(url: str, base: str = "2026") -> str:
    """A new draft copying a plan's beats and grids; answers its code."""
    code = f"t-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url) as conn:
        pid = conn.execute(
            """INSERT INTO beat_plan (code, name, status, based_on)
               SELECT %s, 'test draft', 'draft', id FROM beat_plan WHERE code = %s
               RETURNING id""",
            (code, base),
        ).fetchone()
        assert pid, base
        conn.execute(
            """INSERT INTO beat (plan_id, code, name)
               SELECT %s, b.code, b.name FROM beat b JOIN beat_plan p ON p.id = b.plan_id
               WHERE p.code = %s""",
            (pid[0], base),
        )
        conn.execute(
            """INSERT INTO beat_grid (plan_id, grid_id, beat_id)
               SELECT %(pid)s, bg.grid_id, nb.id
               FROM beat_grid bg JOIN beat_plan p ON p.id = bg.plan_id AND p.code = %(base)s
               JOIN beat ob ON ob.id = bg.beat_id
               JOIN beat nb ON nb.plan_id = %(pid)s AND nb.code = ob.code""",
            {"pid": pid[0], "base": base},
        )
    return code


def draft_assignment(url: str, code: str) -> dict[str, str]:
    """grid code -> beat code of a plan."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT g.code, b.code FROM beat_grid bg JOIN beat_plan p ON p.id = bg.plan_id
               JOIN grid g ON g.id = bg.grid_id JOIN beat b ON b.id = bg.beat_id
               WHERE p.code = %s""",
            (code,),
        ).fetchall()
    return dict(rows)


def move_grids(url: str, code: str, moves: dict[str, str]) -> None:
    """Put grids (by code) in beats (by code) of a draft."""
    with psycopg.connect(url) as conn:
        for grid, beat in moves.items():
            conn.execute(
                """UPDATE beat_grid bg SET beat_id = b.id
                   FROM beat_plan p, beat b, grid g
                   WHERE p.code = %(plan)s AND bg.plan_id = p.id AND b.plan_id = p.id
                     AND b.code = %(beat)s AND g.code = %(grid)s AND bg.grid_id = g.id""",
                {"plan": code, "beat": beat, "grid": grid},
            )


def lock(url: str, code: str, *, grids: Sequence[str] = (), beats: Sequence[str] = ()) -> None:
    """Lock grids and beats of a draft."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """UPDATE beat_grid bg SET locked = true FROM beat_plan p, grid g
               WHERE p.code = %s AND bg.plan_id = p.id AND g.id = bg.grid_id
                 AND g.code = ANY(%s)""",
            (code, list(grids)),
        )
        conn.execute(
            """UPDATE beat b SET locked = true FROM beat_plan p
               WHERE p.code = %s AND b.plan_id = p.id AND b.code = ANY(%s)""",
            (code, list(beats)),
        )
