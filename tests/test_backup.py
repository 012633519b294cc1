"""geo-service backup and restore: a backup restored into a new database answers the same."""

from __future__ import annotations

import random
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner

from geo_service.cli import app as cli
from geo_service.db import connect, create_database, drop_database
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer
from tests.conftest import migrated_database, throwaway_url

runner = CliRunner()


def _run(database_url: str, *args: str) -> tuple[int, str]:
    """Run the geo-service command against a database; its exit code and everything it said."""
    result = runner.invoke(cli, list(args), env={"DATABASE_URL": database_url})
    return result.exit_code, result.output  # stdout and stderr, as a terminal shows them


def _row_counts(database_url: str) -> dict[str, int]:
    """Rows in every table of schema public."""
    with connect(database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {table: _count(conn, table) for table in tables}


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else -1


def test_a_restored_backup_has_the_same_rows_and_answers(
    database_url: str, client: TestClient, leader_token: str, tmp_path: Path
) -> None:
    dump = tmp_path / "geo.dump"
    code, said = _run(database_url, "backup", str(dump))
    assert code == 0, said
    assert dump.stat().st_size > 0 and "schema version" in said
    expected = _row_counts(database_url)
    assert expected["grid"] > 0 and expected["incident"] > 0 and expected["schema_migrations"] > 0

    target = throwaway_url("geo_restore")
    try:
        code, said = _run(target, "restore", str(dump))
        assert code == 0, said
        assert _row_counts(target) == expected
        assert len(expected) >= 20  # every table of the schema was compared

        with connect(database_url) as conn:  # the station's bounding box
            box = conn.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM station) s"
            ).fetchone()
        assert box is not None
        rng = random.Random(7)
        points = [(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])) for _ in range(200)]
        moments = ["2025-08-01T09:00:00", "2026-08-01T09:00:00"]
        answered = 0
        # the leader's token is in the backup too (users and tokens are restored with the rest)
        restored_app = create_app(Settings(database_url=target))
        with TestClient(restored_app, headers=bearer(leader_token)) as restored:
            for n, (lon, lat) in enumerate(points):
                params = {"lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "at": moments[n % 2]}
                ours = client.get("/api/v1/lookup", params=params)
                theirs = restored.get("/api/v1/lookup", params=params)
                assert (theirs.status_code, theirs.json()) == (ours.status_code, ours.json())
                answered += ours.status_code == 200
        assert len(points) == 200
        assert 100 <= answered < 200  # most points are inside the jurisdiction, some outside

        # a database that holds tables is not restored into, unless --force
        code, said = _run(target, "restore", str(dump))
        assert code != 0 and "--force" in said
        code, said = _run(target, "restore", "--force", str(dump))
        assert code == 0, said
        assert _row_counts(target) == expected
    finally:
        drop_database(target)


@pytest.fixture
def future_backup(tmp_path: Path) -> Path:
    """A backup made by a newer version of the code: a migration this code does not know."""
    with migrated_database("geo_future") as url:
        with connect(url) as conn:
            conn.execute("INSERT INTO schema_migrations (version) VALUES ('999_from_the_future')")
        dump = tmp_path / "future.dump"
        code, said = _run(url, "backup", str(dump))
        assert code == 0, said
    return dump


def test_a_backup_from_a_newer_version_is_refused(future_backup: Path) -> None:
    target = throwaway_url("geo_restore")
    try:
        code, said = _run(target, "restore", str(future_backup))
        assert code == 1
        assert "999_from_the_future" in said and "newer version" in said
        assert create_database(target)  # refused before anything was made
    finally:
        drop_database(target)


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    target = throwaway_url("geo_restore")
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump")
    try:
        for path in (junk, tmp_path / "missing.dump"):
            code, said = _run(target, "restore", str(path))
            assert code == 1 and str(path) in said
    finally:
        drop_database(target)


def test_backup_never_shows_the_password(tmp_path: Path) -> None:
    code, said = _run(
        "postgresql://postgres:hunter2-secret@127.0.0.1:1/nothing", "backup", str(tmp_path / "x")
    )
    assert code == 1 and "hunter2-secret" not in said and "Cannot connect" in said
