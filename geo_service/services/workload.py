"""Each beat's workload: the grids' parts from one SQL call, added up per beat with weights.

The index of a beat is a weighted sum of its parts, each divided by that part's mean per beat
(so every part counts in the same units), scaled so that the mean beat is 100. It adds up over
grids, which is what lets a rebalance move it grid by grid (services/balance.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo_service.errors import InvalidParameter
from geo_service.services.incidents import CATEGORIES
from geo_service.services.patrol import one_json, refresh_grid_cells

PARTS = ("incidents", "rentals", "markers", "road_m", "area_m2", "cells")
# Defaults written in the README (## Beat planning): what a part weighs in the index, and
# what one incident of a category counts for in the incidents part.
DEFAULT_PART_WEIGHTS: dict[str, float] = {
    "incidents": 0.5,
    "rentals": 0.15,
    "markers": 0.05,
    "road_m": 0.1,
    "area_m2": 0.1,
    "cells": 0.1,
}
DEFAULT_CATEGORY_WEIGHTS: dict[str, float] = {
    "theft": 1.0,
    "fraud": 1.0,
    "dispute": 1.2,
    "traffic": 1.0,
    "public_order": 1.2,
    "assistance": 0.6,
    "drowning": 2.0,
    "non_police": 0.3,
}
MAX_WEIGHT = 1000.0


@dataclass(frozen=True)
class Weights:
    """What each part weighs in the index, and each incident category in the incidents part."""

    parts: dict[str, float]
    categories: dict[str, float]

    @classmethod
    def of(
        cls, parts: dict[str, float] | None = None, categories: dict[str, float] | None = None
    ) -> Weights:
        """The defaults with the given weights over them; refuses unknown names, negative or
        non-finite weights, and weights that leave nothing to count."""
        merged_parts = _merge(DEFAULT_PART_WEIGHTS, parts or {}, "weights")
        merged_categories = _merge(DEFAULT_CATEGORY_WEIGHTS, categories or {}, "categories")
        if not any(merged_parts.values()):
            raise InvalidParameter("At least one part must weigh more than 0.", parameter="weights")
        return cls(merged_parts, merged_categories)


def _merge(defaults: dict[str, float], given: dict[str, float], parameter: str) -> dict[str, float]:
    """defaults updated with given, every value checked."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InvalidParameter(
            f"Unknown {parameter}: {', '.join(unknown)}; known: {', '.join(defaults)}.",
            parameter=parameter,
        )
    merged = dict(defaults)
    for name, value in given.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidParameter(f"{parameter}.{name} must be a number.", parameter=parameter)
        if not 0 <= value <= MAX_WEIGHT:
            raise InvalidParameter(
                f"{parameter}.{name} must be between 0 and {MAX_WEIGHT:g}, not {value}.",
                parameter=parameter,
            )
        merged[name] = float(value)
    return merged


@dataclass
class PlanGrids:
    """A plan's beats and every grid with its beat, lock, village and parts (arrays in grid
    code order), and the grids' shared edges."""

    plan: dict[str, Any]
    period: tuple[str, str]
    beat_codes: list[str]
    beats: list[dict[str, Any]]  # code, name, locked, officer
    grid_codes: list[str]
    grid_ids: np.ndarray
    villages: np.ndarray  # village index per grid
    village_codes: list[str]
    beat: np.ndarray  # beat index per grid, -1 for a grid in no beat of the plan
    grid_locked: np.ndarray
    parts: dict[str, np.ndarray]  # PARTS, incidents by category as "incidents:<category>"
    area_m2: np.ndarray
    perimeter_m: np.ndarray
    edges: np.ndarray  # (m, 2) grid indices
    shared_m: np.ndarray  # (m,) shared edge length

    @property
    def beat_locked(self) -> np.ndarray:
        return np.array([bool(b["locked"]) for b in self.beats], dtype=bool)

    def part_values(self, weights: Weights) -> dict[str, np.ndarray]:
        """Each part per grid, the incidents weighted by category."""
        values = {p: self.parts[p] for p in PARTS if p != "incidents"}
        values["incidents"] = sum(
            (weights.categories[c] * self.parts[f"incidents:{c}"] for c in CATEGORIES),
            np.zeros(len(self.grid_codes)),
        )
        return values

    def grid_index(self, weights: Weights) -> np.ndarray:
        """Each grid's share of the index (the mean beat is 100); grids in no beat count 0."""
        values = self.part_values(weights)
        assigned = self.beat >= 0
        beats = max(len(self.beats), 1)
        total_weight = 0.0
        index = np.zeros(len(self.grid_codes))
        for part, weight in weights.parts.items():
            mean = values[part][assigned].sum() / beats
            if weight <= 0 or mean <= 0:
                continue
            index += weight * values[part] / mean
            total_weight += weight
        if total_weight > 0:
            index *= 100.0 / total_weight
        index[~assigned] = 0.0
        return index


