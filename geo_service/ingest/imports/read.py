"""Reading a layer from GeoJSON, GeoPackage, Shapefile (folder or .zip), KML or CSV, and its CRS."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo_service.crs import InputCRS, parse_crs, to_wgs84_arrays
from geo_service.errors import DomainError, InvalidCoordinates, InvalidParameter, UnknownCRS

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "Shapefile (zip)",
    ".kml": "KML",
    ".csv": "CSV",
}
LON_COLUMNS = ("lon", "lng", "longitude", "x")
LAT_COLUMNS = ("lat", "latitude", "y")
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
CRS_HINT = (
    "give it with --crs (for example --crs EPSG:4326, --crs EPSG:4490, --crs EPSG:4549, "
    "--crs gcj02 or --crs bd09)"
)


@dataclass
class Source:
    """One layer as read: attributes as text, geometry (or None) and what the file said."""

    frame: pd.DataFrame
    geometry: np.ndarray | None
    crs: CRS | None
    format: str
    layer: str | None


def read_source(path: Path, *, layer: str, source_layer: str | None, display: str) -> Source:
    """Read the layer to import from path: which layer inside a GeoPackage (or a zip or folder of
    Shapefiles) is `source_layer`, else the one named like the model's layer, else the only one.
    """
    if not path.exists():
        raise InvalidParameter(f"No such file or folder: {display}", parameter="path")
    if path.is_dir():
        shapefile = _pick_shapefile(path, layer, source_layer, display)
        return _read_ogr(shapefile, "Shapefile", None, display)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidParameter(
            f"{display}: unknown format {suffix or '(no extension)'}; import reads "
            ".geojson/.json, .gpkg, .shp (or a folder or .zip of them), .kml and .csv",
            parameter="path",
        )
    if suffix == ".csv":
        return _read_csv(path, display)
    if suffix == ".zip":
        inner = _pick_in_zip(path, layer, source_layer, display)
        return _read_ogr(inner, FORMATS[suffix], None, display)
    chosen = _pick_layer(path, layer, source_layer, display)
    return _read_ogr(str(path), FORMATS[suffix], chosen, display)


def _pick_layer(path: Path, layer: str, source_layer: str | None, display: str) -> str | None:
    """The layer inside a multi-layer file (GeoPackage, KML) to read."""
    try:
        names = [str(name) for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        message = str(exc).replace(f"'{path}' ", "").split(";")[0]
        raise InvalidParameter(
            f"{display} cannot be read as {FORMATS[path.suffix.lower()]}: {message}",
            parameter="path",
        ) from exc
    return _choose(names, layer, source_layer, display)


def _choose(names: list[str], layer: str, source_layer: str | None, display: str) -> str:
    if source_layer is not None:
        if source_layer not in names:
            raise InvalidParameter(
                f"{display} has no layer {source_layer!r}; it has: {', '.join(names)}",
                parameter="source_layer",
            )
        return source_layer
    if layer in names:
        return layer
    if len(names) == 1:
        return names[0]
    raise InvalidParameter(
        f"{display} holds several layers ({', '.join(names)}) and none is named {layer!r}: "
        "choose one with --source-layer",
        parameter="source_layer",
    )


def _pick_shapefile(folder: Path, layer: str, source_layer: str | None, display: str) -> str:
    shapefiles = {p.stem: p for p in sorted(folder.glob("*.shp"))}
    if not shapefiles:
        raise InvalidParameter(f"The folder {display} holds no .shp file", parameter="path")
    return str(shapefiles[_choose(list(shapefiles), layer, source_layer, display)])


def _pick_in_zip(path: Path, layer: str, source_layer: str | None, display: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            inner = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile as exc:
        raise InvalidParameter(f"{display} is not a zip file: {exc}", parameter="path") from exc
    if not inner:
        raise InvalidParameter(f"The zip {display} holds no .shp file", parameter="path")
    stems = {Path(n).stem: n for n in inner}
    return f"/vsizip/{path}/{stems[_choose(list(stems), layer, source_layer, display)]}"


def _read_ogr(target: str, fmt: str, layer: str | None, display: str) -> Source:
    """Read with GDAL (pyogrio, through its Arrow stream: about twice as fast as feature by
    feature): attributes as text, geometry as shapely."""
    try:
        frame = pyogrio.read_dataframe(target, layer=layer, use_arrow=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        message = str(exc).replace(f"'{target}' ", "").split(";")[0]
        raise InvalidParameter(f"{display} cannot be read as {fmt}: {message}") from exc
    geometry = None
    crs = None
    if isinstance(frame, gpd.GeoDataFrame):
        geometry = frame.geometry.values.to_numpy() if len(frame) else np.array([], dtype=object)
        crs = frame.crs
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return Source(_as_text(frame), geometry, crs, fmt, layer)


def _read_csv(path: Path, display: str) -> Source:
    """A CSV with lon/lat columns or a WKT column; it carries no CRS."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InvalidParameter(f"{display} is not a readable CSV: {exc}", parameter="path") from exc
    lower = {c.lower(): c for c in frame.columns}
    lon = next((lower[c] for c in LON_COLUMNS if c in lower), None)
    lat = next((lower[c] for c in LAT_COLUMNS if c in lower), None)
    wkt = next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    geometry: np.ndarray | None = None
    if wkt is not None:
        geometry = np.array([_wkt(v, i) for i, v in enumerate(frame[wkt], start=1)], dtype=object)
        frame = frame.drop(columns=[wkt])
    elif lon is not None and lat is not None:
        x = pd.to_numeric(frame[lon].str.strip().replace("", np.nan), errors="coerce")
        y = pd.to_numeric(frame[lat].str.strip().replace("", np.nan), errors="coerce")
        geometry = shapely.points(x.to_numpy(), y.to_numpy())
        geometry[x.isna().to_numpy() | y.isna().to_numpy()] = None
        frame = frame.drop(columns=[lon, lat])
    return Source(frame.astype(object), geometry, None, "CSV", None)


