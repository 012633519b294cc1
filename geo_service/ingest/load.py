"""Load a jurisdiction GeoPackage (the sample's layer contract) into PostGIS in one transaction."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import shapely
from psycopg import sql
from tqdm import tqdm

from geo_service.cells import h3_cells, incident_cells
from geo_service.errors import InvalidParameter

CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class LayerLoad:
    """How one GeoPackage layer reaches its table: staged columns, then one INSERT ... SELECT."""

    layer: str
    columns: tuple[str, ...]
    insert: str
    # columns a file made before they existed may lack (staged empty: NULL)
    optional: tuple[str, ...] = ()


# Staged columns are text (geometry: hex EWKB); the INSERT casts them and resolves codes to ids.
LAYERS: tuple[LayerLoad, ...] = (
    LayerLoad(
        "station",
        ("code", "name", "geom"),
        """INSERT INTO station (code, name, geom)
           SELECT code, name, ST_Multi(geom::geometry) FROM {s}""",
    ),
    LayerLoad(
        "village",
        ("code", "name", "kind", "geom"),
        """INSERT INTO village (code, name, kind, station_id, geom)
           SELECT s.code, s.name, s.kind, st.id, ST_Multi(s.geom::geometry)
           FROM {s} s JOIN LATERAL (SELECT id FROM station ORDER BY id LIMIT 1) st ON true""",
    ),
    LayerLoad(
        "grid",
        ("code", "name", "village_code", "geom"),
        """INSERT INTO grid (code, name, village_id, geom)
           SELECT s.code, s.name, v.id, ST_Multi(s.geom::geometry)
           FROM {s} s JOIN village v ON v.code = s.village_code""",
    ),
    LayerLoad(
        "beat_plan",
        ("code", "name", "status", "effective_from"),
        """INSERT INTO beat_plan (code, name, status, effective_from)
           SELECT code, name, status, nullif(effective_from, '')::timestamptz FROM {s}""",
    ),
    LayerLoad(
        "beat",
        ("plan_code", "code", "name"),
        """INSERT INTO beat (plan_id, code, name)
           SELECT p.id, s.code, s.name FROM {s} s JOIN beat_plan p ON p.code = s.plan_code""",
    ),
    LayerLoad(
        "beat_grid",
        ("plan_code", "beat_code", "grid_code"),
        """INSERT INTO beat_grid (plan_id, grid_id, beat_id)
           SELECT p.id, g.id, b.id FROM {s} s
           JOIN beat_plan p ON p.code = s.plan_code
           JOIN beat b ON b.plan_id = p.id AND b.code = s.beat_code
           JOIN grid g ON g.code = s.grid_code""",
    ),
    LayerLoad(
        "person",
        ("code", "name", "role", "phone"),
        """INSERT INTO person (code, name, role, phone)
           SELECT code, name, role, nullif(phone, '') FROM {s}""",
    ),
    LayerLoad(
        "assignment",
        ("person_code", "role", "area_kind", "area_code", "plan_code", "valid_from", "valid_to"),
        """INSERT INTO assignment (person_id, role, area_kind, station_id, village_id, grid_id,
                                   beat_id, valid_from, valid_to)
           SELECT pe.id, s.role, s.area_kind, st.id, v.id, g.id, b.id,
                  s.valid_from::timestamptz, nullif(s.valid_to, '')::timestamptz
           FROM {s} s
           JOIN person pe ON pe.code = s.person_code
           LEFT JOIN station st ON s.area_kind = 'station' AND st.code = s.area_code
           LEFT JOIN village v ON s.area_kind = 'village' AND v.code = s.area_code
           LEFT JOIN grid g ON s.area_kind = 'grid' AND g.code = s.area_code
           LEFT JOIN beat_plan p ON s.area_kind = 'beat' AND p.code = s.plan_code
           LEFT JOIN beat b ON b.plan_id = p.id AND b.code = s.area_code""",
    ),
    LayerLoad(
        "water_body",
        ("code", "name", "kind", "geom"),
        """INSERT INTO water_body (code, name, kind, geom)
           SELECT code, name, kind, ST_Multi(geom::geometry) FROM {s}""",
    ),
    LayerLoad(
        "water_marker",
        ("code", "water_body_code", "kind", "status", "installed_at", "last_inspected_at", "geom"),
        """INSERT INTO water_marker (code, water_body_id, kind, status, installed_at,
                                     last_inspected_at, geom)
           SELECT s.code, w.id, s.kind, s.status, nullif(s.installed_at, '')::timestamptz,
                  nullif(s.last_inspected_at, '')::timestamptz, s.geom::geometry
           FROM {s} s LEFT JOIN water_body w ON w.code = s.water_body_code""",
    ),
    LayerLoad(
        "rental_house",
        ("code", "address", "landlord", "phone", "rooms", "tenants", "last_fire_check_at", "geom"),
        """INSERT INTO rental_house (code, address, landlord, phone, rooms, tenants,
                                     last_fire_check_at, geom)
           SELECT code, address, nullif(landlord, ''), nullif(phone, ''),
                  nullif(rooms, '')::int, nullif(tenants, '')::int,
                  nullif(last_fire_check_at, '')::timestamptz, geom::geometry
           FROM {s}""",
    ),
    LayerLoad(
        "camera",
        ("code", "name", "kind", "status", "heading", "fov_deg", "range_m", "geom"),
        """INSERT INTO camera (code, name, kind, status, heading, fov_deg, range_m, geom)
           SELECT code, name, kind, status, heading::float8, fov_deg::float8, range_m::float8,
                  geom::geometry
           FROM {s}""",
    ),
    LayerLoad(
        "place",
        ("code", "name", "kind", "geom"),
        """INSERT INTO place (code, name, kind, geom)
           SELECT code, name, kind, geom::geometry FROM {s}""",
    ),
    LayerLoad(
        "road",
        ("code", "name", "kind", "geom"),
        """INSERT INTO road (code, name, kind, geom)
           SELECT code, name, kind, geom::geometry FROM {s}""",
    ),
)


# The incident layer's columns (no geometry): the call, then the caller's details, which a file
# may lack (a file made before them, the sample's address and description).
CALLER_DETAILS = ("caller_phone", "address", "description")
INCIDENT_COLUMNS = ("call_no", "received_at", "category", "status", *CALLER_DETAILS)


# The command room's layers (issue 12), loaded after the incidents when the file has them (a
# file written before them loads without): units' duty shifts, and the incidents' timelines
# (history, not news: the command room's event log skips them, as it skips loaded incidents).
COMMAND_LAYERS: tuple[LayerLoad, ...] = (
    LayerLoad(
        "duty_shift",
        ("person_code", "call_sign", "unit_kind", "starts_at", "ends_at"),
        """INSERT INTO duty_shift (person_id, call_sign, unit_kind, starts_at, ends_at)
           SELECT pe.id, s.call_sign, s.unit_kind, s.starts_at::timestamptz,
                  s.ends_at::timestamptz
           FROM {s} s JOIN person pe ON pe.code = s.person_code""",
    ),
    LayerLoad(
        "incident_step",
        ("call_no", "kind", "at", "actor", "source", "call_sign", "result", "note", "lon", "lat"),
        """INSERT INTO incident_step (incident_id, kind, at, actor, source, call_sign, result,
                                      note, geom)
           SELECT i.id, s.kind, s.at::timestamptz, s.actor,
                  coalesce(nullif(s.source, ''), 'reported'), nullif(s.call_sign, ''),
                  nullif(s.result, ''), nullif(s.note, ''),
                  CASE WHEN s.lon <> '' THEN
                      ST_SetSRID(ST_MakePoint(s.lon::float8, s.lat::float8), 4326) END
           FROM {s} s JOIN incident i ON i.call_no = s.call_no""",
    ),
)


# The field's history (issue 14), loaded after the command room's layers when the file has them:
# the waters marked for dusk patrols, inspections (a check-in's poles name it by client id),
# sweeps with their grids (their targets then computed as when a sweep is opened:
# field_sweep_fill_targets), and reports with their steps. History, not news: the command
# room's event log skips them. Things' status is not moved: a file's things carry it already.
FIELD_LAYERS: tuple[LayerLoad, ...] = (
    LayerLoad(
        "patrol_water",
        ("water_body_code", "marked_at", "unmarked_at"),
        """INSERT INTO patrol_water (water_body_id, marked_at, unmarked_at)
           SELECT w.id, s.marked_at::timestamptz, nullif(s.unmarked_at, '')::timestamptz
           FROM {s} s JOIN water_body w ON w.code = s.water_body_code""",
        optional=("unmarked_at",),  # marks are periods since migration 021; NULL: in force
    ),
    LayerLoad(
        "inspection",
        (
            "client_id",
            "kind",
            "code",
            "inspected_at",
            "inspector",
            "person_code",
            "result",
            "items",
            "fix_what",
            "fix_by",
            "note",
            "check_in_client_id",
            "lon",
            "lat",
            "accuracy_m",
        ),
        # ids drawn first, so that a pole's check-in in the same file is found by client id
        """INSERT INTO inspection (id, client_id, kind, thing_id, code, inspected_at, inspector,
                                   person_id, result, items, fix_what, fix_by, note, position,
                                   accuracy_m, check_in_id)
           WITH x AS MATERIALIZED (SELECT nextval('inspection_id_seq') AS id, s.* FROM {s} s)
           SELECT x.id, x.client_id::uuid, x.kind, t.id, x.code, x.inspected_at::timestamptz,
                  coalesce(nullif(x.inspector, ''), 'sample'), pe.id, x.result,
                  nullif(x.items, '')::jsonb, nullif(x.fix_what, ''), nullif(x.fix_by, '')::date,
                  nullif(x.note, ''),
                  CASE WHEN x.lon <> '' THEN
                      ST_SetSRID(ST_MakePoint(x.lon::float8, x.lat::float8), 4326) END,
                  nullif(x.accuracy_m, '')::real,
                  coalesce(c.id, (SELECT i.id FROM inspection i
                                  WHERE i.client_id = nullif(x.check_in_client_id, '')::uuid))
           FROM x
           JOIN LATERAL (
               SELECT m.id FROM water_marker m WHERE x.kind = 'water_marker' AND m.code = x.code
               UNION ALL
               SELECT r.id FROM rental_house r WHERE x.kind = 'rental_house' AND r.code = x.code
               UNION ALL
               SELECT k.id FROM camera k WHERE x.kind = 'camera' AND k.code = x.code
               UNION ALL
               SELECT w.id FROM water_body w WHERE x.kind = 'water_body' AND w.code = x.code
           ) t ON true
           LEFT JOIN person pe ON pe.code = nullif(x.person_code, '')
           LEFT JOIN x c ON c.client_id = nullif(x.check_in_client_id, '')""",
    ),
    LayerLoad(
        "sweep",
        ("name", "starts_at", "ends_at", "target_kinds", "opened_by", "opened_at", "note"),
        """INSERT INTO sweep (name, starts_at, ends_at, target_kinds, opened_by, opened_at, note)
           SELECT s.name, s.starts_at::timestamptz, s.ends_at::timestamptz,
                  string_to_array(replace(s.target_kinds, ' ', ''), ','),
                  coalesce(nullif(s.opened_by, ''), 'import'),
                  coalesce(nullif(s.opened_at, '')::timestamptz, now()), nullif(s.note, '')
           FROM {s} s""",
    ),
    LayerLoad(
        "sweep_grid",
        ("sweep_name", "grid_code"),
        """INSERT INTO sweep_grid (sweep_id, grid_id)
           SELECT w.id, g.id FROM {s} s
           JOIN sweep w ON w.name = s.sweep_name
           JOIN grid g ON g.code = s.grid_code""",
    ),
    LayerLoad(
        "report",
        (
            "client_id",
            "category",
            "status",
            "note",
            "lon",
            "lat",
            "reporter",
            "person_code",
            "reported_at",
        ),
        """INSERT INTO report (client_id, category, department_id, status, note, geom, grid_id,
                               village_id, reporter, person_id, reported_at)
           SELECT s.client_id::uuid, s.category, c.department_id,
                  coalesce(nullif(s.status, ''), 'open'), s.note, p.geom, g.id, g.village_id,
                  coalesce(nullif(s.reporter, ''), 'sample'), pe.id, s.reported_at::timestamptz
           FROM {s} s
           JOIN report_category c ON c.code = s.category
           CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon::float8, s.lat::float8),
                                                 4326) AS geom) p
           LEFT JOIN grid g ON g.id = grid_at_point(p.geom)
           LEFT JOIN person pe ON pe.code = nullif(s.person_code, '')""",
    ),
    LayerLoad(
        "report_step",
        ("report_client_id", "kind", "at", "actor", "department", "note", "client_id"),
        """INSERT INTO report_step (report_id, kind, at, actor, department_id, note, client_id)
           SELECT r.id, s.kind, s.at::timestamptz, s.actor, coalesce(d.id, r.department_id),
                  nullif(s.note, ''), nullif(s.client_id, '')::uuid
           FROM {s} s
           JOIN report r ON r.client_id = s.report_client_id::uuid
           LEFT JOIN department d ON d.code = nullif(s.department, '')""",
        optional=("client_id",),  # the id the department's page sent (migration 023)
    ),
)


def fill_sweep_targets(conn: psycopg.Connection) -> None:
    """Every sweep's targets from its grids, as when it is opened (targets kept are kept)."""
    conn.execute("SELECT field_sweep_fill_targets(id) FROM sweep ORDER BY id")


