"""Benchmark: importing the large sample's grids from GeoPackage, against GDAL's ogr2ogr.

Run with `python -m bench --only import` (or `python -m bench.imports`); always on the large
sample, whatever --scale says. Both load the same
file into the same scratch database in the same run; ogr2ogr only copies, the import reads,
converts, checks validity, types, codes, gaps, overlaps and villages, and stores. Each is run
several times (interleaved, the grid table emptied untimed in between) and the medians compared:
single runs vary by about 15 % on a shared 2-core machine.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.harness import ensure_tool, parser, sample_file
from geo_service.db import connect, create_database, drop_database, migrate
from geo_service.ingest.imports import import_layer
from geo_service.settings import load_settings

GOAL = 2.0
SCRATCH_SCHEMA = "ogr_scratch"


def scratch_database() -> str:
    """A fresh database with the migrations, the station and the villages (not timed)."""
    url = make_conninfo(load_settings().database_url, dbname="geo_bench_import")
    drop_database(url)
    create_database(url)
    migrate(url, load_settings().sql_dir)
    return url


def time_ogr2ogr(ogr2ogr: str, url: str, path: Path, *, limit: int | None = None) -> float:
    """Seconds for ogr2ogr to copy the grid layer into a scratch table of the database (with
    its defaults: COPY, then a GiST index on the geometry); `limit` copies only so many rows."""
    with connect(url) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA))
        )
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH_SCHEMA)))
    params = conninfo_to_dict(url)
    target = "PG:" + " ".join(f"{k}={v}" for k, v in params.items())
    start = time.perf_counter()
    subprocess.run(
        [ogr2ogr, "-f", "PostgreSQL", target, str(path), "grid", "-nln", f"{SCRATCH_SCHEMA}.grid"]
        + (["-limit", str(limit)] if limit is not None else []),
        check=True,
    )
    seconds = time.perf_counter() - start
    with connect(url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.grid").format(sql.Identifier(SCRATCH_SCHEMA))
        ).fetchone()[0]
        indexed = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE %s",
            (SCRATCH_SCHEMA, "%USING gist%"),
        ).fetchone()[0]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA)))
    if limit is None:
        print(f"ogr2ogr copied {rows:,} grids ({indexed} GiST index) in {seconds:.2f} s")
    return seconds


def empty_grids(url: str) -> None:
    """Empty the grid table (not timed), so the next import stores into an empty table again."""
    with connect(url) as conn:
        conn.execute("TRUNCATE grid CASCADE")


def time_import(url: str, path: Path, layer: str) -> tuple[float, str]:
    """Seconds for `geo-service import PATH --layer LAYER`, and the report's count line."""
    start = time.perf_counter()
    with connect(url) as conn:
        report = import_layer(conn, path, layer=layer, sliver_m2=load_settings().import_sliver_m2)
    seconds = time.perf_counter() - start
    counts = (
        f"{report.rows_read:,} read, {report.added:,} added, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged; {len(report.findings)} findings"
    )
    return seconds, counts


def main(argv: list[str] | None = None) -> None:
    """Run the import benchmark and print the median times and their ratio."""
    p = parser(__doc__)
    p.add_argument("--runs", type=int, default=7, help="runs of each (medians compared)")
    args = p.parse_args(argv)
    ogr2ogr = ensure_tool("ogr2ogr", "gdal-bin")
    version = subprocess.run([ogr2ogr, "--version"], capture_output=True, text=True).stdout.strip()
    path = sample_file("large")
    url = scratch_database()
    for layer in ("station", "village"):
        time_import(url, path, layer)
    ogr_runs, first_runs = [], []
    for run in range(args.runs):
        ogr_runs.append(time_ogr2ogr(ogr2ogr, url, path))
        if run:
            empty_grids(url)
        first_s, first = time_import(url, path, "grid")
        print(f"geo-service import stored the grids in {first_s:.2f} s")
        first_runs.append(first_s)
    again_s, again = time_import(url, path, "grid")
    ogr_empty_s = time_ogr2ogr(ogr2ogr, url, path, limit=0)
    ogr_s, first_s = statistics.median(ogr_runs), statistics.median(first_runs)
    print(
        f"\n## Import of the large sample's grids from GeoPackage ({version}), "
        f"median of {args.runs}"
    )
    print(f"{'method':<52}{'seconds':>10}{'ratio':>8}")
    print(f"{'ogr2ogr -f PostgreSQL (copy + GiST index)':<52}{ogr_s:>10.2f}{1:>8.2f}")
    print(
        f"{'geo-service import --layer grid (into empty table)':<52}{first_s:>10.2f}"
        f"{first_s / ogr_s:>8.2f}"
    )
    print(
        f"{'geo-service import --layer grid (again, replace)':<52}{again_s:>10.2f}"
        f"{again_s / ogr_s:>8.2f}"
    )
    print(
        f"{'(ogr2ogr of no rows: its start, connection, table)':<52}{ogr_empty_s:>10.2f}"
        f"{ogr_empty_s / ogr_s:>8.2f}"
    )
    print(f"first import: {first}")
    print(f"again: {again}")
    print(
        "runs (s): ogr2ogr "
        + ", ".join(f"{x:.2f}" for x in ogr_runs)
        + "; import "
        + ", ".join(f"{x:.2f}" for x in first_runs)
    )
    verdict = "met" if first_s / ogr_s <= GOAL else "not met"
    print(f"ratio import/ogr2ogr: {first_s / ogr_s:.2f} (goal <= {GOAL:g}): {verdict}")
    drop_database(url)


if __name__ == "__main__":
    main()
