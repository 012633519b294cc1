"""Import one layer of the model from a file: read, convert, check, store in one transaction."""

from __future__ import annotations

import functools
import gc
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from tqdm import tqdm

from geo_service.cells import h3_cells, incident_cells
from geo_service.db import one
from geo_service.errors import DomainError, InvalidParameter
from geo_service.ingest.imports.apply import apply_layer, record
from geo_service.ingest.imports.checks import (
    RULES,
    apply_mapping,
    as_multi,
    check_attributes,
    check_geometry_types,
    check_tiling,
    check_values,
    repair,
    rows_text,
)
from geo_service.ingest.imports.read import (
    checked_conversion,
    coordinates_problem,
    read_source,
    source_conversion,
)
from geo_service.ingest.imports.report import REFUSAL, WARNING, ImportReport, report_text
from geo_service.ingest.load import (
    COMMAND_LAYERS,
    FIELD_LAYERS,
    INCIDENT_COLUMNS,
    LAYERS,
    LayerLoad,
    _ewkb,
)

__all__ = ["IMPORT_LAYERS", "MODES", "ImportReport", "import_layer", "parse_mapping", "report_text"]

# Events go through the loader's staging tables (stamped by store_staged_*); their H3 cells are
# computed (incidents at resolutions 7..10, position fixes at 10).
EVENT_SPECS = (
    LayerLoad(
        "incident",
        (*INCIDENT_COLUMNS, "geom", "h3", "h3_r9", "h3_r8", "h3_r7"),
        """INSERT INTO incident_staging (call_no, received_at, category, status, caller_phone,
                                         address, description, geom, h3, h3_r9, h3_r8, h3_r7)
           SELECT s.call_no, s.received_at::timestamptz, s.category, s.status,
                  nullif(s.caller_phone, ''), nullif(s.address, ''), nullif(s.description, ''),
                  s.geom::geometry, s.h3::bigint, s.h3_r9::bigint, s.h3_r8::bigint,
                  s.h3_r7::bigint
           FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM incident i WHERE i.call_no = s.call_no)""",
    ),
    LayerLoad(
        "position_fix",
        ("person_code", "recorded_at", "geom", "h3"),
        """INSERT INTO position_fix_staging (ord, person_id, recorded_at, geom, h3)
           SELECT s.n, p.id, s.recorded_at::timestamptz, s.geom::geometry, s.h3::bigint
           FROM {s} s JOIN person p ON p.code = s.person_code
           WHERE NOT EXISTS (SELECT 1 FROM position_fix f WHERE f.person_id = p.id
                             AND f.recorded_at = s.recorded_at::timestamptz
                             AND f.geom = s.geom::geometry)""",
    ),
)
COMPUTED = ("h3", "h3_r9", "h3_r8", "h3_r7")
SPECS: dict[str, LayerLoad] = {
    spec.layer: spec for spec in (*LAYERS, *EVENT_SPECS, *COMMAND_LAYERS, *FIELD_LAYERS)
}
IMPORT_LAYERS = tuple(SPECS)
MODES = ("replace", "upsert")
# Files with at least this many rows show a progress bar (when asked for).
PROGRESS_MIN_ROWS = 5_000
P = ParamSpec("P")
R = TypeVar("R")


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """--map field=column options as {field: column}."""
    mapping: dict[str, str] = {}
    for item in items or []:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InvalidParameter(
                f"--map takes field=column (a field of the layer = a column of the file), "
                f"not {item!r}",
                parameter="map",
            )
        mapping[field.strip()] = column.strip()
    return mapping


_frozen = 0  # imports running with the collector's older objects frozen
_frozen_lock = threading.Lock()


def _collector_spared(function: Callable[P, R]) -> Callable[P, R]:
    """Run with the objects alive at the start (the loaded libraries: hundreds of thousands)
    frozen out of the cyclic collector's sight, so that the full collections an import's
    allocations trigger scan only what the import made; the last import to end unfreezes them.

    The collector keeps running for every thread meanwhile (``gc.disable()`` here stopped it
    for the whole server while an upload was imported); what other requests had made before
    the freeze is only collected later, after the unfreeze.
    """

    @functools.wraps(function)
    def spared(*args: P.args, **kwargs: P.kwargs) -> R:
        global _frozen
        with _frozen_lock:
            _frozen += 1
            gc.freeze()
        try:
            return function(*args, **kwargs)
        finally:
            with _frozen_lock:
                _frozen -= 1
                if _frozen == 0:
                    gc.unfreeze()

    return spared