def database_is_empty(conn: psycopg.Connection) -> bool:
    """True when no station has been loaded yet."""
    row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM station)").fetchone()
    return bool(row and row[0])


def load_jurisdiction(conn: psycopg.Connection, path: Path, *, progress: bool = False) -> dict:
    """Load every layer of the GeoPackage at path, then gather planner statistics; one
    transaction, so a failure changes nothing.

    Returns the number of rows stored per layer.
    """
    if not path.exists():
        raise InvalidParameter(f"No such file: {path}. Make the sample with: geo-service sample")
    present = {name for name, _ in pyogrio.list_layers(path)}
    missing = [spec.layer for spec in LAYERS if spec.layer not in present]
    if missing:
        raise InvalidParameter(f"{path} lacks the layers {', '.join(missing)}")
    counts: dict[str, int] = {}
    with conn.transaction():
        for spec in tqdm(LAYERS, desc="layers", disable=not progress):
            frame = _read(path, spec.layer, spec.columns)
            counts[spec.layer] = _stage_and_insert(conn, spec, frame)
        counts["incident"] = _load_incidents(conn, path, progress=progress)
        counts["position_fix"] = _load_position_fixes(conn, path, progress=progress)
        conn.execute("SELECT set_config('geo.bulk_load', 'on', true)")
        for spec in COMMAND_LAYERS:
            if spec.layer in present:
                frame = _read(path, spec.layer, spec.columns)
                counts[spec.layer] = _stage_and_insert(conn, spec, frame)
        for spec in FIELD_LAYERS:
            if spec.layer in present:
                frame = _read(path, spec.layer, spec.columns, spec.optional)
                counts[spec.layer] = _stage_and_insert(conn, spec, frame)
        fill_sweep_targets(conn)
        conn.execute("SELECT set_config('geo.bulk_load', 'off', true)")
        # planner statistics now, as after pg_restore: autovacuum may be off or come late,
        # and without statistics the planner guesses row counts (a lookup took 9-12 ms)
        conn.execute("ANALYZE")
    return counts


