"""Shared fixtures: a throwaway PostGIS database with the real migrations and the sample loaded."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo_service.accounts.roles import Role
from geo_service.db import connect, create_database, drop_database, migrate
from geo_service.ingest.load import load_jurisdiction
from geo_service.main import create_app
from geo_service.sample import generate_sample
from geo_service.settings import REPO_ROOT, Settings
from tests.accounts import bearer, make_user
from tests.browser import (  # noqa: F401  (fixtures for every page test)
    browser,
    browser_user,
    live_url,
)
from tests.reference import Reference

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def throwaway_url(prefix: str) -> str:
    """A new database name on the test server (never the one DATABASE_URL names)."""
    params = conninfo_to_dict(SERVER_URL)
    params["dbname"] = f"{prefix}_{uuid.uuid4().hex[:10]}"
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sample (seed 1), generated once per test session."""
    return generate_sample(tmp_path_factory.mktemp("sample"), seed=1, scale="small")


@contextmanager
def migrated_database(prefix: str) -> Iterator[str]:
    """A throwaway database with the migrations applied and nothing loaded, dropped after.

    A missing PostgreSQL or PostGIS fails the tests: this never skips.
    """
    url = throwaway_url(prefix)
    create_database(url)
    try:
        migrate(url, REPO_ROOT / "sql")
        yield url
    finally:
        drop_database(url)


@contextmanager
def loaded_database(prefix: str, sample_path: Path) -> Iterator[str]:
    """A throwaway database with the migrations applied and the sample loaded, dropped after."""
    with migrated_database(prefix) as url:
        with connect(url) as conn:
            load_jurisdiction(conn, sample_path)
        yield url


@pytest.fixture(scope="session")
def database_url(sample_path: Path) -> Iterator[str]:
    """The session's database: the sample loaded, shared by tests that only read."""
    with loaded_database("geo_test", sample_path) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Settings pointing at the throwaway database."""
    return Settings(database_url=database_url)


@pytest.fixture(scope="session")
def leader_token(database_url: str) -> str:
    """An API token of a leader (sees everything, phones in full)."""
    return make_user(database_url, Role.leader)


@pytest.fixture(scope="session")
def client(settings: Settings, leader_token: str) -> Iterator[TestClient]:
    """The app under test, with its lifespan (pool) running, signed in as a leader."""
    with TestClient(create_app(settings), headers=bearer(leader_token)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def grids(sample_path: Path) -> gpd.GeoDataFrame:
    """The sample's grids, read with geopandas: the independent side of spatial checks."""
    return gpd.read_file(sample_path, layer="grid")


@pytest.fixture(scope="session")
def reference(sample_path: Path, grids: gpd.GeoDataFrame) -> Reference:
    """The boundary rule computed with shapely over the sample's grids and plans."""
    return Reference(sample_path, grids)