def _wkt(value: str, row: int) -> shapely.Geometry | None:
    if not value.strip():
        return None
    try:
        return shapely.from_wkt(value)
    except shapely.errors.GEOSException as exc:
        raise InvalidParameter(f"row {row}: unreadable WKT geometry ({exc})") from exc


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text; integral floats without their '.0'; missing values empty."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column):
            values = column.to_numpy(dtype=float)
            integral = np.isfinite(values) & (values == np.round(values))
            whole = bool(integral[~np.isnan(values)].all())
            out[name] = [
                "" if np.isnan(v) else (str(int(v)) if whole else repr(float(v))) for v in values
            ]
        elif pd.api.types.is_datetime64_any_dtype(column):
            out[name] = [("" if pd.isna(v) else v.isoformat()) for v in column]
        else:
            out[name] = column.astype("string").fillna("").astype(object).to_numpy()
    return pd.DataFrame(out, index=frame.index, columns=frame.columns).astype(object)


# --- the CRS of the source and its conversion to storage (EPSG:4326) ----------------------


@dataclass(frozen=True)
class Conversion:
    """How source coordinates reach EPSG:4326: nothing, a datum shift or pyproj."""

    source: str
    description: str | None
    input_crs: InputCRS | None = None
    crs: CRS | None = None


def source_conversion(file_crs: CRS | None, option: str | None, display: str) -> Conversion:
    """The conversion for a file: --crs when given (it wins over the file's), else the file's.

    A file without a CRS (a Shapefile without .prj, a CSV) and no --crs is refused.
    """
    if option:
        return _conversion_of(option)
    if file_crs is None:
        raise InvalidParameter(
            f"{display} does not say which coordinate reference system it uses: {CRS_HINT}",
            parameter="crs",
        )
    epsg = file_crs.to_epsg(min_confidence=90)
    if epsg == 4326 or file_crs.equals(CRS.from_user_input("OGC:CRS84"), ignore_axis_order=True):
        return Conversion("EPSG:4326", None, InputCRS.WGS84)
    if epsg is not None:
        return _conversion_of(f"EPSG:{epsg}")
    return _projected(file_crs, file_crs.name)


