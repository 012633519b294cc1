"""Storing a checked layer: staging, code references, upsert, removals, re-stamping, the record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import orjson
import pandas as pd
import psycopg
from psycopg import sql

from geo_service.db import one
from geo_service.ingest.imports.checks import LayerRules, rows_text
from geo_service.ingest.imports.report import REFUSAL, WARNING, ImportReport
from geo_service.ingest.load import LayerLoad, fill_sweep_targets

# Rows whose code references resolve to nothing: (column, what it must name, query over {s}).
REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "village": (
        (
            "code",
            "a station (import the station layer first)",
            "SELECT s.n, s.code FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM station)",
        ),
    ),
    "grid": (
        (
            "village_code",
            "a village",
            "SELECT s.n, s.village_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM village v WHERE v.code = s.village_code)",
        ),
    ),
    "beat": (
        (
            "plan_code",
            "a beat plan",
            "SELECT s.n, s.plan_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM beat_plan p WHERE p.code = s.plan_code)",
        ),
    ),
    "beat_grid": (
        (
            "plan_code",
            "a beat plan",
            "SELECT s.n, s.plan_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM beat_plan p WHERE p.code = s.plan_code)",
        ),
        (
            "beat_code",
            "a beat of its plan",
            "SELECT s.n, s.beat_code FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM beat b "
            "JOIN beat_plan p ON p.id = b.plan_id WHERE p.code = s.plan_code "
            "AND b.code = s.beat_code)",
        ),
        (
            "grid_code",
            "a grid",
            "SELECT s.n, s.grid_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM grid g WHERE g.code = s.grid_code)",
        ),
    ),
    "assignment": (
        (
            "person_code",
            "a person",
            "SELECT s.n, s.person_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.code = s.person_code)",
        ),
        (
            "area_code",
            "an area of its area_kind (beats: of plan_code)",
            """SELECT s.n, s.area_kind || ' ' || s.area_code FROM {s} s WHERE NOT CASE s.area_kind
                 WHEN 'station' THEN EXISTS (SELECT 1 FROM station x WHERE x.code = s.area_code)
                 WHEN 'village' THEN EXISTS (SELECT 1 FROM village x WHERE x.code = s.area_code)
                 WHEN 'grid' THEN EXISTS (SELECT 1 FROM grid x WHERE x.code = s.area_code)
                 WHEN 'beat' THEN EXISTS (SELECT 1 FROM beat x JOIN beat_plan p
                     ON p.id = x.plan_id WHERE p.code = s.plan_code AND x.code = s.area_code)
                 ELSE false END""",
        ),
    ),
    "position_fix": (
        (
            "person_code",
            "a person",
            "SELECT s.n, s.person_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.code = s.person_code)",
        ),
    ),
    "duty_shift": (
        (
            "person_code",
            "a person",
            "SELECT s.n, s.person_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.code = s.person_code)",
        ),
    ),
    "incident_step": (
        (
            "call_no",
            "an incident (import the incidents first)",
            "SELECT s.n, s.call_no FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM incident i WHERE i.call_no = s.call_no)",
        ),
    ),
    "patrol_water": (
        (
            "water_body_code",
            "a water body",
            "SELECT s.n, s.water_body_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM water_body w WHERE w.code = s.water_body_code)",
        ),
    ),
    "inspection": (
        (
            "code",
            "a thing of its kind (water_marker, rental_house, camera, water_body)",
            """SELECT s.n, s.kind || ' ' || s.code FROM {s} s WHERE NOT CASE s.kind
                 WHEN 'water_marker' THEN EXISTS (SELECT 1 FROM water_marker x
                                                  WHERE x.code = s.code)
                 WHEN 'rental_house' THEN EXISTS (SELECT 1 FROM rental_house x
                                                  WHERE x.code = s.code)
                 WHEN 'camera' THEN EXISTS (SELECT 1 FROM camera x WHERE x.code = s.code)
                 WHEN 'water_body' THEN EXISTS (SELECT 1 FROM water_body x WHERE x.code = s.code)
                 ELSE false END""",
        ),
        (
            "person_code",
            "a person",
            "SELECT s.n, s.person_code FROM {s} s WHERE s.person_code <> '' "
            "AND NOT EXISTS (SELECT 1 FROM person p WHERE p.code = s.person_code)",
        ),
        (
            "check_in_client_id",
            "a dusk patrol check-in of the file or stored",
            "SELECT s.n, s.check_in_client_id FROM {s} s WHERE s.check_in_client_id <> '' "
            "AND NOT EXISTS (SELECT 1 FROM {s} c WHERE c.client_id = s.check_in_client_id "
            "AND c.kind = 'water_body') "
            "AND NOT EXISTS (SELECT 1 FROM inspection i WHERE i.kind = 'water_body' "
            "AND i.client_id::text = lower(s.check_in_client_id))",
        ),
    ),
    "sweep_grid": (
        (
            "sweep_name",
            "a sweep (import the sweeps first)",
            "SELECT s.n, s.sweep_name FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM sweep w WHERE w.name = s.sweep_name)",
        ),
        (
            "grid_code",
            "a grid",
            "SELECT s.n, s.grid_code FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM grid g WHERE g.code = s.grid_code)",
        ),
    ),
    "report": (
        (
            "category",
            "a report category",
            "SELECT s.n, s.category FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM report_category c WHERE c.code = s.category)",
        ),
        (
            "person_code",
            "a person",
            "SELECT s.n, s.person_code FROM {s} s WHERE s.person_code <> '' "
            "AND NOT EXISTS (SELECT 1 FROM person p WHERE p.code = s.person_code)",
        ),
    ),
    "report_step": (
        (
            "report_client_id",
            "a report (import the reports first)",
            "SELECT s.n, s.report_client_id FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM report r "
            "WHERE r.client_id::text = lower(s.report_client_id))",
        ),
        (
            "department",
            "a department",
            "SELECT s.n, s.department FROM {s} s WHERE s.department <> '' "
            "AND NOT EXISTS (SELECT 1 FROM department d WHERE d.code = s.department)",
        ),
    ),
    "water_marker": (
        (
            "water_body_code",
            "a water body",
            "SELECT s.n, s.water_body_code FROM {s} s WHERE s.water_body_code <> '' "
            "AND NOT EXISTS (SELECT 1 FROM water_body w WHERE w.code = s.water_body_code)",
        ),
    ),
}
_TARGET = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)")


def target_of(spec: LayerLoad) -> tuple[str, list[str]]:
    """The table and the columns the layer's INSERT (from load.LAYERS) writes."""
    match = _TARGET.search(spec.insert)
    assert match, spec.layer
    return match.group(1), [c.strip() for c in match.group(2).split(",")]


