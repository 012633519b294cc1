"""Each beat's workload over HTTP against an independent computation: the parts with
geopandas/shapely over the sample GeoPackage (boundary rule for points, road lengths and areas
in EPSG:4549, H3 cells by their centres), the index with pandas, contiguity with networkx over
shapely's shared edges, compactness from shapely's union of each beat's grids; on the plan in
force and on many drafts with random moves."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import h3.api.basic_int as h3
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.balance_fixtures import (
    draft_assignment,
    make_draft,
    move_grids,
)
from tests.reference import Reference

pytest_plugins = ["tests.balance_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

METRIC = "EPSG:4549"
CATS = [
    "theft",
    "fraud",
    "dispute",
    "traffic",
    "public_order",
    "assistance",
    "drowning",
    "non_police",
]


class Sample:
    """The sample's grids and what lies in them, computed with geopandas and shapely."""

    def __init__(self, path: Path, reference: Reference) -> None:
        grids = reference.grids
        self.codes = list(grids["code"])
        self.village = dict(zip(grids["code"], grids["village_code"], strict=True))
        metric = grids.to_crs(METRIC)
        self.area = dict(zip(grids["code"], metric.area, strict=True))
        self.perimeter = dict(zip(grids["code"], metric.length, strict=True))
        self.geom = dict(zip(grids["code"], metric.geometry, strict=True))

        def owner(points: gpd.GeoDataFrame) -> pd.Series:
            found = reference.locate(points.geometry.values, "2026-01-01T00:00:00+00:00")
            return pd.Series([f[1] if f else None for f in found], index=points.index)

        rentals = gpd.read_file(path, layer="rental_house")
        markers = gpd.read_file(path, layer="water_marker")
        self.rentals = owner(rentals).value_counts()
        self.markers = owner(markers).value_counts()
        incidents = gpd.read_file(path, layer="incident")
        incidents["grid"] = owner(incidents)
        incidents["at"] = pd.to_datetime(incidents["received_at"], utc=True, format="ISO8601")
        self.incidents = incidents[["grid", "category", "at"]]
        roads = gpd.read_file(path, layer="road").to_crs(METRIC)
        pieces = gpd.overlay(
            roads[["geometry"]],
            metric[["code", "geometry"]],
            how="intersection",
            keep_geom_type=False,
        )
        self.road = pieces.assign(m=pieces.length).groupby("code")["m"].sum()
        # H3 cells (resolution 10) by their centre, lowest grid code on a shared edge
        cells: dict[str, int] = {}
        seen: set[int] = set()
        for code in self.codes:
            shape = h3.geo_to_h3shape(
                shapely.geometry.mapping(grids.set_index("code").geometry[code])
            )
            found = set(h3.h3shape_to_cells_experimental(shape, 10, contain="center")) - seen
            seen |= found
            cells[code] = len(found)
        self.cells = pd.Series(cells)
        # rook neighbours with their shared edge length
        self.graph = nx.Graph()
        self.graph.add_nodes_from(self.codes)
        tree = shapely.STRtree(metric.geometry.values)
        left, right = tree.query(metric.geometry.values, predicate="intersects")
        for i, j in zip(left, right, strict=True):
            if i < j:
                shared = shapely.intersection(metric.geometry.values[i], metric.geometry.values[j])
                length = (
                    shapely.length(
                        shapely.line_merge(
                            shapely.get_parts(shared)[
                                shapely.get_type_id(shapely.get_parts(shared)) != 0
                            ]
                        )
                    ).sum()
                    if not shared.is_empty
                    else 0.0
                )
                if length > 0:
                    self.graph.add_edge(self.codes[i], self.codes[j])

    def parts(
        self, start: pd.Timestamp, end: pd.Timestamp, cat_weights: dict[str, float]
    ) -> pd.DataFrame:
        """Per grid: incidents (count and weighted), rentals, markers, road, area, cells."""
        inc = self.incidents[(self.incidents["at"] >= start) & (self.incidents["at"] < end)]
        counts = inc.groupby(["grid", "category"]).size().unstack(fill_value=0)
        counts = counts.reindex(index=self.codes, columns=CATS, fill_value=0)
        frame = pd.DataFrame(index=self.codes)
        frame["incidents_count"] = counts.sum(axis=1)
        frame["incidents"] = sum(counts[c] * cat_weights[c] for c in CATS)
        frame["rentals"] = self.rentals.reindex(self.codes, fill_value=0)
        frame["markers"] = self.markers.reindex(self.codes, fill_value=0)
        frame["road_m"] = self.road.reindex(self.codes, fill_value=0.0)
        frame["area_m2"] = pd.Series(self.area)
        frame["cells"] = self.cells.reindex(self.codes, fill_value=0)
        return frame


@pytest.fixture(scope="module")
def sample(sample_path: Path, reference: Reference) -> Sample:
    return Sample(sample_path, reference)