async def load_plan_grids(
    conn: psycopg.AsyncConnection,
    *,
    plan: str,
    start: datetime | None,
    end: datetime | None,
) -> PlanGrids:
    """A plan's grids and beats with the parts of [start, end) (one SQL call; the patrol cells'
    cache is refreshed first when stale)."""
    sql = "SELECT plan_workload_grids(%(plan)s, %(start)s, %(end)s)::text"
    params = {"plan": plan, "start": start, "end": end}
    answer = await one_json(conn, sql, params)
    if answer.get("cells_fresh") is False:
        await refresh_grid_cells(conn)
        answer = await one_json(conn, sql, params)
    return plan_grids_of(answer)


def plan_grids_of(answer: dict[str, Any]) -> PlanGrids:
    """The arrays of plan_workload_grids' answer."""
    beats = answer["beats"]
    beat_codes = [b["code"] for b in beats]
    beat_at = {code: i for i, code in enumerate(beat_codes)}
    grids = answer["grids"]
    village_codes = sorted({g["village"] for g in grids})
    village_at = {code: i for i, code in enumerate(village_codes)}
    grid_at = {g["id"]: i for i, g in enumerate(grids)}
    parts: dict[str, np.ndarray] = {
        p: np.array([float(g[p]) for g in grids]) for p in PARTS if p != "incidents"
    }
    for c in CATEGORIES:
        parts[f"incidents:{c}"] = np.array([float(g["incidents"].get(c, 0)) for g in grids])
    parts["incidents"] = sum((parts[f"incidents:{c}"] for c in CATEGORIES), np.zeros(len(grids)))
    pairs = [(grid_at[a], grid_at[b], m) for a, b, m in answer["edges"]]
    return PlanGrids(
        plan=answer["plan"],
        period=(answer["from"], answer["to"]),
        beat_codes=beat_codes,
        beats=beats,
        grid_codes=[g["code"] for g in grids],
        grid_ids=np.array([g["id"] for g in grids], dtype=np.int64),
        villages=np.array([village_at[g["village"]] for g in grids], dtype=np.int64),
        village_codes=village_codes,
        beat=np.array(
            [beat_at[g["beat"]] if g["beat"] is not None else -1 for g in grids], dtype=np.int64
        ),
        grid_locked=np.array([bool(g["locked"]) for g in grids], dtype=bool),
        parts=parts,
        area_m2=parts["area_m2"],
        perimeter_m=np.array([float(g["perimeter_m"]) for g in grids]),
        edges=np.array([(a, b) for a, b, _ in pairs], dtype=np.int64).reshape(-1, 2),
        shared_m=np.array([m for _, _, m in pairs], dtype=float),
    )