# Villages and grids going into their empty table (a station's first import) are copied
# straight in: (the parent's id column, the file's column naming the parent or None for the
# station, the parent table).
FIRST_COPY: dict[str, tuple[str, str | None, str]] = {
    "village": ("station_id", None, "station"),
    "grid": ("village_id", "village_code", "village"),
}


def copy_into_empty(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, frame: pd.DataFrame
) -> bool:
    """Store villages or grids into their still empty table by one binary COPY, the parents'
    codes resolved here, so the rows are written once (no staging table, no INSERT ... SELECT).

    Returns False, having done nothing, when the table holds rows, when new grids would have
    stored events to stamp, or when the connection does not own the table (the service's role
    importing over HTTP cannot set its indexes and keys aside): those take the staged path.
    """
    id_column, parent_column, parent = FIRST_COPY[spec.layer]
    table = sql.Identifier(spec.layer)
    owner = conn.execute(
        "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class"
        " WHERE oid = %s::regclass",
        (spec.layer,),
    ).fetchone()
    if not one(owner, f"who owns {spec.layer}")[0]:
        return False
    stored = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table)).fetchone()
    if one(stored, f"whether {spec.layer} holds rows")[0]:
        return False
    if spec.layer == "grid" and events_stored(conn):
        return False
    ids: dict[str, int] = dict(
        conn.execute(
            sql.SQL("SELECT code, id FROM {} ORDER BY id").format(sql.Identifier(parent))
        ).fetchall()
    )
    if parent_column is None:  # the station (the first, as the staged INSERT takes it)
        parent_ids = pd.Series(next(iter(ids.values()), None), index=frame.index)
    else:
        parent_ids = frame[parent_column].map(ids)
    unknown = np.flatnonzero(parent_ids.isna().to_numpy())
    if len(unknown):
        column, what, _ = REFERENCES[spec.layer][0]
        refuse_unknown(
            report, column, what, (unknown + 1).tolist(), frame[column].iloc[unknown].tolist()
        )
        return True
    columns = [c for c in spec.columns if c not in ("geom", parent_column)]
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, [*columns, id_column, "geom"]))
    )
    values = [frame[c].tolist() for c in columns]
    with built_after(conn, spec.layer), conn.cursor().copy(statement) as copy:
        # 2-D WKB bytes, polygons as MultiPolygons: geometry_recv reads them and the column's
        # type gives them SRID 4326
        copy.set_types(["text"] * len(columns) + ["int4", "bytea"])
        rows = zip(*values, parent_ids.astype(int).tolist(), frame["geom"], strict=True)
        for row in rows:
            copy.write_row(row)
    report.added = len(frame)
    return True


