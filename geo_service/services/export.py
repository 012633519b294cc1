"""Export a layer to GeoJSON, GeoPackage, Shapefile (zip), CSV or KML with pyogrio/GDAL."""

from __future__ import annotations

import asyncio
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo_service.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo_service.db import redact, translate
from geo_service.errors import DatabaseUnavailable, InvalidParameter, UnknownCRS
from geo_service.moments import STATION_TZ
from geo_service.services.layers import Layer, read_layer


@dataclass(frozen=True)
class ExportFormat:
    """A file format a layer can be exported to."""

    name: str
    suffix: str
    media_type: str
    needs_geometry: bool


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("geojson", ".geojson", "application/geo+json", False),
        ExportFormat("gpkg", ".gpkg", "application/geopackage+sqlite3", False),
        ExportFormat("shp", ".shp.zip", "application/zip", True),
        ExportFormat("csv", ".csv", "text/csv; charset=utf-8", False),
        ExportFormat("kml", ".kml", "application/vnd.google-earth.kml+xml", True),
    )
}
# Coordinate systems given by name rather than EPSG code: forward from WGS 84 with geo_service.crs.
_SHIFTED = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}
_WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class OutputCRS:
    """Where exported coordinates go: an EPSG/PROJ CRS, or GCJ-02 / BD-09 (no EPSG code)."""

    label: str
    crs: CRS | None  # None for gcj02/bd09

    @property
    def is_wgs84(self) -> bool:
        """True when coordinates stay as stored."""
        return self.crs is not None and self.crs.equals(_WGS84, ignore_axis_order=True)


def parse_output_crs(text: str | None) -> OutputCRS:
    """EPSG:4326 when None; gcj02/bd09 by name; anything pyproj knows (EPSG:4549, 4490, ...)."""
    if text is None or not text.strip():
        return OutputCRS("EPSG:4326", _WGS84)
    key = text.strip().lower().replace("-", "").replace("_", "")
    if key in ("bd09ll",):
        key = "bd09"
    if key in _SHIFTED:
        return OutputCRS(key, None)
    try:
        crs = CRS.from_user_input(text.strip())
    except CRSError:
        raise UnknownCRS(
            f"Unknown crs '{text}': give an EPSG code (EPSG:4326, EPSG:4490, EPSG:4549, ...), "
            "gcj02 or bd09.",
            parameter="crs",
        ) from None
    authority = crs.to_authority()
    return OutputCRS(":".join(authority) if authority else crs.name, crs)


def get_format(name: str, layer: Layer) -> ExportFormat:
    """The export format called name, checked against the layer (some formats need geometry)."""
    fmt = FORMATS.get(name.lower())
    if fmt is None:
        raise InvalidParameter(
            f"Unknown format '{name}'. Formats: {', '.join(FORMATS)}.", parameter="format"
        )
    if fmt.needs_geometry and not layer.geometry:
        works = ", ".join(f.name for f in FORMATS.values() if not f.needs_geometry)
        raise InvalidParameter(
            f"Layer {layer.name} has no geometry, so it cannot be written as {fmt.name}; "
            f"use {works}.",
            parameter="format",
        )
    return fmt


def reproject(frame: gpd.GeoDataFrame, target: OutputCRS) -> gpd.GeoDataFrame:
    """The frame's geometry (EPSG:4326) in the target CRS; GCJ-02/BD-09 carry no CRS label."""
    if target.is_wgs84:
        return frame
    if target.crs is not None:
        return frame.to_crs(target.crs)
    forward = _SHIFTED[target.label]

    def shift(xy: np.ndarray) -> np.ndarray:
        lon, lat = forward(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    shifted = shapely.transform(np.asarray(frame.geometry.values), shift)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=shifted, crs=None)


def export_filename(layer: Layer, fmt: ExportFormat, *, plan: str | None = None) -> str:
    """The download file name, e.g. grid.gpkg or beat_2026.shp.zip."""
    return f"{layer.name}{'_' + plan if plan else ''}{fmt.suffix}"


