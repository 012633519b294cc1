"""Migrations are idempotent; a broken load leaves the database as it was."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import h3.api.basic_int as h3
import pyogrio
import pytest
import shapely

from geo_service.db import connect, create_database, drop_database, migrate
from geo_service.errors import InvalidParameter
from geo_service.ingest.load import load_jurisdiction
from geo_service.settings import REPO_ROOT
from tests.conftest import migrated_database, throwaway_url


@pytest.fixture
def empty_db() -> Iterator[str]:
    """A throwaway database with the migrations applied and nothing loaded."""
    with migrated_database("geo_empty") as url:
        yield url


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


def test_migration_010_fills_the_cells_of_incidents_stored_before_it(
    sample_path: Path, tmp_path: Path
) -> None:
    """Incidents stored under the old schema (a resolution-10 cell only) get their cells at 7, 8
    and 9 from h3-py when the database is migrated; the columns are then NOT NULL."""
    old = tmp_path / "sql" / "migrations"
    old.mkdir(parents=True)
    for path in sorted((REPO_ROOT / "sql" / "migrations").glob("*.sql")):
        if path.stem < "010":
            shutil.copy(path, old)
    source = pyogrio.read_dataframe(sample_path, layer="incident")
    # the statuses of the old schema (015 added 'accepted' and 'cancelled')
    source["status"] = source["status"].where(
        source["status"].isin(["received", "dispatched", "arrived", "closed", "diverted"]),
        "closed",
    )
    xy = shapely.get_coordinates(source.geometry.values)
    ewkb = shapely.to_wkb(
        shapely.set_srid(source.geometry.values, 4326), hex=True, include_srid=True
    )
    url = throwaway_url("geo_old")
    create_database(url)
    try:
        migrate(url, old.parent)
        with (
            connect(url) as conn,
            conn.cursor().copy(
                "COPY incident (call_no, received_at, category, status, geom, h3) FROM STDIN"
            ) as copy,
        ):
            for i, row in source.iterrows():
                lon, lat = xy[i]
                cell = h3.latlng_to_cell(lat, lon, 10)
                copy.write_row(
                    (row.call_no, row.received_at, row.category, row.status, ewkb[i], cell)
                )
        assert migrate(url, REPO_ROOT / "sql")[0] == "010_incident_cells.sql"
        with connect(url) as conn:
            stored = conn.execute("SELECT call_no, h3_r7, h3_r8, h3_r9, h3 FROM incident")
            rows = {r[0]: r[1:] for r in stored}
            not_null = conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'incident' "
                "AND column_name IN ('h3', 'h3_r7', 'h3_r8', 'h3_r9') AND is_nullable = 'NO'"
            ).fetchone()[0]
            index = conn.execute("SELECT to_regclass('position_fix_geom_gix')").fetchone()[0]
    finally:
        drop_database(url)
    checked = 0
    for i, call_no in enumerate(source["call_no"]):
        lon, lat = xy[i]
        assert rows[call_no] == tuple(h3.latlng_to_cell(lat, lon, r) for r in (7, 8, 9, 10))
        checked += 1
    assert checked == len(rows) == 20_000
    assert not_null == 4
    assert index == "position_fix_geom_gix"