@contextmanager
def built_after(conn: psycopg.Connection, table: str) -> Iterator[None]:
    """Load an empty table as pg_restore does: its plain indexes (GiST included) and foreign
    keys are dropped, and made again after the rows are in from the catalog's own definitions,
    each built once instead of row by row. Keys, unique and CHECK constraints stay in force.
    The drop locks the table until the transaction ends; a failure rolls it back with the rest."""
    row = conn.execute("SELECT %s::regclass::oid", (table,)).fetchone()
    oid = one(row, f"the oid of {table}")[0]
    indexes = conn.execute(
        """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = %s AND NOT i.indisunique ORDER BY 1""",
        (oid,),
    ).fetchall()
    keys = conn.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = %s AND contype = 'f' ORDER BY 1""",
        (oid,),
    ).fetchall()
    t = sql.Identifier(table)
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    for name, _ in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(t, sql.Identifier(name)))
    yield
    for _, definition in indexes:
        conn.execute(sql.SQL(definition))
    for name, definition in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                t, sql.Identifier(name), sql.SQL(definition)
            )
        )


def stage(conn: psycopg.Connection, spec: LayerLoad, frame: pd.DataFrame) -> sql.Identifier:
    """A temporary staging table with the row number n and the layer's columns, filled by a
    binary COPY: attributes as text, geom (2-D WKB bytes, EPSG:4326) as geometry, so nothing
    is escaped on the way and PostGIS reads the geometry as sent, without a text form."""
    staging = sql.Identifier(f"import_{spec.layer}")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (n int PRIMARY KEY, {}) ON COMMIT DROP").format(
            staging,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(
                    sql.Identifier(c),
                    sql.SQL("geometry(Geometry, 4326)" if c == "geom" else "text"),
                )
                for c in spec.columns
            ),
        )
    )
    columns = ["n", *spec.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        staging, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    values = [frame[c].tolist() for c in columns]
    with conn.cursor().copy(statement) as copy:
        # the server reads each field with its column's type: geometry_recv takes the WKB, and
        # the column's type gives it SRID 4326
        copy.set_types(["int4", *("bytea" if c == "geom" else "text" for c in spec.columns)])
        for row in zip(*values, strict=True):
            copy.write_row(row)
    # statistics for planning the joins on codes; a geometry's (slow to gather) are not needed
    keys = [c for c in columns if c not in ("geom", "name")]
    conn.execute(
        sql.SQL("ANALYZE {} ({})").format(staging, sql.SQL(", ").join(map(sql.Identifier, keys)))
    )
    return staging


def check_references(
    conn: psycopg.Connection, report: ImportReport, layer: str, staging: sql.Identifier
) -> None:
    """Refuse rows whose codes name nothing, with their row numbers."""
    for column, what, query in REFERENCES.get(layer, ()):
        found = conn.execute(sql.SQL(query + " ORDER BY 1").format(s=staging)).fetchall()
        if found:
            refuse_unknown(report, column, what, [int(r[0]) for r in found], [r[1] for r in found])


def refuse_unknown(
    report: ImportReport, column: str, what: str, rows: list[int], values: list
) -> None:
    """Refuse the rows (numbered from 1) whose column names nothing."""
    names = sorted({str(v) for v in values})
    shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
    report.add(
        REFUSAL,
        "unknown_code",
        f"{column} {shown} names no {what}: {rows_text(rows)}",
        rows=rows,
        codes=names[:100],
    )


def upsert(
    conn: psycopg.Connection,
    report: ImportReport,
    spec: LayerLoad,
    staging: sql.Identifier,
    conflict: tuple[str, ...],
    key_exists: str,
) -> None:
    """Insert new keys, update changed rows of existing keys (ids kept), leave equal rows alone."""
    table, columns = target_of(spec)
    updated = [c for c in columns if c not in conflict]
    t = sql.Identifier(table)
    new = conn.execute(
        sql.SQL("SELECT count(*) FROM {s} s WHERE NOT EXISTS (" + key_exists + ")").format(
            s=staging
        )
    ).fetchone()
    plain = [c for c in updated if c != "geom"]
    # a geometry counts as changed only when it moves (import_geometry_changed in SQL)
    changed = [
        sql.SQL("({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(sql.SQL("{}.{}").format(t, sql.Identifier(c)) for c in plain),
            sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in plain),
        )
    ]
    if "geom" in updated:
        changed.append(sql.SQL("import_geometry_changed({}.geom, EXCLUDED.geom)").format(t))
    statement = sql.SQL(spec.insert).format(s=staging) + sql.SQL(
        " ON CONFLICT ({}) DO UPDATE SET ({}) = ROW({}) WHERE {}"
    ).format(
        sql.SQL(", ").join(map(sql.Identifier, conflict)),
        sql.SQL(", ").join(map(sql.Identifier, updated)),
        sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updated),
        sql.SQL(" OR ").join(changed),
    )
    written = conn.execute(statement).rowcount
    report.added = int(new[0]) if new else 0
    report.updated = written - report.added
    report.unchanged = report.rows_read - written


def apply_code_layer(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Upsert a layer keyed by code; in replace mode remove the codes the file lacks."""
    table, _ = target_of(spec)
    t = sql.Identifier(table)
    restamp = table == "grid" and events_stored(conn)
    if restamp:
        # outlines before and after of grids that change (or change village), for re-stamping
        conn.execute(
            sql.SQL(
                """CREATE TEMP TABLE import_touched ON COMMIT DROP AS
                   SELECT g.geom FROM grid g JOIN {s} s ON s.code = g.code
                   JOIN village v ON v.code = s.village_code
                   WHERE import_geometry_changed(g.geom, ST_Multi(s.geom::geometry))
                      OR g.village_id <> v.id
                   UNION ALL
                   SELECT ST_Multi(s.geom::geometry) FROM {s} s
                   LEFT JOIN grid g ON g.code = s.code
                   WHERE g.id IS NULL
                      OR import_geometry_changed(g.geom, ST_Multi(s.geom::geometry))"""
            ).format(s=staging)
        )
    upsert(
        conn,
        report,
        spec,
        staging,
        ("code",),
        sql.SQL("SELECT 1 FROM {} t WHERE t.code = s.code").format(t).as_string(conn),
    )
    if report.mode == "replace" and table != "beat_plan":
        gone = conn.execute(
            sql.SQL(
                "SELECT id, code FROM {} t WHERE NOT EXISTS "
                "(SELECT 1 FROM {} s WHERE s.code = t.code) ORDER BY code"
            ).format(t, staging)
        ).fetchall()
        if gone and restamp:
            conn.execute(
                "INSERT INTO import_touched SELECT geom FROM grid WHERE id = ANY(%s)",
                ([r[0] for r in gone],),
            )
        if gone:
            _remove(conn, report, table, gone)
    if restamp and not report.refused:
        row = one(
            conn.execute(
                "SELECT * FROM restamp_events(ARRAY(SELECT geom FROM import_touched))"
            ).fetchone(),
            "restamp_events",
        )
        report.restamped_incidents, report.restamped_position_fixes = int(row[0]), int(row[1])