def expected(sample: Sample, answer: dict, assignment: dict[str, str]) -> pd.DataFrame:
    """Per beat with pandas: parts, index (mean beat 100), deviation, pieces (networkx),
    compactness (shapely union), villages split."""
    w = answer["weights"]
    frame = sample.parts(pd.Timestamp(answer["from"]), pd.Timestamp(answer["to"]), w["categories"])
    frame["beat"] = pd.Series(assignment)
    frame = frame[frame["beat"].notna()]
    per_beat = frame.groupby("beat").sum(numeric_only=True)
    k = len(per_beat)
    index = (
        sum(
            w["parts"][p] * per_beat[p] / (per_beat[p].sum() / k)
            for p in w["parts"]
            if w["parts"][p] > 0 and per_beat[p].sum() > 0
        )
        * 100
        / sum(v for p, v in w["parts"].items() if v > 0 and per_beat[p].sum() > 0)
    )
    per_beat["index"] = index
    per_beat["deviation"] = index - 100
    for beat, grids in frame.groupby("beat").groups.items():
        union = shapely.union_all([sample.geom[g] for g in grids])
        per_beat.loc[beat, "pieces"] = nx.number_connected_components(sample.graph.subgraph(grids))
        per_beat.loc[beat, "pp"] = 4 * math.pi * union.area / union.length**2
    villages = frame.groupby(frame.index.map(sample.village))["beat"].nunique()
    split = {v for v, n in villages.items() if n > 1}
    per_beat["split"] = [
        len({sample.village[g] for g in grids} & split)
        for beat, grids in frame.groupby("beat").groups.items()
    ]
    return per_beat


def check(answer: dict, want: pd.DataFrame) -> None:
    got = {b["code"]: b for b in answer["beats"]}
    assert set(got) == set(want.index)
    for code, row in want.iterrows():
        b = got[code]
        assert b["parts"]["incidents"] == row["incidents_count"], code
        assert b["parts"]["incidents_weighted"] == pytest.approx(row["incidents"], abs=0.01)
        assert b["parts"]["rentals"] == row["rentals"], code
        assert b["parts"]["markers"] == row["markers"], code
        assert b["parts"]["road_km"] == pytest.approx(row["road_m"] / 1000, abs=2e-3), code
        assert b["parts"]["area_km2"] == pytest.approx(row["area_m2"] / 1e6, abs=2e-4), code
        assert b["parts"]["cells"] == row["cells"], code
        assert b["index"] == pytest.approx(row["index"], abs=0.02), code
        assert b["deviation_pct"] == pytest.approx(row["deviation"], abs=0.02), code
        assert b["pieces"] == row["pieces"], code
        assert b["contiguous"] == (row["pieces"] == 1), code
        assert b["compactness"] == pytest.approx(row["pp"], abs=2e-4), code
        assert b["villages_split"] == row["split"], code


def test_workload_of_the_plan_in_force(
    planner: TestClient, sample: Sample, planning_url: str
) -> None:
    r = planner.get("/api/v1/plans/2026/workload")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["plan"]["code"] == "2026"
    check(answer, expected(sample, answer, draft_assignment(planning_url, "2026")))
    assert all(b["officer"] for b in answer["beats"])
    assert answer["max_deviation_pct"] == pytest.approx(
        max(abs(b["deviation_pct"]) for b in answer["beats"])
    )


def test_weights_and_period(planner: TestClient, sample: Sample, planning_url: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        body = {
            "weights": {
                p: float(rng.uniform(0, 2))
                for p in ("incidents", "rentals", "markers", "road_m", "area_m2", "cells")
            },
            "categories": {c: float(rng.uniform(0, 3)) for c in CATS},
            "from": "2026-02-01T00:00:00+08:00",
            "to": f"2026-{rng.integers(3, 11):02d}-15T00:00:00+08:00",
        }
        r = planner.post("/api/v1/plans/2026/workload", json=body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["weights"]["parts"] == pytest.approx(body["weights"])
        check(answer, expected(sample, answer, draft_assignment(planning_url, "2026")))


def test_drafts_with_random_moves(planner: TestClient, sample: Sample, planning_url: str) -> None:
    """Grids moved at random break contiguity and change compactness and splits: every
    figure follows."""
    rng = np.random.default_rng(11)
    code = make_draft(planning_url)
    beats = sorted(set(draft_assignment(planning_url, code).values()))
    broken = 0
    for _ in range(12):
        grids = rng.choice(sample.codes, size=int(rng.integers(1, 8)), replace=False)
        move_grids(planning_url, code, {g: str(rng.choice(beats)) for g in grids})
        r = planner.get(f"/api/v1/plans/{code}/workload")
        assert r.status_code == 200, r.text
        answer = r.json()
        check(answer, expected(sample, answer, draft_assignment(planning_url, code)))
        broken += sum(not b["contiguous"] for b in answer["beats"])
    assert broken  # the random moves did break some beats, and that was seen


def test_bad_requests(planner: TestClient) -> None:
    r = planner.get("/api/v1/plans/no-such-plan/workload")
    assert r.status_code == 404 and r.json()["parameter"] == "plan", r.text
    r = planner.post("/api/v1/plans/2026/workload", json={"weights": {"bananas": 1}})
    assert r.status_code == 422 and "body.weights." in r.text, r.text
    r = planner.post("/api/v1/plans/2026/workload", json={"weights": {"rentals": -1}})
    assert r.status_code == 422 and "body.weights." in r.text, r.text
    zero = {p: 0 for p in ("incidents", "rentals", "markers", "road_m", "area_m2", "cells")}
    r = planner.post("/api/v1/plans/2026/workload", json={"weights": zero})
    assert r.status_code == 422, r.text
    r = planner.get(
        "/api/v1/plans/2026/workload", params={"from": "2026-05-01", "to": "2026-04-01"}
    )
    assert r.status_code == 422 and r.json()["parameter"] == "from", r.text
    r = planner.post("/api/v1/plans/2026/workload", json={"categories": {"theft": "x"}})
    assert r.status_code == 422, r.text
