"""Conversion of incoming WGS 84 / CGCS2000 / GCJ-02 / BD-09 coordinates to storage (EPSG:4326)."""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from functools import cache
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod, Transformer

from geo_service.errors import InvalidCoordinates, UnknownCRS

__all__ = [
    "INVERSE_MAX_ITERATIONS",
    "INVERSE_TOLERANCE_DEG",
    "InputCRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "distance_m",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "parse_crs",
    "to_wgs84",
    "to_wgs84_arrays",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = NDArray[np.float64]
FloatOrArray = float | FloatArray
# A conversion of flat float64 arrays (lon, lat) -> (lon, lat).
_Kernel = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

# GCJ-02 (the public algorithm): Krasovsky 1940 ellipsoid.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# BD-09 from GCJ-02.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006
# The box outside which GCJ-02 leaves points unshifted (the standard rule).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# Inverses iterate until the forward of the estimate reproduces the input to this many degrees
# (1e-9 degrees is about 0.1 mm).
INVERSE_TOLERANCE_DEG = 1e-9
INVERSE_MAX_ITERATIONS = 30


class InputCRS(StrEnum):
    """A coordinate reference system that incoming coordinates may be given in."""

    WGS84 = "EPSG:4326"
    CGCS2000 = "EPSG:4490"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# Spellings accepted by parse_crs, after upper-casing and removing spaces, '-' and '_'.
_CRS_ALIASES: dict[str, InputCRS] = {
    "EPSG:4326": InputCRS.WGS84,
    "4326": InputCRS.WGS84,
    "WGS84": InputCRS.WGS84,
    "OGC:CRS84": InputCRS.WGS84,
    "CRS84": InputCRS.WGS84,
    "URN:OGC:DEF:CRS:EPSG::4326": InputCRS.WGS84,
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84": InputCRS.WGS84,
    "EPSG:4490": InputCRS.CGCS2000,
    "4490": InputCRS.CGCS2000,
    "CGCS2000": InputCRS.CGCS2000,
    "URN:OGC:DEF:CRS:EPSG::4490": InputCRS.CGCS2000,
    "GCJ02": InputCRS.GCJ02,
    "BD09": InputCRS.BD09,
    "BD09LL": InputCRS.BD09,
}

_ACCEPTED = "EPSG:4326 (WGS 84, the default), EPSG:4490 (CGCS2000), gcj02 (GCJ-02), bd09 (BD-09)"


def parse_crs(text: str | None) -> InputCRS:
    """The InputCRS named by a request parameter; None or blank means WGS 84.

    Case, spaces, '-' and '_' are ignored, so "EPSG:4326", "4326", "epsg:4490", "gcj02",
    "GCJ-02", "bd09" and "BD-09" are all accepted. Anything else raises UnknownCRS, whose
    message lists the accepted values (e.g. EPSG:3857 is a projection, not an input datum).
    """
    if text is None:
        return InputCRS.WGS84
    key = str(text).strip().upper()
    for char in (" ", "-", "_"):
        key = key.replace(char, "")
    if not key:
        return InputCRS.WGS84
    try:
        return _CRS_ALIASES[key]
    except KeyError:
        raise UnknownCRS(
            f"unknown coordinate reference system {text!r}; accepted: {_ACCEPTED}",
            parameter="crs",
        ) from None


# --- helpers -------------------------------------------------------------------------------

# Arrays are processed in blocks of this many points so that the temporaries stay in cache.
_BLOCK = 65536


def _as_flat(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Flat float64 copies of lon and lat broadcast together, and their common shape."""
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_a.reshape(-1).copy(), lat_a.reshape(-1).copy(), lon_a.shape


def _result(
    lon: FloatArray, lat: FloatArray, shape: tuple[int, ...]
) -> tuple[FloatOrArray, FloatOrArray]:
    """Python floats for scalar input, arrays of the input shape otherwise."""
    if not shape:
        return float(lon[0]), float(lat[0])
    return lon.reshape(shape), lat.reshape(shape)


def _apply(
    kernel: _Kernel, lon: FloatArray, lat: FloatArray, rows: NDArray[np.bool_] | None = None
) -> tuple[FloatArray, FloatArray]:
    """kernel applied block by block to the flat arrays lon/lat, only where `rows` is True.

    Rows left out are returned unchanged. The inputs are not modified.
    """
    if rows is not None and rows.all():
        rows = None
    index = None if rows is None else np.flatnonzero(rows)
    src_lon = lon if index is None else lon[index]
    src_lat = lat if index is None else lat[index]
    new_lon = np.empty_like(src_lon)
    new_lat = np.empty_like(src_lat)
    for start in range(0, src_lon.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        new_lon[block], new_lat[block] = kernel(src_lon[block], src_lat[block])
    if index is None:
        return new_lon, new_lat
    out_lon, out_lat = lon.copy(), lat.copy()
    out_lon[index] = new_lon
    out_lat[index] = new_lat
    return out_lon, out_lat


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> bool | NDArray[np.bool_]:
    """Whether GCJ-02 leaves a point unshifted: outside lon 72.004..137.8347, lat 0.8293..55.8271.

    Works on scalars (returns bool) and arrays (returns a boolean array). NaN counts as outside.
    """
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    inside = (
        (lon_a >= _CHINA_LON[0])
        & (lon_a <= _CHINA_LON[1])
        & (lat_a >= _CHINA_LAT[0])
        & (lat_a <= _CHINA_LAT[1])
    )
    outside = ~inside
    if outside.ndim == 0:
        return bool(outside)
    return outside


def _sin3(s: FloatArray) -> FloatArray:
    """sin(3a) from s = sin(a) (saves a transcendental call per use)."""
    return s * (3.0 - 4.0 * s * s)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 shift (dlon, dlat) in degrees at a WGS 84 point, ignoring the China box.

    The public transform_lat/transform_lon polynomials on the Krasovsky ellipsoid; sin(6a),
    sin(x*pi) and sin(y*pi) are taken by the triple-angle identity from sin(2a), sin(x*pi/3)
    and sin(y*pi/3), which changes the result only in the last bits.
    """
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * math.pi
    y_pi = y * math.pi
    xy = x * y
    sqrt_abs_x = np.sqrt(np.abs(x))
    sin_2x = np.sin(2.0 * x_pi)
    sin_x3 = np.sin(x_pi / 3.0)
    sin_y3 = np.sin(y_pi / 3.0)
    common = (20.0 * _sin3(sin_2x) + 20.0 * sin_2x) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * sqrt_abs_x
    d_lat += common
    d_lat += (20.0 * _sin3(sin_y3) + 40.0 * sin_y3) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * sqrt_abs_x
    d_lon += common
    d_lon += (20.0 * _sin3(sin_x3) + 40.0 * sin_x3) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS 84 -> GCJ-02 without the China box (kernel)."""
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 -> BD-09 by the x_pi formula (kernel)."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _refine(
    forward: _Kernel,
    target_lon: FloatArray,
    target_lat: FloatArray,
    est_lon: FloatArray,
    est_lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Fixed-point inversion of `forward` at the target, starting from the estimate.

    Each round replaces an estimate by estimate - (forward(estimate) - target). Both forwards
    are the identity plus a slowly varying shift (its derivative is a few thousandths), so
    each round gains two to three digits. A point stops as soon as its forward reproduces the
    target within INVERSE_TOLERANCE_DEG, so every returned point passed that check, except
    points still off after INVERSE_MAX_ITERATIONS rounds (NaN input), which keep their last
    estimate. The estimate arrays are updated in place and returned.
    """
    rows: NDArray[np.intp] | None = None  # None: every point is still pending
    for _ in range(INVERSE_MAX_ITERATIONS):
        if rows is None:
            f_lon, f_lat = forward(est_lon, est_lat)
            r_lon, r_lat = f_lon - target_lon, f_lat - target_lat
        else:
            f_lon, f_lat = forward(est_lon[rows], est_lat[rows])
            r_lon, r_lat = f_lon - target_lon[rows], f_lat - target_lat[rows]
        pending = (np.abs(r_lon) > INVERSE_TOLERANCE_DEG) | (np.abs(r_lat) > INVERSE_TOLERANCE_DEG)
        if not pending.any():
            break
        rows = np.flatnonzero(pending) if rows is None else rows[pending]
        est_lon[rows] -= r_lon[pending]
        est_lat[rows] -= r_lat[pending]
    return est_lon, est_lat


def _gcj_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 -> WGS 84 without the China box (kernel)."""
    # First estimate: the one-step approximation (subtract the shift taken at the GCJ point).
    d_lon, d_lat = _gcj_offset(lon, lat)
    return _refine(_gcj_forward, lon, lat, lon - d_lon, lat - d_lat)


def _bd_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 -> GCJ-02 (kernel): the usual closed form, then refined."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _refine(_bd_forward, lon, lat, z * np.cos(theta), z * np.sin(theta))


def _inside_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    """Boolean array: the points that GCJ-02 shifts."""
    return ~np.asarray(out_of_china(lon, lat))


# --- public conversions (numpy-vectorised; scalars in, floats out) --------------------------
# These are pure arithmetic with no range checks: use to_wgs84/to_wgs84_arrays for user input.


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """WGS 84 -> GCJ-02 by the public algorithm; points outside China are returned unchanged."""
    lon_a, lat_a, shape = _as_flat(lon, lat)
    out_lon, out_lat = _apply(_gcj_forward, lon_a, lat_a, _inside_china(lon_a, lat_a))
    return _result(out_lon, out_lat, shape)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """GCJ-02 -> WGS 84, exact: iterated until wgs84_to_gcj02 of the result gives back the input
    within 1e-9 degrees (about 0.1 mm). Points outside China are returned unchanged.

    GCJ-02 is not one-to-one at the very edge of the China box (a point just inside may be
    shifted out of it); there the inside-China solution is returned.
    """
    lon_a, lat_a, shape = _as_flat(lon, lat)
    out_lon, out_lat = _apply(_gcj_inverse, lon_a, lat_a, _inside_china(lon_a, lat_a))
    return _result(out_lon, out_lat, shape)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """GCJ-02 -> BD-09 (Baidu) by the public x_pi formula with the 0.0065 / 0.006 offsets.

    Applied everywhere (no China box), as in the common public implementations.
    """
    lon_a, lat_a, shape = _as_flat(lon, lat)
    out_lon, out_lat = _apply(_bd_forward, lon_a, lat_a)
    return _result(out_lon, out_lat, shape)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """BD-09 -> GCJ-02, exact: the usual closed form, then iterated until gcj02_to_bd09 of the
    result gives back the input within 1e-9 degrees."""
    lon_a, lat_a, shape = _as_flat(lon, lat)
    out_lon, out_lat = _apply(_bd_inverse, lon_a, lat_a)
    return _result(out_lon, out_lat, shape)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """WGS 84 -> BD-09 (through GCJ-02)."""
    lon_a, lat_a, shape = _as_flat(lon, lat)
    g_lon, g_lat = _apply(_gcj_forward, lon_a, lat_a, _inside_china(lon_a, lat_a))
    out_lon, out_lat = _apply(_bd_forward, g_lon, g_lat)
    return _result(out_lon, out_lat, shape)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """BD-09 -> WGS 84 (through GCJ-02), exact in both steps."""
    lon_a, lat_a, shape = _as_flat(lon, lat)
    g_lon, g_lat = _apply(_bd_inverse, lon_a, lat_a)
    out_lon, out_lat = _apply(_gcj_inverse, g_lon, g_lat, _inside_china(g_lon, g_lat))
    return _result(out_lon, out_lat, shape)


@cache
def _cgcs2000_transformer() -> Transformer:
    """EPSG:4490 -> EPSG:4326, lon/lat order, created once.

    PROJ has no published parameters for this pair and picks its "ballpark" (null)
    transformation: the two frames agree to a few centimetres at their reference epochs.
    """
    return Transformer.from_crs("EPSG:4490", "EPSG:4326", always_xy=True)


@cache
def _wgs84_geod() -> Geod:
    """The WGS 84 ellipsoid for geodesic distances."""
    return Geod(ellps="WGS84")


def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatOrArray:
    """Geodesic distance in metres on the WGS 84 ellipsoid (vectorised; float for scalars)."""
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2))
    )
    shape = arrays[0].shape
    lons1, lats1, lons2, lats2 = (np.ascontiguousarray(a).reshape(-1) for a in arrays)
    _, _, dist = _wgs84_geod().inv(lons1, lats1, lons2, lats2)
    dist = np.asarray(dist, dtype=np.float64).reshape(shape)
    if not shape:
        return float(dist)
    return dist


# --- the entry points for user input -------------------------------------------------------

_LIMITS = {"lon": 180.0, "lat": 90.0}


def _checked(value: object, name: str) -> float:
    """A finite float within the range of `name` ("lon" or "lat"), or InvalidCoordinates."""
    limit = _LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidCoordinates(f"{name} must be a number, got {value!r}", parameter=name)
    number = float(value)
    if not (math.isfinite(number) and -limit <= number <= limit):
        raise InvalidCoordinates(
            f"{name} must be a finite number in [-{limit:g}, {limit:g}], got {number!r}",
            parameter=name,
        )
    return number


def _checked_array(values: ArrayLike, name: str) -> FloatArray:
    """A 1-D float64 array of `name` values, or InvalidCoordinates."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidCoordinates(f"{name} must be an array of numbers", parameter=name) from None
    if array.ndim != 1:
        raise InvalidCoordinates(
            f"{name} must be a one-dimensional array, got {array.ndim} dimensions", parameter=name
        )
    return array


def _first_bad_row(values: FloatArray, name: str) -> int | None:
    """Index of the first value that is not finite or out of range for `name`, or None."""
    limit = _LIMITS[name]
    bad = ~(np.isfinite(values) & (np.abs(values) <= limit))
    return int(np.argmax(bad)) if bad.any() else None


def to_wgs84(lon: object, lat: object, crs: InputCRS) -> tuple[float, float]:
    """Validate one point given in `crs` and convert it to WGS 84 (EPSG:4326, storage).

    Raises InvalidCoordinates naming "lon" or "lat" when a value is not a finite number in
    [-180, 180] / [-90, 90].
    """
    lon_f = _checked(lon, "lon")
    lat_f = _checked(lat, "lat")
    if crs is InputCRS.WGS84:
        return lon_f, lat_f
    out_lon, out_lat = to_wgs84_arrays(np.array([lon_f]), np.array([lat_f]), crs)
    return float(out_lon[0]), float(out_lat[0])


def to_wgs84_arrays(lon: ArrayLike, lat: ArrayLike, crs: InputCRS) -> tuple[FloatArray, FloatArray]:
    """Validate a batch of points given in `crs` and convert them to WGS 84 (new arrays).

    Raises InvalidCoordinates naming the first bad row (its index is also in `extra["row"]`)
    when a value is not a finite number in range, or when lon and lat differ in length.
    """
    lon_a = _checked_array(lon, "lon")
    lat_a = _checked_array(lat, "lat")
    if lon_a.shape != lat_a.shape:
        raise InvalidCoordinates(
            f"lon and lat must have the same length, got {lon_a.size} and {lat_a.size}"
        )
    bad_lon = _first_bad_row(lon_a, "lon")
    bad_lat = _first_bad_row(lat_a, "lat")
    if bad_lon is not None or bad_lat is not None:
        if bad_lat is None or (bad_lon is not None and bad_lon <= bad_lat):
            name, row, values = "lon", bad_lon, lon_a
        else:
            name, row, values = "lat", bad_lat, lat_a
        assert row is not None
        limit = _LIMITS[name]
        raise InvalidCoordinates(
            f"row {row}: {name} must be a finite number in [-{limit:g}, {limit:g}],"
            f" got {float(values[row])!r}",
            parameter=name,
            row=row,
        )
    crs = crs if isinstance(crs, InputCRS) else parse_crs(crs)
    if crs is InputCRS.WGS84:
        return lon_a, lat_a
    if crs is InputCRS.CGCS2000:
        out_lon, out_lat = _cgcs2000_transformer().transform(lon_a, lat_a)
        return np.asarray(out_lon, dtype=np.float64), np.asarray(out_lat, dtype=np.float64)
    if crs is InputCRS.GCJ02:
        out_lon, out_lat = gcj02_to_wgs84(lon_a, lat_a)
    else:
        out_lon, out_lat = bd09_to_wgs84(lon_a, lat_a)
    return np.asarray(out_lon), np.asarray(out_lat)