def events_stored(conn: psycopg.Connection) -> bool:
    """Whether any incident or position fix is stored (grids that move must re-stamp them)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM incident) OR EXISTS (SELECT 1 FROM position_fix)"
    ).fetchone()
    return bool(one(row, "whether events are stored")[0])


def grids_without_beat(conn: psycopg.Connection, report: ImportReport, codes: list[str]) -> None:
    """Warn about the file's grids (codes in row order) that the plan in force now leaves out
    of every beat."""
    no_plan = conn.execute("SELECT plan_in_force(now()) IS NULL").fetchone()
    if one(no_plan, "whether a plan is in force")[0]:
        return
    rows = conn.execute(
        """SELECT s.n, s.code, p.code FROM unnest(%s::text[]) WITH ORDINALITY AS s(code, n)
           JOIN grid g ON g.code = s.code JOIN beat_plan p ON p.id = plan_in_force(now())
           WHERE NOT EXISTS (SELECT 1 FROM beat_grid bg
                             WHERE bg.grid_id = g.id AND bg.plan_id = p.id)
           ORDER BY s.n""",
        (codes,),
    ).fetchall()
    if rows:
        grids = [r[1] for r in rows]
        report.add(
            WARNING,
            "no_beat",
            f"grids {', '.join(grids[:10])}{' ...' if len(grids) > 10 else ''} are in no beat "
            f"of the plan in force ({rows[0][2]}); give them one in a new plan (beat_grid import)",
            rows=[int(r[0]) for r in rows],
            codes=grids[:100],
        )


def _remove(conn: psycopg.Connection, report: ImportReport, table: str, gone: list) -> None:
    """Remove rows whose codes the file lacks, or refuse naming what still uses them."""
    ids = [r[0] for r in gone]
    codes = [r[1] for r in gone]
    if table in ("grid", "village"):
        blockers = conn.execute(
            sql.SQL("SELECT code, reason FROM {}(%s)").format(
                sql.Identifier(f"{table}_removal_blockers")
            ),
            (ids,),
        ).fetchall()
        for code, reason in blockers:
            report.add(
                REFUSAL,
                "removal",
                f"{table} {code} is not in the file but cannot be removed: {reason}. Keep it in "
                "the file (or import with --mode upsert), or move those first",
                codes=[code],
            )
        if blockers:
            return
    if table == "grid":
        for events in ("incident", "position_fix"):
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET village_id = NULL, grid_id = NULL, beat_id = NULL "
                    "WHERE grid_id = ANY(%s)"
                ).format(sql.Identifier(events)),
                (ids,),
            )
    try:
        with conn.transaction():
            deleted = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)), (ids,)
            ).rowcount
    except psycopg.errors.IntegrityError as exc:
        shown = ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "")
        report.add(
            REFUSAL,
            "removal",
            f"{table} {shown} are not in the file but cannot be removed: "
            f"{exc.diag.message_detail or exc.diag.message_primary}. Keep them in the file "
            "(or import with --mode upsert)",
            codes=codes[:100],
        )
        return
    report.removed = deleted


def apply_beat_plans(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Plans are history: published ones keep their status and start; none is ever removed."""
    frozen = conn.execute(
        sql.SQL(
            """SELECT s.n, s.code FROM {s} s JOIN beat_plan p ON p.code = s.code
               WHERE p.status = 'published' AND (s.status <> 'published'
                  OR nullif(s.effective_from, '')::timestamptz IS DISTINCT FROM p.effective_from)
               ORDER BY s.n"""
        ).format(s=staging)
    ).fetchall()
    if frozen:
        rows = [int(r[0]) for r in frozen]
        report.add(
            REFUSAL,
            "published_plan",
            f"published plans {', '.join(r[1] for r in frozen)} cannot change status or "
            f"effective_from ({rows_text(rows)}): publish a new plan instead",
            rows=rows,
            codes=[r[1] for r in frozen],
        )
        return
    apply_code_layer(conn, report, spec, staging)