def beat_shapes(pg: PlanGrids, beat: np.ndarray) -> dict[str, np.ndarray]:
    """Per beat under an assignment: grids, pieces (edge-connected components), area and
    perimeter of the outline (metres: the grids' perimeters less twice their shared edges
    inside the beat), Polsby-Popper compactness and the villages it splits."""
    k = len(pg.beats)
    assigned = beat >= 0
    grids = np.bincount(beat[assigned], minlength=k)
    area = np.bincount(beat[assigned], weights=pg.area_m2[assigned], minlength=k)
    perimeter = np.bincount(beat[assigned], weights=pg.perimeter_m[assigned], minlength=k)
    a, b = pg.edges[:, 0], pg.edges[:, 1]
    inside = (beat[a] == beat[b]) & (beat[a] >= 0)
    perimeter -= 2 * np.bincount(beat[a][inside], weights=pg.shared_m[inside], minlength=k)
    pieces = np.zeros(k, dtype=np.int64)
    n = len(beat)
    if n:
        graph = coo_matrix((np.ones(int(inside.sum())), (a[inside], b[inside])), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        for i in range(k):
            pieces[i] = len(np.unique(label[beat == i]))
    with np.errstate(divide="ignore", invalid="ignore"):
        compactness = np.where(perimeter > 0, 4 * math.pi * area / perimeter**2, 0.0)
    # a village is split when its grids lie in more than one beat
    pairs = {(int(v), int(bt)) for v, bt in zip(pg.villages[assigned], beat[assigned], strict=True)}
    beats_of_village = np.bincount([v for v, _ in pairs], minlength=len(pg.village_codes))
    split = np.zeros(k, dtype=np.int64)
    for v, bt in pairs:
        if beats_of_village[v] > 1:
            split[bt] += 1
    return {
        "grids": grids,
        "pieces": pieces,
        "area_m2": area,
        "perimeter_m": perimeter,
        "compactness": compactness,
        "villages_split": split,
    }


def beat_table(pg: PlanGrids, weights: Weights, beat: np.ndarray | None = None) -> list[dict]:
    """Each beat's parts, index, deviation from the mean (%), contiguity, compactness, villages
    it splits and community officer, under the plan's assignment or the one given."""
    beat = pg.beat if beat is None else beat
    k = len(pg.beats)
    assigned = beat >= 0
    values = pg.part_values(weights)
    index = np.bincount(beat[assigned], weights=pg.grid_index(weights)[assigned], minlength=k)

    def per_beat(v: np.ndarray) -> np.ndarray:
        return np.bincount(beat[assigned], weights=v[assigned], minlength=k)

    sums = {p: per_beat(v) for p, v in values.items()}
    incidents = per_beat(pg.parts["incidents"])
    shapes = beat_shapes(pg, beat)
    rows = []
    for i, info in enumerate(pg.beats):
        rows.append(
            {
                "code": info["code"],
                "name": info["name"],
                "locked": bool(info["locked"]),
                "officer": info["officer"],
                "grids": int(shapes["grids"][i]),
                "parts": {
                    "incidents": round(float(incidents[i])),
                    "incidents_weighted": round(float(sums["incidents"][i]), 2),
                    "rentals": round(float(sums["rentals"][i])),
                    "markers": round(float(sums["markers"][i])),
                    "road_km": round(float(sums["road_m"][i]) / 1000, 3),
                    "area_km2": round(float(sums["area_m2"][i]) / 1e6, 4),
                    "cells": round(float(sums["cells"][i])),
                },
                "index": round(float(index[i]), 2),
                "deviation_pct": round(float(index[i]) - 100.0, 2),
                "contiguous": bool(shapes["pieces"][i] == 1),
                "pieces": int(shapes["pieces"][i]),
                "compactness": round(float(shapes["compactness"][i]), 4),
                "perimeter_km": round(float(shapes["perimeter_m"][i]) / 1000, 3),
                "villages_split": int(shapes["villages_split"][i]),
            }
        )
    return rows


def weights_answer(weights: Weights) -> dict[str, Any]:
    """The weights an answer was computed with."""
    return {"parts": weights.parts, "categories": weights.categories}


async def plan_workload(
    conn: psycopg.AsyncConnection,
    *,
    plan: str,
    start: datetime | None,
    end: datetime | None,
    weights: Weights,
) -> dict[str, Any]:
    """A plan's beats with their workload parts, index and shape, and the grids in no beat."""
    pg = await load_plan_grids(conn, plan=plan, start=start, end=end)
    rows = beat_table(pg, weights)
    deviations = [abs(r["deviation_pct"]) for r in rows]
    return {
        "plan": pg.plan,
        "from": pg.period[0],
        "to": pg.period[1],
        "weights": weights_answer(weights),
        "mean_index": 100.0,
        "max_deviation_pct": max(deviations, default=0.0),
        "beats": rows,
        "unassigned_grids": [c for c, b in zip(pg.grid_codes, pg.beat, strict=True) if b < 0],
    }
