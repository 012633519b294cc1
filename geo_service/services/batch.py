"""Batch lookup: many points (GeoJSON or CSV) to village, grid and beat codes, streamed back."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import orjson
import pandas as pd
from psycopg_pool import AsyncConnectionPool

from geo_service.crs import InputCRS, to_wgs84_arrays
from geo_service.errors import InvalidParameter, PayloadTooLarge

LOCATE_SQL = (
    "SELECT village_code, grid_code, beat_code FROM locate_points(%s::float8[], %s::float8[], %s)"
)
CHUNK = 20_000
CSV_COLUMNS = ("index", "id", "lon", "lat", "village_code", "grid_code", "beat_code")


@dataclass(frozen=True)
class PointBatch:
    """Points as given (lon, lat in the input CRS) with optional ids, in input order."""

    lon: np.ndarray
    lat: np.ndarray
    ids: list[str] | None
    kind: str  # "csv" or "geojson"
    x: np.ndarray | None = None  # WGS 84, once converted
    y: np.ndarray | None = None


def parse_batch(body: bytes, content_type: str, *, crs: InputCRS, max_points: int) -> PointBatch:
    """Read a CSV with lon/lat columns or a GeoJSON FeatureCollection of points, and convert
    them to WGS 84 (every error is raised here, before anything is streamed)."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        batch = _parse_csv(body)
    elif media in ("application/geo+json", "application/json"):
        batch = _parse_geojson(body)
    else:
        raise InvalidParameter(
            f"Content-Type '{media or 'none'}' is not accepted; send text/csv with lon and lat "
            "columns, or application/geo+json with a FeatureCollection of points",
            parameter="Content-Type",
        )
    if len(batch.lon) == 0:
        raise InvalidParameter("The batch holds no points", parameter="body")
    if len(batch.lon) > max_points:
        raise PayloadTooLarge(
            f"The batch holds {len(batch.lon)} points; at most {max_points} are accepted per "
            "request: split the file",
            parameter="body",
        )
    x, y = to_wgs84_arrays(batch.lon, batch.lat, crs)
    return replace(batch, x=x, y=y)


def _parse_csv(body: bytes) -> PointBatch:
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"The CSV cannot be read: {exc}", parameter="body") from None
    columns = {c.strip().lower(): c for c in frame.columns}
    if "lon" not in columns or "lat" not in columns:
        raise InvalidParameter(
            f"The CSV needs columns named lon and lat; it has {', '.join(frame.columns)}",
            parameter="body",
        )
    lon = _numbers(frame[columns["lon"]], "lon")
    lat = _numbers(frame[columns["lat"]], "lat")
    ids = frame[columns["id"]].tolist() if "id" in columns else None
    return PointBatch(lon, lat, ids, "csv")


def _numbers(column: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidParameter(
            f"Row {row + 1} of the CSV has {name} = '{column.iloc[row]}', which is not a number",
            parameter=name,
        )
    return values


def _parse_geojson(body: bytes) -> PointBatch:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"The body is not valid JSON: {exc}", parameter="body") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidParameter("The body must be a GeoJSON FeatureCollection", parameter="body")
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidParameter("The FeatureCollection has no features list", parameter="body")
    coords = np.empty((len(features), 2))
    ids: list[str] = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        xy = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(xy, list)
            or len(xy) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in xy[:2])
        ):
            raise InvalidParameter(
                f"Feature {i} is not a Point with numeric coordinates", parameter="body"
            )
        coords[i] = xy[:2]
        fid = feature.get("id")
        ids.append("" if fid is None else str(fid))
    return PointBatch(coords[:, 0], coords[:, 1], ids, "geojson")


async def locate_batch(
    pool: AsyncConnectionPool, batch: PointBatch, *, at: datetime
) -> AsyncIterator[bytes]:
    """Stream the located points back, CSV for CSV input and GeoJSON for GeoJSON input."""
    x, y = batch.x, batch.y
    assert x is not None and y is not None, "parse_batch converts the points"
    if batch.kind == "csv":
        yield (",".join(CSV_COLUMNS) + "\n").encode()
    else:
        yield b'{"type":"FeatureCollection","features":['
    async with pool.connection() as conn:
        for start in range(0, len(x), CHUNK):
            stop = min(start + CHUNK, len(x))
            cur = await conn.execute(
                LOCATE_SQL, (x[start:stop].tolist(), y[start:stop].tolist(), at)
            )
            rows = await cur.fetchall()
            if batch.kind == "csv":
                yield _csv_chunk(batch, start, rows)
            else:
                yield _geojson_chunk(batch, start, rows)
    if batch.kind != "csv":
        yield b"]}"


def _csv_chunk(batch: PointBatch, start: int, rows: list[tuple]) -> bytes:
    frame = pd.DataFrame(rows, columns=["village_code", "grid_code", "beat_code"])
    stop = start + len(rows)
    frame.insert(0, "index", np.arange(start, stop))
    frame.insert(1, "id", batch.ids[start:stop] if batch.ids else "")
    frame.insert(2, "lon", batch.lon[start:stop])
    frame.insert(3, "lat", batch.lat[start:stop])
    return frame.to_csv(header=False, index=False).encode()


def _geojson_chunk(batch: PointBatch, start: int, rows: list[tuple]) -> bytes:
    features = [
        {
            "type": "Feature",
            "id": batch.ids[start + i] if batch.ids and batch.ids[start + i] else start + i,
            "geometry": {
                "type": "Point",
                "coordinates": [float(batch.lon[start + i]), float(batch.lat[start + i])],
            },
            "properties": {
                "index": start + i,
                "village_code": village,
                "grid_code": grid,
                "beat_code": beat,
            },
        }
        for i, (village, grid, beat) in enumerate(rows)
    ]
    text = orjson.dumps(features)[1:-1]
    return (b"," + text) if start else text