def apply_beats(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Beats keyed by plan and code; in replace mode a plan's beats the file lacks are removed
    when the plan is a draft and no assignment names them."""
    upsert(
        conn,
        report,
        spec,
        staging,
        ("plan_id", "code"),
        "SELECT 1 FROM beat b JOIN beat_plan p ON p.id = b.plan_id "
        "WHERE p.code = s.plan_code AND b.code = s.code",
    )
    if report.mode != "replace":
        return
    gone = conn.execute(
        sql.SQL(
            """SELECT b.id, p.code || '/' || b.code, p.status,
                      EXISTS (SELECT 1 FROM assignment a WHERE a.beat_id = b.id)
               FROM beat b JOIN beat_plan p ON p.id = b.plan_id
               WHERE p.code IN (SELECT plan_code FROM {s})
                 AND NOT EXISTS (SELECT 1 FROM {s} s
                                 WHERE s.plan_code = p.code AND s.code = b.code)
               ORDER BY 2"""
        ).format(s=staging)
    ).fetchall()
    blocked = [r for r in gone if r[2] == "published" or r[3]]
    for _, code, status, _ in blocked:
        reason = "its plan is published" if status == "published" else "assignments name it"
        report.add(
            REFUSAL,
            "removal",
            f"beat {code} is not in the file but cannot be removed: {reason}",
            codes=[code],
        )
    if gone and not blocked:
        report.removed = conn.execute(
            "DELETE FROM beat WHERE id = ANY(%s)", ([r[0] for r in gone],)
        ).rowcount


def apply_beat_grids(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Membership of the plans in the file: a draft's is replaced; a published plan's is frozen
    once filled (the same rows pass, others are refused); filling an empty published plan
    re-stamps the events from its start."""
    plans = conn.execute(
        sql.SQL(
            """SELECT p.id, p.code, p.status, p.effective_from,
                      EXISTS (SELECT 1 FROM beat_grid bg WHERE bg.plan_id = p.id),
                      (SELECT count(*) FROM (
                          (SELECT s.grid_code, s.beat_code FROM {s} s WHERE s.plan_code = p.code
                           EXCEPT SELECT g.code, b.code FROM beat_grid bg
                               JOIN grid g ON g.id = bg.grid_id JOIN beat b ON b.id = bg.beat_id
                               WHERE bg.plan_id = p.id)
                          UNION ALL
                          (SELECT g.code, b.code FROM beat_grid bg
                               JOIN grid g ON g.id = bg.grid_id JOIN beat b ON b.id = bg.beat_id
                               WHERE bg.plan_id = p.id
                           EXCEPT SELECT s.grid_code, s.beat_code FROM {s} s
                               WHERE s.plan_code = p.code)) d)
               FROM beat_plan p WHERE p.code IN (SELECT plan_code FROM {s}) ORDER BY p.code"""
        ).format(s=staging)
    ).fetchall()
    for _, code, status, _, filled, differences in plans:
        if status == "published" and filled and differences:
            report.add(
                REFUSAL,
                "published_plan",
                f"beat plan {code} is published: its membership cannot change ({differences} "
                "grid memberships differ); make a new plan and publish it",
                codes=[code],
            )
    if report.refused:
        return
    changing = [p[0] for p in plans if not (p[2] == "published" and p[4])]
    # drafts (and empty published plans) take the file's membership: rows it lacks go, rows it
    # adds come, a grid that moves beat is one of each
    report.removed = conn.execute(
        sql.SQL(
            """DELETE FROM beat_grid bg WHERE bg.plan_id = ANY(%s) AND NOT EXISTS (
                   SELECT 1 FROM {s} s JOIN beat_plan p ON p.code = s.plan_code
                   JOIN beat b ON b.plan_id = p.id AND b.code = s.beat_code
                   JOIN grid g ON g.code = s.grid_code
                   WHERE p.id = bg.plan_id AND g.id = bg.grid_id AND b.id = bg.beat_id)"""
        ).format(s=staging),
        (changing,),
    ).rowcount
    report.added = conn.execute(
        sql.SQL(
            spec.insert + " WHERE p.id = ANY(%s) ON CONFLICT (plan_id, grid_id) DO NOTHING"
        ).format(s=staging),
        (changing,),
    ).rowcount
    report.unchanged = report.rows_read - report.added
    for plan_id, _, status, _, _, differences in plans:
        if status == "draft" and differences and not report.dry_run:
            # an import is an edit like any other: the draft's version goes up (plan_change)
            conn.execute(
                "SELECT plan_imported(%s, %s, %s)", (plan_id, report.added, report.removed)
            )
    for _, _, status, effective_from, filled, _ in plans:
        if status == "published" and not filled:
            row = one(
                conn.execute(
                    "SELECT * FROM restamp_events(NULL, %s)", (effective_from,)
                ).fetchone(),
                "restamp_events",
            )
            report.restamped_incidents += int(row[0])
            report.restamped_position_fixes += int(row[1])


def apply_assignments(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Assignments are history: rows are appended, rows already stored are skipped, and a row
    that overlaps a stored one (same person, role and area at once) is refused."""
    area = """CASE s.area_kind WHEN 'station' THEN (SELECT id FROM station WHERE code = s.area_code)
        WHEN 'village' THEN (SELECT id FROM village WHERE code = s.area_code)
        WHEN 'grid' THEN (SELECT id FROM grid WHERE code = s.area_code)
        ELSE (SELECT b.id FROM beat b JOIN beat_plan p ON p.id = b.plan_id
              WHERE p.code = s.plan_code AND b.code = s.area_code) END"""
    conn.execute(
        sql.SQL(
            """CREATE TEMP TABLE import_assignment_keys ON COMMIT DROP AS
               SELECT s.n, pe.id AS person_id, s.role, s.area_kind, """
            + area
            + """ AS area_id,
                      tstzrange(s.valid_from::timestamptz,
                                nullif(s.valid_to, '')::timestamptz, '[)') AS validity
               FROM {s} s JOIN person pe ON pe.code = s.person_code"""
        ).format(s=staging)
    )
    clash = conn.execute(
        """SELECT k.n, bool_and(a.validity = k.validity) FROM import_assignment_keys k
           JOIN assignment a ON a.person_id = k.person_id AND a.role = k.role
                AND a.area_kind = k.area_kind
                AND coalesce(a.station_id, a.village_id, a.grid_id, a.beat_id) = k.area_id
                AND a.validity && k.validity
           GROUP BY k.n ORDER BY k.n"""
    ).fetchall()
    stored = [int(n) for n, same in clash if same]
    overlapping = [int(n) for n, same in clash if not same]
    inner = conn.execute(
        """SELECT DISTINCT k.n FROM import_assignment_keys k JOIN import_assignment_keys o
           ON o.n <> k.n AND o.person_id = k.person_id AND o.role = k.role
              AND o.area_kind = k.area_kind AND o.area_id = k.area_id
              AND o.validity && k.validity ORDER BY 1"""
    ).fetchall()
    overlapping += [int(r[0]) for r in inner]
    if overlapping:
        rows = sorted(set(overlapping))
        report.add(
            REFUSAL,
            "overlap_in_time",
            f"the same person would hold the same role in the same area twice at once: "
            f"{rows_text(rows)}",
            rows=rows,
        )
        return
    conn.execute(sql.SQL("DELETE FROM {s} s WHERE s.n = ANY(%s)").format(s=staging), (stored,))
    report.added = conn.execute(sql.SQL(spec.insert).format(s=staging)).rowcount
    report.unchanged = len(stored)


def apply_events(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Events are history: new ones are stored stamped with their areas (as the loader does);
    ones already stored (same call number; same person, time and place) are skipped."""
    table = sql.Identifier(f"{spec.layer}_staging")
    conn.execute(sql.SQL("TRUNCATE {}").format(table))
    conn.execute(sql.SQL(spec.insert).format(s=staging))
    store = f"store_staged_{'incidents' if spec.layer == 'incident' else 'position_fixes'}"
    stored = conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(store))).fetchone()
    report.added = int(one(stored, store)[0])
    conn.execute(sql.SQL("TRUNCATE {}").format(table))
    report.unchanged = report.rows_read - report.added


