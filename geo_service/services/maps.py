"""Layers the map pages draw: the neutral basemap and the overview's layers; each one SQL call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from geo_service.errors import InvalidParameter

Scope = tuple[bool, tuple[int, ...], tuple[int, ...]]  # sees all, grid ids, village ids
# Simplified basemaps by (server, database, tolerance, the user's scope): (basemap_version,
# Basemap). The version is bumped by triggers on station, village, road and water_body
# (migration 007); the scope is part of the key since row-level security gives a grid worker or a
# volunteer only the villages, roads and water of their areas.
_BASEMAPS: dict[tuple[str, str, float | None, Scope], tuple[int, Basemap]] = {}


BASEMAP_LAYERS = ("villages", "water", "roads", "town")
_EMPTY = '{"type":"FeatureCollection","features":[]}'


@dataclass(frozen=True)
class Basemap:
    """The jurisdiction's own layers as GeoJSON FeatureCollection text, and the station's bbox."""

    bbox: tuple[float, float, float, float]  # west, south, east, north
    layers_json: dict[str, str]  # villages, water, roads, town

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        """The layers parsed (a fresh copy)."""
        return {k: orjson.loads(v) for k, v in self.layers_json.items()}


async def basemap(conn: psycopg.AsyncConnection, *, tolerance_m: float | None = None) -> Basemap:
    """The station's bbox and town, villages, roads and water as GeoJSON FeatureCollection text
    (simplified by tolerance_m metres; None: a 1500th of the jurisdiction's width). Kept in
    memory per scope of user until those tables change, so a page pays one tiny query for it."""
    cur = await conn.execute(
        "SELECT basemap_version(), app_sees_all(), app_grids(), app_villages()"
    )
    row = await cur.fetchone()
    version, sees_all, grids, villages = row if row else (-1, False, [], [])
    scope: Scope = (True, (), ()) if sees_all else (False, tuple(grids), tuple(villages))
    key = (f"{conn.info.host}:{conn.info.port}", conn.info.dbname, tolerance_m, scope)
    cached = _BASEMAPS.get(key)
    if cached is None or cached[0] != version:
        cur = await conn.execute("SELECT basemap_layers(%(tol)s)::text", {"tol": tolerance_m})
        row = await cur.fetchone()
        data = orjson.loads(row[0]) if row and row[0] else {}
        layers = data.get("layers") or {}
        bbox = data.get("bbox") or []
        cached = (
            version,
            Basemap(
                bbox=tuple(bbox) if len(bbox) == 4 else (120.0, 29.5, 120.6, 30.0),
                layers_json={
                    k: orjson.dumps(layers[k]).decode() if layers.get(k) else _EMPTY
                    for k in BASEMAP_LAYERS
                },
            ),
        )
        _BASEMAPS[key] = cached
    return cached[1]


OVERVIEW_LAYERS = (
    "villages",
    "grids",
    "beats",
    "water_markers",
    "rental_houses",
    "cameras",
    "work_points",
)
BBox = tuple[float, float, float, float]


async def own_areas_bbox(conn: psycopg.AsyncConnection) -> BBox | None:
    """The box of the signed-in user's own areas (their grids or villages), None when none."""
    cur = await conn.execute("SELECT me_areas_bbox()")
    row = await cur.fetchone()
    if not row or not row[0]:
        return None
    west, south, east, north = (float(v) for v in row[0])
    return west, south, east, north


def parse_layers(text: str | None) -> tuple[str, ...] | None:
    """'grids,cameras' → ('grids', 'cameras'); an unknown layer is a 422 naming it."""
    if not text or not text.strip():
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in OVERVIEW_LAYERS]
    if unknown:
        raise InvalidParameter(
            f"Unknown layers {unknown}; known: {', '.join(OVERVIEW_LAYERS)}", parameter="layers"
        )
    return names or None


def parse_bbox(text: str | None) -> BBox | None:
    """'west,south,east,north' in degrees (WGS 84); anything else is a 422 naming bbox."""
    if not text or not text.strip():
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter(
            f"'{text}' is not west,south,east,north in degrees", parameter="bbox"
        ) from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidParameter(
            f"'{text}' is not a box: need -180 <= west < east <= 180, -90 <= south < north <= 90",
            parameter="bbox",
        )
    return w, s, e, n


async def overview_layers(
    conn: psycopg.AsyncConnection,
    *,
    at: datetime,
    layers: tuple[str, ...] | None = None,
    bbox: BBox | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Villages, grids and beats in force at ``at`` with their people; water markers, rentals,
    cameras and work points: GeoJSON FeatureCollections keyed by layer (every layer asked for,
    empty ones included); within ``bbox``, at most ``limit`` features a layer ("truncated")."""
    cur = await conn.execute(
        "SELECT overview_layers(%(at)s, %(layers)s, CASE WHEN %(w)s::float8 IS NULL THEN NULL"
        " ELSE ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) END, %(limit)s)::text",
        {
            "at": at,
            "layers": list(layers) if layers else None,
            "w": bbox[0] if bbox else None,
            "s": bbox[1] if bbox else None,
            "e": bbox[2] if bbox else None,
            "n": bbox[3] if bbox else None,
            "limit": limit,
        },
    )
    row = await cur.fetchone()
    data = orjson.loads(row[0]) if row and row[0] else {}
    empty = {"type": "FeatureCollection", "total": 0, "truncated": False, "features": []}
    return {name: data.get(name) or dict(empty) for name in layers or OVERVIEW_LAYERS}
