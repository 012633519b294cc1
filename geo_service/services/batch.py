"""Batch lookup: many points (GeoJSON or CSV) to village, grid and beat codes, streamed back.

One SQL call fetches the grids with their village and beat codes in force at the moment;
the points are then assigned in process with a shapely STRtree, by the same boundary rule as
the SQL lookup (the lowest-coded grid whose closed outline contains the point). A million
points is one index query, not a million database probes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from geo_service.crs import InputCRS, to_wgs84_arrays
from geo_service.errors import InvalidParameter, PayloadTooLarge

GRIDS_SQL = "SELECT grid_code, village_code, beat_code, ST_AsBinary(geom) FROM grids_in_force(%s)"
CHUNK = 100_000
CSV_COLUMNS = ("index", "id", "lon", "lat", "village_code", "grid_code", "beat_code")


@dataclass(frozen=True)
class PointBatch:
    """Points as given (lon, lat in the input CRS) with optional ids, in input order, and the
    same points in WGS 84 (x, y)."""

    lon: np.ndarray
    lat: np.ndarray
    ids: np.ndarray | None
    kind: str  # "csv" or "geojson"
    x: np.ndarray
    y: np.ndarray


# What a parser reads: lon, lat, ids and the kind of input.
Parsed = tuple[np.ndarray, np.ndarray, np.ndarray | None, str]


@dataclass(frozen=True)
class GridIndex:
    """The grids in force at a moment, in code order, with an STRtree over their outlines."""

    tree: shapely.STRtree
    grid: np.ndarray
    village: np.ndarray
    beat: np.ndarray


def parse_batch(body: bytes, content_type: str, *, crs: InputCRS, max_points: int) -> PointBatch:
    """Read a CSV with lon/lat columns or a GeoJSON FeatureCollection of points, and convert
    them to WGS 84 (every error is raised here, before anything is streamed)."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        lon, lat, ids, kind = _parse_csv(body)
    elif media in ("application/geo+json", "application/json"):
        lon, lat, ids, kind = _parse_geojson(body)
    else:
        raise InvalidParameter(
            f"Content-Type '{media or 'none'}' is not accepted; send text/csv with lon and lat "
            "columns, or application/geo+json with a FeatureCollection of points",
            parameter="Content-Type",
        )
    if len(lon) == 0:
        raise InvalidParameter("The batch holds no points", parameter="body")
    if len(lon) > max_points:
        raise PayloadTooLarge(
            f"The batch holds {len(lon)} points; at most {max_points} are accepted per "
            "request: split the file",
            parameter="body",
        )
    x, y = to_wgs84_arrays(lon, lat, crs)
    return PointBatch(lon, lat, ids, kind, x, y)


def _parse_csv(body: bytes) -> Parsed:
    """lon, lat and optional id columns of a UTF-8 CSV; anything undecodable or ambiguous is
    an InvalidParameter saying what to fix: bytes that are not UTF-8, rows with more or fewer
    fields than the header, a column named twice, a missing column, a value that is not a
    finite number."""
    _check_utf8(body)
    ragged: list[str] = []

    def refuse_row(row: pacsv.InvalidRow) -> str:
        where = f"Row {row.number - 1} of the CSV" if row.number else "A row of the CSV"
        ragged.append(
            f"{where} has {row.actual_columns} fields where the header has "
            f"{row.expected_columns}: {row.text[:80]!r}"
        )
        return "error"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            parse_options=pacsv.ParseOptions(invalid_row_handler=refuse_row),
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=False, null_values=[], quoted_strings_can_be_null=False
            ),
        )
    except pa.ArrowException as exc:
        detail = ragged[0] if ragged else f"The CSV cannot be read: {exc}"
        raise InvalidParameter(detail, parameter="body") from None
    columns: dict[str, int] = {}
    for position, name in enumerate(table.column_names):
        key = name.strip().lower()
        if key in columns:
            raise InvalidParameter(
                f"The CSV names the column '{key}' more than once (columns "
                f"{columns[key] + 1} and {position + 1}); keep one",
                parameter="body",
            )
        columns[key] = position
    if "lon" not in columns or "lat" not in columns:
        raise InvalidParameter(
            f"The CSV needs columns named lon and lat; it has {', '.join(table.column_names)}",
            parameter="body",
        )
    lon = _numbers(table.column(columns["lon"]), "lon")
    lat = _numbers(table.column(columns["lat"]), "lat")
    ids = None
    if "id" in columns:
        ids = table.column(columns["id"]).cast(pa.string()).to_numpy(zero_copy_only=False)
    return lon, lat, ids, "csv"