# A history row already stored (the same shift; the same step of the same call; the same
# client id; the same sweep, grid or report step), as a
# condition on a staged row s: an import of what was exported adds nothing.
HISTORY_STORED = {
    "duty_shift": """SELECT 1 FROM duty_shift d JOIN person pe ON pe.id = d.person_id
        WHERE pe.code = s.person_code AND d.call_sign = s.call_sign
          AND d.unit_kind = s.unit_kind AND d.starts_at = s.starts_at::timestamptz
          AND d.ends_at = s.ends_at::timestamptz""",
    "incident_step": """SELECT 1 FROM incident_step t JOIN incident i ON i.id = t.incident_id
        WHERE i.call_no = s.call_no AND t.kind = s.kind AND t.at = s.at::timestamptz
          AND t.source = coalesce(nullif(s.source, ''), 'reported')
          AND t.call_sign IS NOT DISTINCT FROM nullif(s.call_sign, '')""",
    "patrol_water": """SELECT 1 FROM patrol_water p JOIN water_body w ON w.id = p.water_body_id
        WHERE w.code = s.water_body_code AND p.marked_at = s.marked_at::timestamptz""",
    "inspection": "SELECT 1 FROM inspection i WHERE i.client_id = s.client_id::uuid",
    "sweep": """SELECT 1 FROM sweep w
        WHERE w.name = s.name AND w.starts_at = s.starts_at::timestamptz""",
    "sweep_grid": """SELECT 1 FROM sweep_grid x JOIN sweep w ON w.id = x.sweep_id
        JOIN grid g ON g.id = x.grid_id WHERE w.name = s.sweep_name AND g.code = s.grid_code""",
    "report": "SELECT 1 FROM report r WHERE r.client_id = s.client_id::uuid",
    "report_step": """SELECT 1 FROM report_step t JOIN report r ON r.id = t.report_id
        WHERE r.client_id = s.report_client_id::uuid AND t.kind = s.kind
          AND t.at = s.at::timestamptz""",
}