@_collector_spared
def import_layer(
    conn: psycopg.Connection,
    path: Path,
    *,
    layer: str,
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    source_layer: str | None = None,
    mode: str = "replace",
    dry_run: bool = False,
    strict: bool = False,
    sliver_m2: float = 1.0,
    display: str | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import one layer of the model from the file at path, in one transaction.

    Returns the report. When anything is refused, nothing changes and InvalidParameter is
    raised with the report (as JSON-able data) in `extra["report"]`. A dry run does every
    check and every change, then rolls back.
    """
    if layer not in SPECS:
        raise InvalidParameter(
            f"unknown layer {layer!r}; layers: {', '.join(IMPORT_LAYERS)}", parameter="layer"
        )
    if mode not in MODES:
        raise InvalidParameter(f"--mode is replace or upsert, not {mode!r}", parameter="mode")
    spec, rules = SPECS[layer], RULES[layer]
    report = ImportReport(layer, display or path.name, mode=mode, dry_run=dry_run, strict=strict)
    steps = tqdm(total=5, desc=f"import {layer}", disable=True, unit="step")
    worker = ThreadPoolExecutor(1, thread_name_prefix="topology")
    try:
        source = read_source(
            path, layer=layer, source_layer=source_layer, display=report.source_file
        )
        report.source_format, report.source_layer = source.format, source.layer
        report.rows_read = len(source.frame)
        if progress and report.rows_read >= PROGRESS_MIN_ROWS:
            steps = tqdm(total=5, desc=f"import {layer}", unit="step", disable=None)  # tty only
        steps.set_postfix_str("read")
        steps.update()
        frame, pending = _checked_frame(
            report, source, spec, rules, mapping or {}, crs, strict, sliver_m2, conn, worker
        )
        steps.set_postfix_str("checked")
        steps.update()
        if report.rows_read == 0:
            report.add(REFUSAL, "empty", f"{report.source_file} holds no rows")
        if report.refused:
            if pending:  # all its findings in the report
                pending.result()
            raise _refused(report)
        with conn.transaction() as tx:
            conn.execute("SET LOCAL TimeZone = 'Asia/Shanghai'")  # station time for bare times
            # the topology check (shapely, GIL released) runs while the database stores the
            # rows; what it snaps is written after, and what it refuses rolls everything back
            try:
                apply_layer(conn, report, spec, rules, frame)
                snapped = pending.result() if pending else {}
                if snapped and not report.refused:
                    _store_snapped(conn, spec.layer, frame, snapped, report)
            except psycopg.errors.DataError as exc:
                _refuse_value(report, frame, exc.diag.message_primary or str(exc))
            except psycopg.errors.IntegrityError as exc:
                report.add(
                    REFUSAL,
                    "rule",
                    f"the data breaks a rule of the model: {exc.diag.message_primary}"
                    + (f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""),
                )
            finally:
                if pending:
                    pending.result()
            steps.set_postfix_str("stored")
            steps.update(2)
            if report.refused:
                report.status = "refused"
                raise _refused(report)
            if dry_run:
                report.status = "dry-run"
                raise psycopg.Rollback(tx)
            report.status = "imported"
            report.import_id = record(conn, report)
        steps.update()
    except DomainError as error:
        if "report" not in error.extra:
            report.add(REFUSAL, "file", error.detail)
            raise _refused(report, parameter=error.parameter) from error
        raise
    finally:
        worker.shutdown()  # after the topology check, if one still runs
        steps.close()
    return report


def _refused(report: ImportReport, *, parameter: str | None = None) -> InvalidParameter:
    """The error that carries a refused report; its detail is the first refusal."""
    report.status = "refused"
    report.added = report.updated = report.unchanged = report.removed = 0
    report.restamped_incidents = report.restamped_position_fixes = 0
    refusals = report.of_kind(REFUSAL)
    more = f" (and {len(refusals) - 1} more refusals)" if len(refusals) > 1 else ""
    return InvalidParameter(
        f"{report.layer} from {report.source_file} refused: {refusals[0].message}{more}",
        parameter=parameter,
        report=report.to_dict(),
    )


def _checked_frame(
    report: ImportReport,
    source,
    spec: LayerLoad,
    rules,
    mapping: dict[str, str],
    crs: str | None,
    strict: bool,
    sliver_m2: float,
    conn: psycopg.Connection,
    worker: ThreadPoolExecutor,
) -> tuple[pd.DataFrame, Future[dict[int, shapely.Geometry]] | None]:
    """The rows ready to stage (n, the layer's columns, geom as WKB, polygons as
    MultiPolygons), findings recorded, and for villages and grids the topology check, started
    on the worker as soon as the geometries are final (it returns what it snapped)."""
    frame = source.frame.copy()
    unknown = sorted(set(mapping) - {c for c in spec.columns if c not in COMPUTED})
    if unknown:
        raise InvalidParameter(
            f"--map names fields {', '.join(unknown)} that {spec.layer} does not have; its "
            f"fields: {', '.join(c for c in spec.columns if c not in ('geom', *COMPUTED))}",
            parameter="map",
        )
    absent = sorted(c for c in mapping.values() if c not in frame.columns)
    if absent:
        raise InvalidParameter(
            f"--map names columns {', '.join(absent)} that the file does not have; its columns: "
            f"{', '.join(map(str, frame.columns))}",
            parameter="map",
        )
    fields = tuple(c for c in spec.columns if c not in COMPUTED)
    frame = apply_mapping(frame, fields, mapping)
    if rules.geometry is None and "lon" in fields and source.geometry is not None:
        # a table's lon/lat that the reader took as points (a CSV) are its columns again
        missing = [c for c in ("lon", "lat") if c not in frame.columns]
        if missing:
            lon, lat = _coordinates(source.geometry)
            frame = frame.assign(lon=lon, lat=lat)
    check_attributes(report, frame, fields, rules)
    check_values(report, frame, spec.layer)
    codes = (
        frame["code"].astype(str).to_numpy()
        if "code" in frame
        else np.array([str(i + 1) for i in range(len(frame))], dtype=object)
    )
    out = pd.DataFrame({"n": np.arange(1, len(frame) + 1)})
    for column in fields:
        if column != "geom":
            out[column] = frame[column].astype(str).str.strip().to_numpy()
    if rules.geometry is None:
        if "lon" in fields and source.geometry is not None:  # a CSV's lon/lat read as points
            lon, lat = _coordinates(source.geometry)
            out["lon"], out["lat"] = lon, lat
        return out, None
    if source.geometry is None:
        hint = (
            " (a CSV needs lon and lat columns, or a wkt column)" if source.format == "CSV" else ""
        )
        report.add(REFUSAL, "missing_geometry", f"the file has no geometry{hint}")
        return out, None
    conversion = source_conversion(source.crs, crs, report.source_file)
    report.source_crs = conversion.source
    report.conversion = conversion.description
    if crs and source.crs is not None:
        said = source.crs.to_string()
        if source_conversion(source.crs, None, report.source_file).source != conversion.source:
            report.add(WARNING, "crs", f"the file says {said}; read as {conversion.source} (--crs)")
    geoms = check_geometry_types(report, np.asarray(source.geometry, dtype=object), rules)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms.copy()
    geoms[present] = checked_conversion(geoms[present], conversion)
    bad = coordinates_problem(geoms[present])
    if bad is not None:
        row = int(np.flatnonzero(present)[bad[0] - 1]) + 1
        report.add(REFUSAL, "coordinates", f"row {row}: {bad[1]}", rows=[row])
    if report.refused:
        return out, None
    geoms = repair(report, geoms, codes, rules, strict)
    if report.refused:
        return out, None
    pending = None
    if spec.layer in ("grid", "village"):
        parents, outlines = _parents(conn, spec.layer, frame, len(geoms))

        def topology() -> dict[int, shapely.Geometry]:
            snapped = check_tiling(
                report,
                geoms,
                codes,
                parents,
                outlines,
                child=spec.layer,
                parent="village" if spec.layer == "grid" else "station",
                sliver_m2=sliver_m2,
            )
            if strict:
                for finding in report.of_kind(WARNING):
                    if finding.check in ("gap", "overlap", "outside", "spans"):
                        report.add(
                            REFUSAL,
                            finding.check,
                            f"{finding.message} (--strict)",
                            rows=finding.rows,
                            codes=finding.codes,
                            area_m2=finding.area_m2,
                            location=finding.location,
                        )
            return {int(i): snapped[i] for i in range(len(geoms)) if snapped[i] is not geoms[i]}

        pending = worker.submit(topology)
    out["geom"] = shapely.to_wkb(as_multi(geoms))  # staged as geometry(Geometry, 4326)
    if "h3" in spec.columns:  # events: their H3 cells, computed once when stored
        xy = shapely.get_coordinates(geoms)
        if "h3_r7" in spec.columns:  # incidents: every resolution the maps count by
            for column, cells in incident_cells(xy[:, 0], xy[:, 1]).items():
                out[column] = cells.astype(str)
        else:
            out["h3"] = h3_cells(xy[:, 0], xy[:, 1]).astype(str)
    return out, pending


def _coordinates(geoms: np.ndarray) -> tuple[list[str], list[str]]:
    """A table's lon and lat as text, empty where a row has no point."""
    present = ~shapely.is_missing(geoms)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[present], y[present] = shapely.get_x(geoms[present]), shapely.get_y(geoms[present])
    return (
        ["" if np.isnan(v) else repr(float(v)) for v in x],
        ["" if np.isnan(v) else repr(float(v)) for v in y],
    )


def _parents(
    conn: psycopg.Connection, layer: str, frame: pd.DataFrame, n: int
) -> tuple[np.ndarray, dict[str, shapely.Geometry]]:
    """What the pieces must tile: grids their villages, villages the station."""
    with conn.cursor(binary=True) as cur:  # the WKB as bytes, not hex text
        if layer == "grid":
            rows = cur.execute("SELECT code, ST_AsBinary(geom) FROM village").fetchall()
            parents = frame["village_code"].astype(str).str.strip().to_numpy()
        else:
            rows = cur.execute("SELECT code, ST_AsBinary(geom) FROM station").fetchall()
            parents = np.array([rows[0][0] if rows else ""] * n, dtype=object)
    outlines = shapely.from_wkb([bytes(wkb) for _, wkb in rows])
    return parents, dict(zip((code for code, _ in rows), outlines, strict=True))


def _refuse_value(report: ImportReport, frame: pd.DataFrame, message: str) -> None:
    """Refuse a value the database cannot read (a date, a number), naming the rows and columns
    that hold it: PostgreSQL's message quotes the value, the staged rows are searched for it."""
    quoted = re.search(r'"([^"]*)"', message)
    rows: list[int] = []
    columns: list[str] = []
    if quoted:
        for column in frame.columns.drop(["n", "geom", *COMPUTED], errors="ignore"):
            hits = np.flatnonzero(frame[column].to_numpy() == quoted.group(1))
            if len(hits):
                columns.append(str(column))
                rows.extend(int(i) + 1 for i in hits)
    where = f" ({', '.join(columns)} in {rows_text(sorted(set(rows)))})" if rows else ""
    report.add(
        REFUSAL,
        "value",
        f"a value cannot be stored: {message}{where}",
        rows=sorted(set(rows)),
        codes=columns,
    )


def _store_snapped(
    conn: psycopg.Connection,
    layer: str,
    frame: pd.DataFrame,
    snapped: dict[int, shapely.Geometry],
    report: ImportReport,
) -> None:
    """Write the snapped outlines over the stored ones, and re-stamp the events there."""
    rows = sorted(snapped)
    codes = [str(frame["code"].iloc[i]) for i in rows]
    geoms = _ewkb(np.array([snapped[i] for i in rows], dtype=object))
    table = sql.Identifier(layer)
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("UPDATE {} SET geom = ST_Multi(%s::geometry) WHERE code = %s").format(table),
            list(zip(geoms, codes, strict=True)),
        )
    if layer == "grid":
        row = one(
            conn.execute(
                "SELECT * FROM restamp_events(ARRAY(SELECT geom FROM grid WHERE code = ANY(%s)))",
                (codes,),
            ).fetchone(),
            "restamp_events",
        )
        report.restamped_incidents += int(row[0])
        report.restamped_position_fixes += int(row[1])
