"""Patrol coverage: the H3 cells of each beat a patrol passed through in a period, one SQL call."""

from __future__ import annotations

import io
from datetime import datetime

import h3.api.basic_int as h3
import numpy as np
import orjson
import psycopg
import shapely

from geo_service.db import one
from geo_service.errors import InvalidParameter

H3_RESOLUTION = 10  # edge about 66 m: "about 65 m across"
# Any fixed number: the advisory lock that keeps two refreshes of the cell cache apart.
CELL_REFRESH_LOCK = 72_0681_110


async def patrol_coverage(
    conn: psycopg.AsyncConnection,
    *,
    start: datetime | None,
    end: datetime | None,
    plan: str | None,
) -> dict:
    """Per beat: cells, visited cells, share, fixes, last visit in [start, end).

    Without ``end``, the end of the station day of the latest position fix; without ``start``,
    30 days before the end. Without ``plan``, the beats of the plan in force at the end.
    """
    _check_period(start, end)
    sql = "SELECT patrol_coverage(%(start)s, %(end)s, %(plan)s)::text"
    return await _fresh_answer(conn, sql, {"start": start, "end": end, "plan": plan})


async def patrol_cells(
    conn: psycopg.AsyncConnection,
    *,
    beat: str | None,
    start: datetime | None,
    end: datetime | None,
    plan: str | None,
    only_visited: bool = False,
    after: int | None = None,
    limit: int | None = None,
) -> dict:
    """The cells of a beat (every beat when None) as GeoJSON hexagons with their last visit.

    A page: at most ``limit`` cells (None: all) in H3 index order after the cell ``after``;
    ``next_after`` in the answer is the cell to ask the next page after (None on the last).
    """
    _check_period(start, end)
    sql = (
        "SELECT patrol_cells(%(beat)s, %(start)s, %(end)s, %(plan)s, %(only)s, %(after)s, "
        "%(limit)s)::text"
    )
    params = {
        "beat": beat,
        "start": start,
        "end": end,
        "plan": plan,
        "only": only_visited,
        "after": after,
        "limit": limit,
    }
    return await _fresh_answer(conn, sql, params)


def parse_cell(text: str, *, parameter: str) -> int:
    """The key of a page of cells: the id of the last cell of the previous page (an H3 index in
    hex). Any key orders: cells are listed by their index, so any value in range will do."""
    try:
        cell = int(text.strip(), 16)
    except ValueError:
        cell = -1
    if not 0 <= cell < 1 << 63:
        raise InvalidParameter(
            f"'{text}' is not a cell id; give the id of the last cell of the previous page",
            parameter=parameter,
        )
    return cell


def _check_period(start: datetime | None, end: datetime | None) -> None:
    """A period must run forwards."""
    if start is not None and end is not None and end <= start:
        raise InvalidParameter(
            f"The period ends ({end.isoformat()}) before it starts ({start.isoformat()}).",
            parameter="to",
        )


async def _fresh_answer(conn: psycopg.AsyncConnection, query: str, params: dict) -> dict:
    """Run a coverage query; when the cell cache was stale, refresh it and ask again."""
    answer = await one_json(conn, query, params)
    if answer.get("cells_fresh") is False:
        await refresh_grid_cells(conn)
        answer = await one_json(conn, query, params)
    return answer


async def one_json(conn: psycopg.AsyncConnection, query: str, params: dict) -> dict:
    """One SQL call returning JSON text (an unknown plan or beat leaves as NotFound, by
    geo_service.db.translate)."""
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return orjson.loads(row[0]) if row and row[0] else {}


def cells_covering(outline: shapely.Geometry) -> np.ndarray:
    """H3 cells (resolution 10, int64) that overlap an outline in EPSG:4326: the candidates."""
    shape = h3.geo_to_h3shape(shapely.geometry.mapping(outline))
    cells = h3.h3shape_to_cells_experimental(shape, H3_RESOLUTION, contain="overlap")
    return np.fromiter(cells, dtype=np.int64, count=len(cells))


def cell_rows(cells: np.ndarray) -> str:
    """CSV rows ``h3,centre,hexagon`` (hex EWKB, EPSG:4326) of cells, for COPY."""
    centres = np.array([h3.cell_to_latlng(int(c)) for c in cells]).reshape(-1, 2)
    points = shapely.points(centres[:, 1], centres[:, 0])
    rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(int(c))] for c in cells]
    hexagons = shapely.polygons(rings) if rings else np.array([], dtype=object)
    out = io.StringIO()
    for cell, point, hexagon in zip(
        cells,
        shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True),
        shapely.to_wkb(shapely.set_srid(hexagons, 4326), hex=True, include_srid=True),
        strict=True,
    ):
        out.write(f"{int(cell)},{point},{hexagon}\n")
    return out.getvalue()


async def refresh_grid_cells(conn: psycopg.AsyncConnection) -> int:
    """Recompute the cached H3 cells of every grid (table grid_cell); return how many.

    Candidates are the cells overlapping the station's outline (h3-py); each is kept for the grid
    that contains its centre by the boundary rule (``grid_at_point``). One transaction, under an
    advisory lock so that concurrent requests refresh once.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CELL_REFRESH_LOCK,))
        cur = await conn.execute("SELECT fresh FROM grid_cell_state")
        row = await cur.fetchone()
        if row and row[0]:
            cur = await conn.execute("SELECT count(*) FROM grid_cell")
            return int(one(await cur.fetchone(), "the count of cached cells")[0])
        cur = await conn.execute("SELECT ST_AsBinary(ST_Union(geom)) FROM station")
        row = await cur.fetchone()
        cells = (
            cells_covering(shapely.from_wkb(bytes(row[0])))
            if row and row[0]
            else np.array([], dtype=np.int64)
        )
        await conn.execute(
            "CREATE TEMP TABLE grid_cell_candidate (h3 bigint, centre geometry, geom geometry)"
            " ON COMMIT DROP"
        )
        async with conn.cursor().copy(
            "COPY grid_cell_candidate (h3, centre, geom) FROM STDIN (FORMAT csv)"
        ) as copy:
            await copy.write(cell_rows(cells))
        # stored as the owner (store_grid_cells): the boundary rule sees every grid, whoever asks
        cur = await conn.execute(
            "SELECT store_grid_cells(array_agg(h3), array_agg(centre), array_agg(geom))"
            " FROM grid_cell_candidate"
        )
        count = int(one(await cur.fetchone(), "the cells stored")[0] or 0)
        return count


async def beat_outlines(conn: psycopg.AsyncConnection, *, plan: str | None, at: datetime) -> dict:
    """Beat outlines of the plan named (or in force at ``at``), simplified, as GeoJSON."""
    return await one_json(
        conn, "SELECT analysis_beat_outlines(%(plan)s, %(at)s)::text", {"plan": plan, "at": at}
    )
