"""Benchmark: server time to build the heatmap and hexagon pages vs a bare GROUP BY of the cells.

Run with `python -m bench --only maps --scale large` (1,000,000 incidents), or
`python -m bench.maps` (large by default). For a 30-day and a 365-day
window ending with the latest incident, it times the service functions that build each page
(aggregation in PostGIS, Folium map, rendered HTML) and the data answer, against a bare
`SELECT h3_r<r>, count(*) ... GROUP BY 1` (the stored cells at r) over the same rows, in the
same run.
Goals: at most 3x the bare aggregation, under 2 MB of HTML and data per page.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql

from bench.harness import parser, sample_database
from geo_service.cells import INCIDENT_CELL_COLUMNS
from geo_service.maps.heatmap import heatmap_page
from geo_service.maps.hexagons import hexagon_page
from geo_service.maps.render import render
from geo_service.moments import STATION_TZ
from geo_service.services.incidents import IncidentFilter
from geo_service.settings import load_settings

BARE = sql.SQL(
    "SELECT {} AS cell, count(*) FROM incident "
    "WHERE received_at >= %(t0)s AND received_at < %(t1)s GROUP BY 1"
)
RATIO_GOAL = 3.0
BYTES_GOAL = 2_000_000
FIRST: list[float] = []  # seconds of each timed() warm-up run (cold caches on the first page)


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs (after one warm-up) and the last result."""
    first = time.perf_counter()
    result = await fn()
    FIRST.append(time.perf_counter() - first)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


async def run(url: str, *, repeat: int, resolution: int) -> None:
    """Time both pages for both windows and print the table with ratios and goals."""
    settings = load_settings(database_url=url)
    options = "-c TimeZone=Asia/Shanghai -c jit=off"  # as the service's pool sets them
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, options=options) as conn:
        cur = await conn.execute("SELECT count(*) FROM incident")
        (incidents,) = await cur.fetchone()  # type: ignore[misc]
        cur = await conn.execute("SELECT window_end FROM incident_default_window(1)")
        (end,) = await cur.fetchone()  # type: ignore[misc]
        print(f"incidents: {incidents:,}; windows end {end.astimezone(STATION_TZ):%Y-%m-%d}")
        header = (
            f"{'page':<10}{'window':>8}{'cells':>8}{'res':>5}{'bare ms':>10}{'page ms':>10}"
            f"{'ratio':>8}{'HTML MB':>9}{'data MB':>9}  goal (<= {RATIO_GOAL:g}x, < 2 MB)"
        )
        print(header)
        for days in (30, 365):
            flt = IncidentFilter(start=end - timedelta(days=days), end=end)

            async def heat_page(flt: IncidentFilter = flt) -> tuple[str, Any]:
                m, data = await heatmap_page(conn, settings=settings, lang="zh", flt=flt)
                return render(m, settings=settings), data

            async def hex_page(flt: IncidentFilter = flt) -> tuple[str, Any]:
                m, data = await hexagon_page(
                    conn, settings=settings, lang="zh", flt=flt, resolution=resolution
                )
                return render(m, settings=settings), data

            page_s, (page, data) = await timed(heat_page, repeat)
            res = data.resolution or 10
            bare_s, rows = await timed(
                lambda res=res, flt=flt: _bare(conn, res, flt.start, flt.end), repeat
            )
            _line("heatmap", days, len(rows), res, bare_s, page_s, page, data.as_json())
            span = flt.end - flt.start  # the hexagon page also counts the previous period
            page_s, (page, fc) = await timed(hex_page, repeat)
            bare_s, rows = await timed(
                lambda flt=flt, span=span: _bare(conn, resolution, flt.start - span, flt.end),
                repeat,
            )
            _line("hexagons", days, len(rows), resolution, bare_s, page_s, page, fc)


async def _bare(conn: psycopg.AsyncConnection, res: int, t0: Any, t1: Any) -> list[tuple]:
    column = sql.Identifier(INCIDENT_CELL_COLUMNS[res])  # the stored cell at res
    cur = await conn.execute(BARE.format(column), {"t0": t0, "t1": t1})
    return await cur.fetchall()


def _line(
    name: str, days: int, cells: int, res: int, bare_s: float, page_s: float, page: str, data: Any
) -> None:
    ratio = page_s / bare_s  # medians of warm runs; FIRST[-2] is the page's cold warm-up
    html_b = len(page.encode())
    data_b = len(orjson.dumps(data))
    met = (
        "met" if ratio <= RATIO_GOAL and html_b < BYTES_GOAL and data_b < BYTES_GOAL else "NOT met"
    )
    print(
        f"{name:<10}{days:>7}d{cells:>8,}{res:>5}{bare_s * 1e3:>10.0f}{page_s * 1e3:>10.0f}"
        f"{ratio:>7.2f}x{html_b / 1e6:>9.2f}{data_b / 1e6:>9.2f}  {met}"
        f" (first run {FIRST[-2] * 1e3:.0f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: the options of bench.harness.parser (large by default), --resolution R."""
    p = parser(__doc__)
    p.set_defaults(scale="large")
    p.add_argument("--resolution", type=int, default=8, choices=range(7, 11))
    args = p.parse_args(argv)
    url = sample_database(args.scale)
    asyncio.run(run(url, repeat=args.repeat, resolution=args.resolution))


if __name__ == "__main__":
    main()
