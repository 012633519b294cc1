"""Who covers a point: one SQL call, its JSON answer passed through, outside points as errors."""

from __future__ import annotations

from datetime import datetime

import orjson
import psycopg

from geo_service.crs import InputCRS, to_wgs84
from geo_service.errors import OutsideJurisdiction

# The answer comes back as bytea in binary format: PostgreSQL's JSON text, byte for byte, with
# nothing decoded or encoded on the way; only an outside answer is parsed, to name the nearest.
LOOKUP_SQL = (
    "SELECT inside, convert_to(answer::text, 'UTF8'), answer->'grid'->>'code' FROM "
    "lookup_point(%(lon)s, %(lat)s, %(at)s, %(marker_radius_m)s, %(water_radius_m)s)"
)


async def lookup_point(
    conn: psycopg.AsyncConnection,
    *,
    lon: float,
    lat: float,
    crs: InputCRS,
    at: datetime,
    marker_radius_m: float,
    water_radius_m: float,
) -> tuple[bytes, str]:
    """The lookup answer as JSON bytes and the code of the grid it answered; raises
    OutsideJurisdiction naming the nearest village."""
    x, y = to_wgs84(lon, lat, crs)
    cur = await conn.execute(
        LOOKUP_SQL,
        {
            "lon": x,
            "lat": y,
            "at": at,
            "marker_radius_m": marker_radius_m,
            "water_radius_m": water_radius_m,
        },
        prepare=True,
        binary=True,
    )
    row = await cur.fetchone()
    inside, answer, grid = row if row else (False, b'{"outside": true, "nearest": null}', None)
    if not inside:
        nearest = orjson.loads(answer)["nearest"]
        where = (
            f"the nearest area is {nearest['kind']} {nearest['name']} ({nearest['code']}), "
            f"{nearest['distance_m']} m away"
            if nearest
            else "no area is loaded yet"
        )
        raise OutsideJurisdiction(
            f"The point ({x:.6f}, {y:.6f}) is outside the station's jurisdiction; {where}.",
            nearest=nearest,
        )
    return bytes(answer), grid