def _check_utf8(body: bytes) -> None:
    """Refuse a body that is not UTF-8, naming the line and the first bad byte."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise InvalidParameter(
            f"The CSV is not UTF-8: line {line} has the byte 0x{body[exc.start]:02x} "
            f"(at offset {exc.start}); save the file as UTF-8",
            parameter="body",
        ) from None


def _numbers(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """A column as floats; the first value that is not a number is named with its row
    (non-finite values are refused later, with the coordinates' ranges)."""
    numeric = pa.types.is_floating(column.type) or pa.types.is_integer(column.type)
    if numeric and column.null_count == 0:
        return column.to_numpy().astype(float)
    text = pd.Series(column.cast(pa.string()).to_pandas(), dtype=object)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values) & ~text.str.strip().str.lower().eq("nan").to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InvalidParameter(
            f"Row {row + 1} of the CSV has {name} = '{text.iloc[row]}', which is not a number",
            parameter=name,
        )
    return values


def _parse_geojson(body: bytes) -> Parsed:
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
    ids = np.empty(len(features), dtype=object)
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
        ids[i] = feature.get("id", i)
    return coords[:, 0], coords[:, 1], ids, "geojson"


async def grid_index(conn: psycopg.AsyncConnection, *, at: datetime) -> GridIndex:
    """The grids in force at a moment, fetched in one call and indexed in process."""
    cur = await conn.execute(GRIDS_SQL, (at,))
    rows = await cur.fetchall()
    return GridIndex(
        tree=shapely.STRtree(shapely.from_wkb([bytes(row[3]) for row in rows])),
        grid=np.array([row[0] for row in rows], dtype=object),
        village=np.array([row[1] for row in rows], dtype=object),
        beat=np.array([row[2] for row in rows], dtype=object),
    )


def assign(index: GridIndex, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each point, the position of its grid in the index (-1 outside): the lowest-coded
    grid whose closed outline contains it."""
    point, grid = index.tree.query(shapely.points(x, y), predicate="intersects")
    best = np.full(len(x), -1)
    order = np.lexsort((-grid, point))  # per point, the lowest grid position comes last
    best[point[order]] = grid[order]
    return best


def located_chunks(index: GridIndex, batch: PointBatch) -> Iterator[bytes]:
    """The located points, CSV for CSV input and GeoJSON for GeoJSON input, in chunks."""
    found = assign(index, batch.x, batch.y)
    codes = {
        # None outside every grid, as an object array (numpy's stubs read a bare None as the
        # one-argument np.where)
        name: np.where(found >= 0, column[np.maximum(found, 0)], np.array(None, dtype=object))
        for name, column in (
            ("village_code", index.village),
            ("grid_code", index.grid),
            ("beat_code", index.beat),
        )
    }
    if batch.kind == "csv":
        yield (",".join(CSV_COLUMNS) + "\n").encode()
    else:
        yield b'{"type":"FeatureCollection","features":['
    for start in range(0, len(found), CHUNK):
        part = slice(start, start + CHUNK)
        chunk = {name: column[part] for name, column in codes.items()}
        if batch.kind == "csv":
            yield _csv_chunk(batch, part, chunk)
        else:
            yield _geojson_chunk(batch, part, chunk)
    if batch.kind != "csv":
        yield b"]}"


def _csv_chunk(batch: PointBatch, part: slice, codes: dict[str, np.ndarray]) -> bytes:
    n = len(codes["grid_code"])
    table = pa.table(
        {
            "index": np.arange(part.start, part.start + n),
            "id": pa.array(batch.ids[part] if batch.ids is not None else [None] * n, pa.string()),
            "lon": batch.lon[part],
            "lat": batch.lat[part],
            **{name: pa.array(values, pa.string()) for name, values in codes.items()},
        }
    )
    out = io.BytesIO()
    pacsv.write_csv(
        table,
        out,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return out.getvalue()


def _geojson_chunk(batch: PointBatch, part: slice, codes: dict[str, np.ndarray]) -> bytes:
    n = len(codes["grid_code"])
    ids = batch.ids[part] if batch.ids is not None else range(part.start, part.start + n)
    features = [
        {
            "type": "Feature",
            "id": fid,
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
            "properties": {
                "index": part.start + i,
                "village_code": codes["village_code"][i],
                "grid_code": codes["grid_code"][i],
                "beat_code": codes["beat_code"][i],
            },
        }
        for i, (fid, lon, lat) in enumerate(zip(ids, batch.lon[part], batch.lat[part], strict=True))
    ]
    text = orjson.dumps(features)[1:-1]
    return (b"," + text) if part.start and text else text