def apply_history(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, staging: sql.Identifier
) -> None:
    """Duty shifts, incident timelines and the field's history (patrol waters, inspections,
    sweeps and their grids, reports and their steps) are history: new rows are appended, rows
    already stored are skipped; like the loader's, they are not news to the live map
    (geo.bulk_load). A dusk patrol mark stored in force that the file ends is ended."""
    if spec.layer == "patrol_water":
        report.updated = end_patrol_marks(conn, report, staging)
        if report.refused:
            return
    stored = conn.execute(
        sql.SQL("DELETE FROM {s} s WHERE EXISTS (" + HISTORY_STORED[spec.layer] + ")").format(
            s=staging
        )
    ).rowcount
    conn.execute("SELECT set_config('geo.bulk_load', 'on', true)")
    report.added = conn.execute(sql.SQL(spec.insert).format(s=staging)).rowcount
    if spec.layer == "sweep_grid":  # the new grids' targets, as when a sweep is opened
        fill_sweep_targets(conn)
    conn.execute("SELECT set_config('geo.bulk_load', 'off', true)")
    report.unchanged = stored - report.updated


def end_patrol_marks(
    conn: psycopg.Connection, report: ImportReport, staging: sql.Identifier
) -> int:
    """End the stored marks in force that the file's rows end (the same water and start, an
    unmarked_at given): how many. A mark that has ended keeps its end: a row giving another is
    refused with its row number."""
    clash = conn.execute(
        sql.SQL(
            """SELECT s.n FROM {s} s JOIN water_body w ON w.code = s.water_body_code
               JOIN patrol_water p ON p.water_body_id = w.id
                    AND p.marked_at = s.marked_at::timestamptz
               WHERE p.unmarked_at <> nullif(s.unmarked_at, '')::timestamptz ORDER BY 1"""
        ).format(s=staging)
    ).fetchall()
    if clash:
        rows = [int(r[0]) for r in clash]
        report.add(
            REFUSAL,
            "history",
            f"a dusk patrol mark that has ended keeps its end: {rows_text(rows)} give another "
            "unmarked_at than the one stored for the same water_body_code and marked_at",
            rows=rows,
        )
        return 0
    return conn.execute(
        sql.SQL(
            """UPDATE patrol_water p SET unmarked_at = s.unmarked_at::timestamptz
               FROM {s} s JOIN water_body w ON w.code = s.water_body_code
               WHERE p.water_body_id = w.id AND p.marked_at = s.marked_at::timestamptz
                 AND p.unmarked_at IS NULL AND nullif(s.unmarked_at, '') IS NOT NULL"""
        ).format(s=staging)
    ).rowcount


