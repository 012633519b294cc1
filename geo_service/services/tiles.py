"""Mapbox vector tiles of the large layers (incidents, grids, position fixes, ...) from ST_AsMVT."""

from __future__ import annotations

from datetime import datetime

import psycopg

from geo_service.errors import InvalidParameter, NotFound
from geo_service.services.layers import LAYERS, Layer

MAX_ZOOM = 22
TILE_LAYERS = tuple(name for name, layer in LAYERS.items() if layer.tiles)


def tile_layer(name: str) -> Layer:
    """The layer served as tiles under this name, or NotFound naming those that are."""
    layer = LAYERS.get(name)
    if layer is None or not layer.tiles:
        raise NotFound(
            f"There are no tiles of layer '{name}'. Tiled layers: {', '.join(TILE_LAYERS)}.",
            parameter="layer",
        )
    return layer


def check_tile(z: int, x: int, y: int) -> None:
    """Raise InvalidParameter naming z, x or y when the tile is outside the Web Mercator grid."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter(f"z must be in [0, {MAX_ZOOM}], got {z}", parameter="z")
    side = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < side:
            raise InvalidParameter(
                f"{name} must be in [0, {side - 1}] at zoom {z}, got {value}", parameter=name
            )


async def vector_tile(
    conn: psycopg.AsyncConnection,
    *,
    layer: Layer,
    z: int,
    x: int,
    y: int,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    categories: tuple[str, ...] | None = None,
    plan_id: int | None = None,
) -> bytes:
    """The tile as MVT bytes (empty when nothing is in it); one SQL call."""
    check_tile(z, x, y)
    cur = await conn.execute(
        """SELECT layer_tile(%(layer)s, %(z)s, %(x)s, %(y)s, %(t0)s, %(t1)s, %(cats)s,
                             coalesce(%(plan)s, CASE WHEN %(layer)s = 'beat'
                                                     THEN plan_in_force(now()) END))""",
        {
            "layer": layer.name,
            "z": z,
            "x": x,
            "y": y,
            "t0": time_from if layer.timed else None,
            "t1": time_to if layer.timed else None,
            "cats": list(categories) if categories and layer.name == "incident" else None,
            "plan": plan_id,
        },
    )
    row = await cur.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
