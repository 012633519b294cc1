"""Fixtures of the beat planning tests: a database of their own (they publish plans, which the
session's shared database must never see), clients of a planner and a leader, and the grids'
edge adjacency computed with shapely (the independent side of contiguity checks)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import loaded_database

# Two grids are neighbours when they share an edge of some length (degrees; corners are 0).
EDGE_MIN = 1e-9


@dataclass
class Planning:
    """The app on the planning tests' database, signed in as a planner and as a leader."""

    database_url: str
    planner: TestClient
    leader: TestClient


@pytest.fixture(scope="module")
def planning_db(sample_path: Path) -> Iterator[str]:
    """A database of the planning tests' own, with the sample loaded."""
    with loaded_database("geo_plans", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def planning(planning_db: str) -> Iterator[Planning]:
    """The app with a planner's and a leader's clients (one lifespan: one pool)."""
    app = create_app(Settings(database_url=planning_db))
    planner = bearer(make_user(planning_db, Role.planner))
    leader = bearer(make_user(planning_db, Role.leader))
    with TestClient(app, headers=planner) as as_planner:
        as_leader = TestClient(app, headers=leader)
        yield Planning(planning_db, as_planner, as_leader)


@pytest.fixture(scope="session")
def grid_graph(sample_path: Path) -> nx.Graph:
    """Grids (by code) joined when they share an edge, by shapely on the sample's file."""
    grids = gpd.read_file(sample_path, layer="grid").sort_values("code").reset_index(drop=True)
    geoms = grids.geometry.values
    tree = shapely.STRtree(geoms)
    graph = nx.Graph()
    graph.add_nodes_from(grids["code"])
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j and shapely.intersection(geoms[i], geoms[j]).length > EDGE_MIN:
            graph.add_edge(grids["code"][i], grids["code"][j])
    return graph


@pytest.fixture(scope="session")
def sample_plans(sample_path: Path) -> dict[str, dict[str, str]]:
    """Each plan of the sample's file: grid code -> beat code."""
    rows = pyogrio.read_dataframe(sample_path, layer="beat_grid", read_geometry=False)
    plans: dict[str, dict[str, str]] = {}
    for row in rows.itertuples():
        plans.setdefault(str(row.plan_code), {})[str(row.grid_code)] = str(row.beat_code)
    return plans


def contiguous(graph: nx.Graph, grids: set[str]) -> bool:
    """Whether grids form one piece through shared edges (networkx on shapely's adjacency)."""
    return bool(grids) and nx.is_connected(graph.subgraph(grids))


def beats_of(membership: dict[str, str | None]) -> dict[str, set[str]]:
    """beat code -> its grids, from grid code -> beat code."""
    beats: dict[str, set[str]] = {}
    for grid, beat in membership.items():
        if beat is not None:
            beats.setdefault(beat, set()).add(grid)
    return beats


def border_moves(graph: nx.Graph, membership: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(grid, beat) moves of a border grid to a neighbouring beat that keep both beats
    contiguous, in a fixed order."""
    beats = beats_of(dict(membership))
    for grid in sorted(membership):
        here = membership[grid]
        others = sorted({membership[n] for n in graph[grid]} - {here})
        rest = beats[here] - {grid}
        if not others or not contiguous(graph, rest):
            continue
        for there in others:
            yield grid, there
