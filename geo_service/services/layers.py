"""The layers the service hands out (export, OGC API - Features, tiles), described once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from geo_service.errors import InvalidParameter, NotFound
from geo_service.ingest.load import COMMAND_LAYERS, FIELD_LAYERS, INCIDENT_COLUMNS
from geo_service.ingest.load import LAYERS as LOADED_LAYERS

# The event layers are loaded by their own functions in load.py; their columns are these
# (an incident's caller details as app_caller_phone and app_caller_detail show them).
_EVENT_COLUMNS = {
    "incident": INCIDENT_COLUMNS,
    "position_fix": ("person_code", "recorded_at"),
}


@dataclass(frozen=True)
class Layer:
    """One public layer: the SQL view layer_<name> with the contract's columns."""

    name: str
    title: str
    columns: tuple[str, ...]  # the layer contract's attribute columns, in order (no geometry)
    geometry: str | None = None  # MultiPolygon, Point, LineString, or None
    timed: bool = False  # events with a time (filter: datetime/from/to)
    by_plan: bool = False  # one set per beat plan (filter: plan, or the plan in force at `at`)
    by_validity: bool = False  # valid_from/valid_to (filter: in force at `at`)
    tiles: bool = False  # served as Mapbox vector tiles
    integer_id: bool = False  # the feature id is a number (no code), not text

    @property
    def view(self) -> sql.Identifier:
        """The SQL view holding the layer's public shape."""
        return sql.Identifier(f"layer_{self.name}")


def _columns(name: str) -> tuple[str, ...]:
    """Attribute columns of a layer, as the loader reads them (geometry left out)."""
    if name in _EVENT_COLUMNS:
        return _EVENT_COLUMNS[name]
    if name == "beat":  # beats are loaded without geometry; their outlines are derived
        spec = next(s for s in LOADED_LAYERS if s.layer == "beat")
        return spec.columns
    spec = next(s for s in (*LOADED_LAYERS, *COMMAND_LAYERS, *FIELD_LAYERS) if s.layer == name)
    return tuple(c for c in spec.columns if c != "geom")


def _layer(name: str, title: str, geometry: str | None = None, **flags: bool) -> Layer:
    return Layer(name, title, _columns(name), geometry, **flags)


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        _layer("station", "Station (派出所辖区)", "MultiPolygon"),
        _layer("village", "Villages and communities (行政村/社区)", "MultiPolygon", tiles=True),
        _layer("grid", "Governance grids (网格)", "MultiPolygon", tiles=True),
        _layer("beat", "Police beats (警格)", "MultiPolygon", by_plan=True, tiles=True),
        _layer("beat_plan", "Beat plans (警格方案)"),
        _layer("beat_grid", "Grids of each beat (警格网格)", by_plan=True),
        _layer("person", "People (人员)"),
        _layer("assignment", "Assignments (分工)", by_validity=True),
        _layer("water_body", "Water bodies (水域)", "MultiPolygon"),
        _layer("water_marker", "Water markers (防溺水标志)", "Point"),
        _layer("rental_house", "Rental houses (出租房)", "Point"),
        _layer("camera", "Cameras (视频监控)", "Point"),
        _layer("place", "Places (警务工作点、治理工作站等)", "Point"),
        _layer("road", "Roads (道路)", "LineString"),
        _layer("incident", "Incidents (警情)", "Point", timed=True, tiles=True),
        _layer(
            "position_fix",
            "Patrol position fixes (定位点)",
            "Point",
            timed=True,
            tiles=True,
            integer_id=True,
        ),
        _layer("duty_shift", "Duty shifts of units (勤务班次)", integer_id=True),
        _layer("incident_step", "Incident timelines (处警全过程)", integer_id=True),
        _layer("patrol_water", "Waters marked for dusk patrols (傍晚巡河水域)"),
        _layer("inspection", "Inspections and dusk patrol check-ins (巡查)", integer_id=True),
        _layer("sweep", "Sweeps (梳网清格)", integer_id=True),
        _layer("sweep_grid", "Grids of each sweep (梳网清格网格)"),
        _layer("report", "Reports (网格吹哨)", integer_id=True),
        _layer("report_step", "Report timelines (部门报到)", integer_id=True),
    )
}
SPATIAL_LAYERS = tuple(name for name, layer in LAYERS.items() if layer.geometry)