def _read(
    path: Path, layer: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A layer as text columns, with geometry (if any) as hex EWKB in column geom; optional
    columns the layer lacks are empty."""
    want = [c for c in columns if c != "geom"]
    if optional:
        fields = set(pyogrio.read_info(path, layer=layer)["fields"])
        want = [c for c in want if c in fields or c not in optional]
    frame = pyogrio.read_dataframe(path, layer=layer, columns=want, read_geometry="geom" in columns)
    out = pd.DataFrame({c: _as_text(frame[c]) if c in want else "" for c in columns if c != "geom"})
    if "geom" in columns:
        out["geom"] = _ewkb(frame.geometry.values)
    return out[list(columns)]


def _as_text(column: pd.Series) -> pd.Series:
    """Values as text for COPY; missing values become empty strings (NULL after nullif)."""
    if pd.api.types.is_float_dtype(column):
        text = column.map(lambda x: "" if pd.isna(x) else repr(float(x)))
    else:
        text = column.astype("string").fillna("")
    return text.astype(object)


def _ewkb(geoms: np.ndarray) -> np.ndarray:
    """Hex EWKB with SRID 4326, which PostGIS reads as geometry text input."""
    return shapely.to_wkb(shapely.set_srid(np.asarray(geoms), 4326), hex=True, include_srid=True)


def _copy_frame(
    conn: psycopg.Connection, table: sql.Composable, frame: pd.DataFrame, *, progress: str = ""
) -> None:
    """COPY a frame into a table, in CSV, in chunks (with a progress bar when named)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, cols)
    chunks = range(0, len(frame), CHUNK_ROWS)
    with conn.cursor().copy(stmt) as copy:
        for start in tqdm(chunks, desc=progress, disable=not progress or len(chunks) < 2):
            buffer = io.StringIO()
            frame.iloc[start : start + CHUNK_ROWS].to_csv(buffer, header=False, index=False)
            copy.write(buffer.getvalue())