def write_layer(frame: pd.DataFrame, *, layer: Layer, fmt: ExportFormat, path: Path) -> Path:
    """Write the frame (from read_layer, already reprojected) to path in the given format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with warnings.catch_warnings():  # GCJ-02/BD-09 have no CRS to write; that is intended
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        _write(frame, layer=layer, fmt=fmt, path=path)
    return path


def _write(frame: pd.DataFrame, *, layer: Layer, fmt: ExportFormat, path: Path) -> None:
    """Write in one format (see write_layer)."""
    geometric = isinstance(frame, gpd.GeoDataFrame)
    if fmt.name == "csv":
        _write_csv(frame, layer=layer, path=path)
    elif fmt.name == "shp":
        _write_shapefile_zip(frame, layer=layer, path=path)
    elif fmt.name == "kml":
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer.name,
            driver="KML",
            dataset_options={"NameField": "name" if "name" in layer.columns else "_none_"},
        )
    elif fmt.name == "gpkg":
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer.name,
            driver="GPKG",
            geometry_type=layer.geometry if geometric else None,
        )
    else:  # GeoJSON; RFC 7946 only for WGS 84 (it allows no other CRS)
        wgs84 = geometric and frame.crs is not None and frame.crs.equals(_WGS84)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer.name,
            driver="GeoJSON",
            COORDINATE_PRECISION=15,  # every digit: export then import gives the same
            # text stays text: a rental check's items (JSON text) are not written as an object
            AUTODETECT_JSON_STRINGS="NO",
            **({"RFC7946": "YES", "WRITE_NAME": "NO"} if wgs84 else {}),
        )


def csv_column_types(table: pd.DataFrame) -> list[str]:
    """GDAL's .csvt types of the columns: codes and phones stay String (leading zeros kept),
    counts Integer64, measures Real, `WKT` the geometry."""
    types = []
    for name, dtype in table.dtypes.items():
        if name == "WKT":
            types.append("WKT")
        elif pd.api.types.is_integer_dtype(dtype):
            types.append("Integer64")
        elif pd.api.types.is_float_dtype(dtype):
            types.append("Real")
        else:
            types.append("String")
    return types


def _write_csv(frame: pd.DataFrame, *, layer: Layer, path: Path) -> None:
    """CSV in UTF-8 with a byte-order mark (spreadsheets read the Chinese right), every digit.

    Geometry is in a `WKT` column, which GDAL (QGIS dropping the file, ogr2ogr) reads as the
    geometry with no options; points have lon/lat (x/y when projected) columns as well, for
    spreadsheets. Beside the file go the sidecars GDAL reads: `.csvt` with the column types
    (so codes and phones stay text whatever a reader guesses) and `.prj` with the CRS. Only the
    CSV itself is downloaded over HTTP; `geo-service export` leaves all three.
    """
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    path.with_suffix(".prj").unlink(missing_ok=True)
    if isinstance(frame, gpd.GeoDataFrame):
        if layer.geometry == "Point":
            xy = shapely.get_coordinates(frame.geometry.values)
            projected = frame.crs is not None and frame.crs.is_projected
            x, y = ("x", "y") if projected else ("lon", "lat")
            table[x], table[y] = xy[:, 0], xy[:, 1]
        table["WKT"] = shapely.to_wkt(frame.geometry.values, rounding_precision=-1)
        if frame.crs is not None:
            path.with_suffix(".prj").write_text(frame.crs.to_wkt("WKT1_ESRI"), encoding="utf-8")
    table.to_csv(path, index=False, encoding="utf-8-sig")
    types = ",".join(f'"{t}"' for t in csv_column_types(table))
    path.with_suffix(".csvt").write_text(types + "\n", encoding="utf-8")


def _write_shapefile_zip(frame: pd.DataFrame, *, layer: Layer, path: Path) -> None:
    """A Shapefile (UTF-8 attributes, names cut to 10 characters by the format) in a zip."""
    with tempfile.TemporaryDirectory() as folder:
        shp = Path(folder) / f"{layer.name}.shp"
        with warnings.catch_warnings():  # the format's 10-character names are documented
            warnings.simplefilter("ignore")
            pyogrio.write_dataframe(
                frame,
                shp,
                driver="ESRI Shapefile",
                encoding="UTF-8",
                geometry_type=layer.geometry,
            )
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(folder).iterdir()):
                archive.write(part, part.name)


async def export_layer(
    conn: psycopg.AsyncConnection,
    *,
    layer: Layer,
    fmt: ExportFormat,
    path: Path,
    at: datetime | None = None,
    plan: str | None = None,
    crs: OutputCRS | None = None,
) -> Path:
    """Read a layer (beats/assignments as of `at` or of `plan` when given) and write it to path.

    Reprojection and writing run in a worker thread, off the event loop.
    """
    target = crs or parse_output_crs(None)
    if fmt.name == "kml" and target.crs is not None and not target.is_wgs84:
        raise InvalidParameter(
            "KML coordinates are WGS 84: leave out crs (or give gcj02/bd09 for a shifted "
            "copy), or choose another format.",
            parameter="crs",
        )
    frame = await read_layer(conn, layer=layer, at=at, plan=plan)

    def write() -> Path:
        out = reproject(frame, target) if isinstance(frame, gpd.GeoDataFrame) else frame
        return write_layer(out, layer=layer, fmt=fmt, path=path)

    return await asyncio.to_thread(write)


def export_to_file(
    database_url: str,
    *,
    layer: Layer,
    fmt: ExportFormat,
    path: Path,
    at: datetime | None = None,
    plan: str | None = None,
    crs: OutputCRS | None = None,
) -> Path:
    """export_layer for the command line: its own connection, closed on return."""

    async def run() -> Path:
        try:
            conn = await psycopg.AsyncConnection.connect(
                database_url, autocommit=True, options=f"-c TimeZone={STATION_TZ.key}"
            )
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"Cannot connect to {redact(database_url)}: {str(exc).strip()}"
            ) from exc
        async with conn:
            try:
                return await export_layer(
                    conn, layer=layer, fmt=fmt, path=path, at=at, plan=plan, crs=crs
                )
            except psycopg.Error as exc:
                raise translate(exc) from exc

    return asyncio.run(run())
