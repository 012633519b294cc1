"""Migrations are idempotent; a broken load leaves the database as it was."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from geo_service.db import connect, create_database, drop_database, migrate
from geo_service.errors import InvalidParameter
from geo_service.ingest.load import load_jurisdiction
from geo_service.settings import REPO_ROOT
from tests.conftest import throwaway_url


@pytest.fixture
def empty_db():
    url = throwaway_url("geo_empty")
    create_database(url)
    migrate(url, REPO_ROOT / "sql")
    yield url
    drop_database(url)


def test_migrate_twice_applies_migrations_once(empty_db: str) -> None:
    again = migrate(empty_db, REPO_ROOT / "sql")
    functions = sorted(p.name for p in (REPO_ROOT / "sql" / "functions").glob("*.sql"))
    assert again == functions  # migrations ran once; function files are re-applied every time
    with connect(empty_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    migrations = sorted(p.stem for p in (REPO_ROOT / "sql" / "migrations").glob("*.sql"))
    assert sorted(versions) == migrations


def test_a_load_that_fails_changes_nothing(
    empty_db: str, sample_path: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gpkg"
    for layer, _ in pyogrio.list_layers(sample_path):
        frame = pyogrio.read_dataframe(sample_path, layer=layer)
        if layer == "beat_grid":
            frame.loc[0, "grid_code"] = "999999999999999"  # names a grid that does not exist
        pyogrio.write_dataframe(frame, broken, layer=layer)
    with connect(empty_db) as conn, pytest.raises(InvalidParameter, match="beat_grid"):
        load_jurisdiction(conn, broken)
    with connect(empty_db) as conn:
        for table in ("station", "village", "grid", "beat_plan", "beat", "person"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_missing_file_is_a_clear_error(empty_db: str, tmp_path: Path) -> None:
    with connect(empty_db) as conn, pytest.raises(InvalidParameter, match="geo-service sample"):
        load_jurisdiction(conn, tmp_path / "nope.gpkg")


def test_a_load_leaves_planner_statistics(database_url: str) -> None:
    with connect(database_url) as conn:
        analysed = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public'"
            )
        }
    assert {"grid", "assignment", "person", "water_body", "incident"} <= analysed