def _stage_and_insert(conn: psycopg.Connection, spec: LayerLoad, frame: pd.DataFrame) -> int:
    """Stage a layer in a temporary table, then insert it into its table resolving codes."""
    staging = sql.Identifier(f"load_{spec.layer}")
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
            staging,
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in spec.columns),
        )
    )
    _copy_frame(conn, staging, frame)
    cur = conn.execute(sql.SQL(spec.insert).format(s=staging))
    if cur.rowcount != len(frame):
        raise InvalidParameter(
            f"Layer {spec.layer}: {len(frame) - cur.rowcount} of {len(frame)} rows name a code "
            "that does not exist (village, grid, plan, beat, person or water body)"
        )
    return cur.rowcount


def masked_rows(values: pd.Series) -> list[int]:
    """Rows (numbered from 1) whose phone is masked (138****5678): what an export for a role
    that may not see it in full holds, never a number to store."""
    text = values.astype("string").fillna("")
    return (np.flatnonzero(text.str.contains("*", regex=False).to_numpy()) + 1).tolist()


def _load_incidents(conn: psycopg.Connection, path: Path, *, progress: bool) -> int:
    """Stage incidents with their H3 cells (resolutions 7..10) and the caller's details (phone,
    address, description: when the file has them; the sample's have phones, older files none),
    then store them stamped with their areas. A masked phone is refused naming its rows."""
    frame = pyogrio.read_dataframe(path, layer="incident")
    xy = shapely.get_coordinates(frame.geometry.values)
    details = {}
    for column in CALLER_DETAILS:
        values = frame[column] if column in frame else pd.Series(None, frame.index)
        details[column] = values.astype(object).where(values.notna() & (values != ""), None)
    masked = masked_rows(details["caller_phone"])
    if masked:
        raise InvalidParameter(
            f"Layer incident: caller_phone is masked (like 138****5678) in rows "
            f"{', '.join(map(str, masked[:20]))}{' ...' if len(masked) > 20 else ''}: load a "
            "file exported by the command room, a leader or the command line"
        )
    staged = pd.DataFrame(
        {
            "call_no": frame["call_no"].astype(str),
            "received_at": frame["received_at"].astype(str),
            "category": frame["category"].astype(str),
            "status": frame["status"].astype(str),
            "geom": _ewkb(frame.geometry.values),
            **incident_cells(xy[:, 0], xy[:, 1]),
            **details,
        }
    )
    return _store_staged(conn, "incident_staging", "store_staged_incidents", staged, progress)