def _conversion_of(text: str) -> Conversion:
    try:
        named = parse_crs(text)
    except UnknownCRS:
        named = None
    if named is InputCRS.WGS84:
        return Conversion(named.value, None, named)
    if named is InputCRS.CGCS2000:
        return Conversion(named.value, "EPSG:4490 (CGCS2000) → EPSG:4326 by pyproj", named)
    if named is not None:
        return Conversion(named.value, f"{named.value} → EPSG:4326 by the exact inverse", named)
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        raise UnknownCRS(
            f"unknown coordinate reference system {text!r}: use an EPSG code (EPSG:4549), "
            "gcj02 or bd09",
            parameter="crs",
        ) from None
    return _projected(crs, text)


def _projected(crs: CRS, name: str) -> Conversion:
    epsg = crs.to_epsg(min_confidence=90)
    label = f"EPSG:{epsg}" if epsg else name
    return Conversion(label, f"{label} → EPSG:4326 by pyproj", None, crs)


def to_storage(geoms: np.ndarray, conversion: Conversion) -> np.ndarray:
    """Geometries converted to EPSG:4326 (2-D); InvalidCoordinates names the first bad row."""
    if shapely.has_z(geoms).any() or shapely.has_m(geoms).any():  # else nothing to drop
        geoms = shapely.force_2d(geoms)
    if conversion.description is None:
        return geoms
    if conversion.input_crs is not None:
        crs = conversion.input_crs

        def shift(xy: np.ndarray) -> np.ndarray:
            lon, lat = to_wgs84_arrays(xy[:, 0], xy[:, 1], crs)
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, shift)
    transformer = Transformer.from_crs(conversion.crs, "EPSG:4326", always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, project)


def coordinates_problem(geoms: np.ndarray) -> tuple[int, str] | None:
    """(1-based row, message) of the first geometry with coordinates outside lon/lat range."""
    xy = shapely.get_coordinates(geoms)
    if not len(xy):
        return None
    counts = shapely.get_num_coordinates(geoms)
    owner = np.repeat(np.arange(len(geoms)), counts)
    bad = ~(np.isfinite(xy).all(axis=1) & (np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90))
    if bad.any():
        first = int(np.argmax(bad))
        lon, lat = xy[first]
        return int(owner[first]) + 1, f"coordinates ({lon!r}, {lat!r}) are not longitude/latitude"
    # metric work (areas, distances) is in EPSG:4549, which has no coordinates far from its zone
    x, y = metric_transformer().transform(xy[:, 0], xy[:, 1])
    far = ~(np.isfinite(x) & np.isfinite(y))
    if far.any():
        first = int(np.argmax(far))
        lon, lat = xy[first]
        return int(owner[first]) + 1, (
            f"coordinates ({lon!r}, {lat!r}) are too far from the station for EPSG:4549, "
            "where the service measures: is the CRS right?"
        )
    return None


@cache
def metric_transformer() -> Transformer:
    """WGS 84 to EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E)."""
    return Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)


def checked_conversion(geoms: np.ndarray, conversion: Conversion) -> np.ndarray:
    """to_storage, with out-of-range input turned into a refusal naming --crs."""
    try:
        return to_storage(geoms, conversion)
    except InvalidCoordinates as exc:
        raise InvalidParameter(
            f"{exc.detail} after reading as {conversion.source}: is the CRS right? {CRS_HINT}",
            parameter="crs",
        ) from exc
    except DomainError:
        raise