def record(conn: psycopg.Connection, report: ImportReport) -> int:
    """The import_run row for a successful import (same transaction); returns its id."""
    row = conn.execute(
        """INSERT INTO import_run (layer, source_file, source_layer, source_format, source_crs,
                                   conversion, mode, rows_read, added, updated, removed, report)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id""",
        (
            report.layer,
            report.source_file,
            report.source_layer,
            report.source_format,
            report.source_crs,
            report.conversion,
            report.mode,
            report.rows_read,
            report.added,
            report.updated,
            report.removed,
            orjson.dumps(report.to_dict()).decode(),
        ),
    ).fetchone()
    return int(one(row, "the new import_run")[0])


def apply_layer(
    conn: psycopg.Connection,
    report: ImportReport,
    spec: LayerLoad,
    rules: LayerRules,
    frame: pd.DataFrame,
) -> None:
    """Stage the rows, check their references, and store them by the layer's rule (villages
    and grids going into their empty table are copied straight in)."""
    if not (spec.layer in FIRST_COPY and copy_into_empty(conn, report, spec, frame)):
        apply_staged(conn, report, spec, frame)
    if spec.layer == "grid" and not report.refused:
        grids_without_beat(conn, report, frame["code"].tolist())


def apply_staged(
    conn: psycopg.Connection, report: ImportReport, spec: LayerLoad, frame: pd.DataFrame
) -> None:
    """Stage the rows, check their references, and store them by the layer's rule."""
    staging = stage(conn, spec, frame)
    check_references(conn, report, spec.layer, staging)
    if report.refused:
        return
    if spec.layer == "beat_plan":
        apply_beat_plans(conn, report, spec, staging)
    elif spec.layer == "beat":
        apply_beats(conn, report, spec, staging)
    elif spec.layer == "beat_grid":
        apply_beat_grids(conn, report, spec, staging)
    elif spec.layer == "assignment":
        apply_assignments(conn, report, spec, staging)
    elif spec.layer in ("incident", "position_fix"):
        apply_events(conn, report, spec, staging)
    elif spec.layer in HISTORY_STORED:
        apply_history(conn, report, spec, staging)
    else:
        apply_code_layer(conn, report, spec, staging)