def _load_position_fixes(conn: psycopg.Connection, path: Path, *, progress: bool) -> int:
    """Stage position fixes (person codes resolved to ids), then store them stamped."""
    frame = pyogrio.read_dataframe(path, layer="position_fix")
    ids: dict[str, int] = dict(conn.execute("SELECT code, id FROM person").fetchall())
    person_id = frame["person_code"].map(ids)
    if person_id.isna().any():
        unknown = sorted(set(frame.loc[person_id.isna(), "person_code"]))[:5]
        raise InvalidParameter(f"Layer position_fix names unknown persons: {', '.join(unknown)}")
    xy = shapely.get_coordinates(frame.geometry.values)
    staged = pd.DataFrame(
        {
            "ord": np.arange(len(frame)),
            "person_id": person_id.astype(int),
            "recorded_at": frame["recorded_at"].astype(str),
            "geom": _ewkb(frame.geometry.values),
            "h3": h3_cells(xy[:, 0], xy[:, 1]),
        }
    )
    return _store_staged(
        conn, "position_fix_staging", "store_staged_position_fixes", staged, progress
    )


def _store_staged(
    conn: psycopg.Connection, staging: str, store: str, frame: pd.DataFrame, progress: bool
) -> int:
    """Copy rows into a staging table and let the store function stamp and move them."""
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(staging)))
    _copy_frame(conn, sql.Identifier(staging), frame, progress=staging if progress else "")
    row = conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(store))).fetchone()
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(staging)))
    return int(row[0]) if row else 0