def get_layer(name: str) -> Layer:
    """The layer called name, or NotFound listing the layers there are."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(
            f"There is no layer '{name}'. Layers: {', '.join(LAYERS)}.", parameter="layer"
        )
    return layer


def layer_query(
    layer: Layer, *, at: datetime | None = None, plan: str | None = None
) -> tuple[sql.Composed, dict[str, object]]:
    """SELECT of a layer's contract columns (geometry as WKB in `geom`) with its parameters.

    Beats and beat grids are those of the plan named, else of the plan in force at `at`, else
    of every plan; assignments are those in force at `at`, else all of them (history).
    """
    fields: list[sql.Composable] = [sql.Identifier(c) for c in layer.columns]
    if layer.geometry:
        fields.append(sql.SQL("ST_AsBinary(geom) AS geom"))
    where: list[sql.Composable] = []
    params: dict[str, object] = {}
    if layer.by_plan and plan is not None:
        where.append(sql.SQL("_plan_id = (SELECT id FROM beat_plan WHERE code = %(plan)s)"))
        params["plan"] = plan
    elif layer.by_plan and at is not None:
        where.append(sql.SQL("_plan_id = plan_in_force(%(at)s)"))
        params["at"] = at
    if layer.by_validity and at is not None:
        where.append(sql.SQL("_validity @> %(at)s"))
        params["at"] = at
    order = [sql.Identifier(c) for c in layer.columns]
    query = sql.SQL("SELECT {fields} FROM {view} WHERE {where} ORDER BY {order}").format(
        fields=sql.SQL(", ").join(fields),
        view=layer.view,
        where=sql.SQL(" AND ").join(where) if where else sql.SQL("true"),
        order=sql.SQL(", ").join(order),
    )
    return query, params


async def read_layer(
    conn: psycopg.AsyncConnection,
    *,
    layer: Layer,
    at: datetime | None = None,
    plan: str | None = None,
) -> pd.DataFrame:
    """A layer's features: a GeoDataFrame (EPSG:4326) or, without geometry, a DataFrame."""
    if plan is not None:
        if not layer.by_plan:
            raise InvalidParameter(
                f"Layer {layer.name} has no beat plans; 'plan' applies to beat and beat_grid.",
                parameter="plan",
            )
        cur = await conn.execute("SELECT 1 FROM beat_plan WHERE code = %s", (plan,))
        if await cur.fetchone() is None:
            raise NotFound(f"There is no beat plan '{plan}'.", parameter="plan")
    query, params = layer_query(layer, at=at, plan=plan)
    cur = await conn.execute(query, params)
    rows = await cur.fetchall()
    return rows_to_frame(layer, rows)


def rows_to_frame(layer: Layer, rows: Iterable[tuple]) -> pd.DataFrame:
    """Rows of layer_query as a (Geo)DataFrame; integers stay integers, missing values None."""
    rows = list(rows)
    frame = pd.DataFrame.from_records(
        rows, columns=[*layer.columns, *(("geom",) if layer.geometry else ())]
    )
    for column in layer.columns:
        values = frame[column].dropna()
        if len(values) and all(isinstance(v, int) for v in values):
            frame[column] = frame[column].astype("Int64")
        elif len(values) and all(isinstance(v, float) for v in values):
            frame[column] = frame[column].astype("float64")
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if not layer.geometry:
        return frame
    geometry = shapely.from_wkb([bytes(g) for g in frame.pop("geom")])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def restore_column_names(layer: Layer, names: Iterable[str]) -> dict[str, str]:
    """Map column names changed by a format back to the contract: Shapefile cuts them to 10
    characters, KML read through LIBKML gives `name` as `Name`.

    A name is restored when it matches a contract column but for case, or else when exactly one
    contract column starts with it; returns {changed: contract name}.
    """
    restored: dict[str, str] = {}
    for name in names:
        if name in layer.columns:
            continue
        matches = [c for c in layer.columns if c.lower() == name.lower()] or [
            c for c in layer.columns if c.startswith(name)
        ]
        if len(matches) == 1:
            restored[name] = matches[0]
    return restored
