"""Writes a user makes on the way, whatever their scope: a grid worker whose request finds the
patrol cell cache stale refreshes it for every grid, not only the grids they see."""

from __future__ import annotations

from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.db import connect
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user

OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


def cached_cells(database_url: str) -> list[tuple[int, int]]:
    """(h3, grid id) of every cached cell, as the owner sees them."""
    with connect(database_url) as conn:
        return conn.execute("SELECT h3, grid_id FROM grid_cell ORDER BY h3").fetchall()


def test_a_grid_worker_refreshes_the_whole_cell_cache(client: TestClient, database_url: str):
    assert client.get("/api/v1/patrol/coverage", params=OCTOBER).status_code == 200
    whole = cached_cells(database_url)  # refreshed for a leader (station scope)
    with connect(database_url) as conn:
        conn.execute("UPDATE grid SET name = name WHERE id = (SELECT min(id) FROM grid)")
        conn.commit()
        assert conn.execute("SELECT fresh FROM grid_cell_state").fetchone() == (False,)
        grids = conn.execute("SELECT count(DISTINCT grid_id) FROM grid_cell").fetchone()
    token = make_user(database_url, Role.grid_worker)
    with TestClient(create_app(Settings(database_url=database_url)), headers=bearer(token)) as c:
        answer = c.get("/api/v1/patrol/coverage", params=OCTOBER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cells_fresh"] is True
    assert cached_cells(database_url) == whole and len(whole) > 1000
    assert grids is not None and grids[0] > 1  # every grid's cells, not only the worker's one
