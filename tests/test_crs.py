"""Tests of geo_service.crs: GCJ-02 / BD-09 / CGCS2000 conversions to WGS 84 (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo_service.crs import (
    INVERSE_TOLERANCE_DEG,
    InputCRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    parse_crs,
    to_wgs84,
    to_wgs84_arrays,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo_service.errors import InvalidCoordinates, UnknownCRS

# Zhuji (诸暨), where the station is, and a rough box around mainland China.
ZHUJI_LON, ZHUJI_LAT = (119.9, 120.6), (29.3, 30.0)
CHINA_LON, CHINA_LAT = (73.5, 135.0), (18.0, 53.5)


def _points(lon_range: tuple[float, float], lat_range: tuple[float, float], n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.uniform(*lon_range, n), rng.uniform(*lat_range, n)


@pytest.fixture(scope="module", params=["zhuji", "china"])
def wgs_points(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    """10,000 random points around Zhuji, or 2,000 spread over China."""
    if request.param == "zhuji":
        return _points(ZHUJI_LON, ZHUJI_LAT, 10_000, seed=20240601)
    return _points(CHINA_LON, CHINA_LAT, 2_000, seed=20240602)


# --- published reference values --------------------------------------------------------------

# googollee/eviltransform test vectors, also used by its many ports:
# wgsLat, wgsLng, gcjLat, gcjLng.
EVILTRANSFORM_VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# wandergis/coordtransform README (input 116.404, 39.915 in every case).
COORDTRANSFORM_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
COORDTRANSFORM_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
COORDTRANSFORM_BD09_TO_GCJ02_CLOSED_FORM = (116.39762729119315, 39.90865673957631)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_VECTORS)
def test_gcj02_forward_matches_published_vectors(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-9)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_VECTORS)
def test_gcj02_inverse_recovers_published_wgs84(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert distance_m(lon, lat, wgs_lon, wgs_lat) < 1e-3


def test_coordtransform_reference_values():
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(COORDTRANSFORM_WGS84_TO_GCJ02, abs=1e-9)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(COORDTRANSFORM_GCJ02_TO_BD09, abs=1e-9)
    # The published inverse is the one-shot closed form; the exact one is within centimetres.
    exact = bd09_to_gcj02(116.404, 39.915)
    assert distance_m(*exact, *COORDTRANSFORM_BD09_TO_GCJ02_CLOSED_FORM) < 0.05
    forward = gcj02_to_bd09(*exact)
    assert forward == pytest.approx((116.404, 39.915), abs=INVERSE_TOLERANCE_DEG)


def test_offsets_near_zhuji_have_the_known_size():
    lon, lat = 120.2335, 29.7136  # Zhuji city centre
    assert 400 < distance_m(lon, lat, *wgs84_to_gcj02(lon, lat)) < 600
    assert 1000 < distance_m(lon, lat, *wgs84_to_bd09(lon, lat)) < 1300


def test_offsets_over_the_zhuji_area():
    lon, lat = _points(ZHUJI_LON, ZHUJI_LAT, 10_000, seed=7)
    gcj = distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    bd = distance_m(lon, lat, *wgs84_to_bd09(lon, lat))
    assert gcj.min() > 400 and gcj.max() < 600
    assert bd.min() > 1000 and bd.max() < 1300


# --- exact inverses ----------------------------------------------------------------------------


def test_gcj02_round_trip_is_exact(wgs_points):
    lon, lat = wgs_points
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    error = distance_m(lon, lat, *back)
    assert error.max() < 0.5
    assert error.max() < 1e-3


def test_bd09_round_trip_is_exact(wgs_points):
    lon, lat = wgs_points
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    error = distance_m(lon, lat, *back)
    assert error.max() < 0.5
    assert error.max() < 1e-3


def test_bd09_gcj02_round_trip_is_exact(wgs_points):
    lon, lat = wgs84_to_gcj02(*wgs_points)
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert distance_m(lon, lat, *back).max() < 1e-3


def test_inverse_reproduces_input_within_tolerance(wgs_points):
    gcj_lon, gcj_lat = wgs84_to_gcj02(*wgs_points)
    again_lon, again_lat = wgs84_to_gcj02(*gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert np.abs(again_lon - gcj_lon).max() <= INVERSE_TOLERANCE_DEG
    assert np.abs(again_lat - gcj_lat).max() <= INVERSE_TOLERANCE_DEG
    bd_lon, bd_lat = wgs84_to_bd09(*wgs_points)
    again_lon, again_lat = gcj02_to_bd09(*bd09_to_gcj02(bd_lon, bd_lat))
    assert np.abs(again_lon - bd_lon).max() <= INVERSE_TOLERANCE_DEG
    assert np.abs(again_lat - bd_lat).max() <= INVERSE_TOLERANCE_DEG


def test_one_step_approximation_is_not_good_enough(wgs_points):
    """Subtracting the shift once is off by more than 0.5 m somewhere; the iteration is not."""
    lon, lat = wgs_points
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    # One step: take the shift at the GCJ-02 point itself and subtract it.
    twice_lon, twice_lat = wgs84_to_gcj02(gcj_lon, gcj_lat)
    one_step_lon = gcj_lon - (twice_lon - gcj_lon)
    one_step_lat = gcj_lat - (twice_lat - gcj_lat)
    one_step = distance_m(lon, lat, one_step_lon, one_step_lat)
    exact = distance_m(lon, lat, *gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert one_step.max() > 0.5
    assert exact.max() < 0.5
    assert exact.max() < one_step.max() / 100


# --- outside China, CGCS2000 -------------------------------------------------------------------

OUTSIDE_CHINA = [
    (2.3522, 48.8566),  # Paris
    (-74.006, 40.7128),  # New York
    (139.6917, 35.6895),  # Tokyo (east of the box)
    (151.2093, -33.8688),  # Sydney
    (71.9, 35.0),  # just west of the box
    (100.0, 56.0),  # just north of the box
    (100.0, 0.5),  # just south of the box
    (0.0, 0.0),
]


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE_CHINA)
def test_points_outside_china_are_unchanged_by_gcj02(lon, lat):
    assert out_of_china(lon, lat) is True
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, InputCRS.GCJ02) == (lon, lat)


def test_out_of_china_on_arrays():
    lon = np.array([120.2, 2.35, 137.9, 72.0, 72.01])
    lat = np.array([29.7, 48.85, 40.0, 30.0, 30.0])
    assert out_of_china(lon, lat).tolist() == [False, True, True, True, False]
    assert out_of_china(120.2, 29.7) is False
    unchanged = wgs84_to_gcj02(lon, lat)
    mask = out_of_china(lon, lat)
    assert np.array_equal(unchanged[0][mask], lon[mask])
    assert np.array_equal(unchanged[1][mask], lat[mask])


def test_bd09_round_trip_outside_china():
    lon, lat = np.array([2.3522, -74.006, 151.2093]), np.array([48.8566, 40.7128, -33.8688])
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert distance_m(lon, lat, *back).max() < 1e-3


def test_cgcs2000_shift_is_under_a_metre(wgs_points):
    lon, lat = wgs_points
    out_lon, out_lat = to_wgs84_arrays(lon, lat, InputCRS.CGCS2000)
    assert distance_m(lon, lat, out_lon, out_lat).max() < 1.0
    one = to_wgs84(120.2335, 29.7136, InputCRS.CGCS2000)
    assert distance_m(120.2335, 29.7136, *one) < 1.0


# --- scalar and array entry points -------------------------------------------------------------


@pytest.mark.parametrize("crs", list(InputCRS))
def test_scalar_and_array_entry_points_agree(crs):
    lon, lat = _points(ZHUJI_LON, ZHUJI_LAT, 20, seed=3)
    out_lon, out_lat = to_wgs84_arrays(lon, lat, crs)
    assert isinstance(out_lon, np.ndarray) and out_lon.shape == lon.shape
    checked = 0
    for i in range(lon.size):
        one_lon, one_lat = to_wgs84(float(lon[i]), float(lat[i]), crs)
        assert isinstance(one_lon, float) and isinstance(one_lat, float)
        assert one_lon == pytest.approx(out_lon[i], abs=1e-12)
        assert one_lat == pytest.approx(out_lat[i], abs=1e-12)
        checked += 1
    assert checked == lon.size == 20


def test_to_wgs84_dispatches_to_the_right_inverse():
    lon, lat = 120.2335, 29.7136
    assert to_wgs84(lon, lat, InputCRS.WGS84) == (lon, lat)
    assert distance_m(lon, lat, *to_wgs84(*wgs84_to_gcj02(lon, lat), InputCRS.GCJ02)) < 1e-3
    assert distance_m(lon, lat, *to_wgs84(*wgs84_to_bd09(lon, lat), InputCRS.BD09)) < 1e-3
    assert to_wgs84(np.float64(lon), 29, InputCRS.WGS84) == (lon, 29.0)


def test_to_wgs84_arrays_returns_new_arrays_for_wgs84():
    lon, lat = np.array([120.0, 120.1]), np.array([29.5, 29.6])
    out_lon, out_lat = to_wgs84_arrays(lon, lat, InputCRS.WGS84)
    assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)
    assert out_lon is not lon and not np.shares_memory(out_lon, lon)
    assert to_wgs84_arrays([120.0], [29.5], "gcj02")[0].shape == (1,)


def test_vectorised_functions_accept_scalars_and_arrays():
    lon, lat = _points(ZHUJI_LON, ZHUJI_LAT, 5, seed=11)
    for func in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        arr_lon, arr_lat = func(lon, lat)
        assert arr_lon.shape == (5,)
        one_lon, one_lat = func(lon[2], lat[2])
        assert isinstance(one_lon, float)
        assert one_lon == arr_lon[2] and one_lat == arr_lat[2]
    grid_lon, _ = wgs84_to_gcj02(np.full((2, 3), 120.2), 29.7)
    assert grid_lon.shape == (2, 3)


def test_distance_m_known_values():
    # One degree of longitude on the equator of the WGS 84 ellipsoid: a * pi / 180.
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(6378137.0 * math.pi / 180.0, abs=1e-6)
    assert distance_m(120.0, 30.0, 120.0, 30.0) == 0.0
    many = distance_m(np.zeros(3), np.zeros(3), np.array([1.0, 2.0, 3.0]), 0.0)
    assert many.shape == (3,)
    assert many[1] == pytest.approx(2 * many[0])


# --- parse_crs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, InputCRS.WGS84),
        ("", InputCRS.WGS84),
        ("EPSG:4326", InputCRS.WGS84),
        ("4326", InputCRS.WGS84),
        ("epsg:4326", InputCRS.WGS84),
        ("WGS84", InputCRS.WGS84),
        ("wgs 84", InputCRS.WGS84),
        ("EPSG:4490", InputCRS.CGCS2000),
        ("epsg:4490", InputCRS.CGCS2000),
        ("4490", InputCRS.CGCS2000),
        ("CGCS2000", InputCRS.CGCS2000),
        ("gcj02", InputCRS.GCJ02),
        ("GCJ-02", InputCRS.GCJ02),
        ("gcj_02", InputCRS.GCJ02),
        (" GCJ02 ", InputCRS.GCJ02),
        ("bd09", InputCRS.BD09),
        ("BD-09", InputCRS.BD09),
        ("bd09ll", InputCRS.BD09),
    ],
)
def test_parse_crs_accepts(text, expected):
    assert parse_crs(text) is expected


@pytest.mark.parametrize(
    "text", ["EPSG:3857", "3857", "EPSG:4549", "bd09mc", "gcj", "mars", "EPSG:43260"]
)
def test_parse_crs_rejects_unknown(text):
    with pytest.raises(UnknownCRS) as caught:
        parse_crs(text)
    error = caught.value
    assert error.parameter == "crs"
    assert text in error.detail
    for accepted in ("EPSG:4326", "EPSG:4490", "gcj02", "bd09"):
        assert accepted in error.detail


# --- bad coordinates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "parameter", "shown"),
    [
        (200.0, 30.0, "lon", "200.0"),
        (-180.5, 30.0, "lon", "-180.5"),
        (120.0, 91.0, "lat", "91.0"),
        (120.0, -90.01, "lat", "-90.01"),
        (math.nan, 30.0, "lon", "nan"),
        (120.0, math.inf, "lat", "inf"),
        ("120", 30.0, "lon", "'120'"),
        (120.0, None, "lat", "None"),
        (True, 30.0, "lon", "True"),
    ],
)
def test_bad_coordinates_name_the_parameter(lon, lat, parameter, shown):
    for crs in InputCRS:
        with pytest.raises(InvalidCoordinates) as caught:
            to_wgs84(lon, lat, crs)
        assert caught.value.parameter == parameter
        assert parameter in caught.value.detail
        assert shown in caught.value.detail


def test_range_limits_are_inclusive():
    assert to_wgs84(180.0, 90.0, InputCRS.WGS84) == (180.0, 90.0)
    assert to_wgs84(-180.0, -90.0, InputCRS.GCJ02) == (-180.0, -90.0)


def test_bad_array_rows_are_named():
    lon, lat = _points(ZHUJI_LON, ZHUJI_LAT, 100, seed=5)
    lat[17] = 95.0
    lon[40] = math.nan
    with pytest.raises(InvalidCoordinates) as caught:
        to_wgs84_arrays(lon, lat, InputCRS.GCJ02)
    assert caught.value.parameter == "lat"
    assert "row 17" in caught.value.detail
    assert "95.0" in caught.value.detail
    assert caught.value.extra["row"] == 17

    lat[17] = 29.5
    with pytest.raises(InvalidCoordinates) as caught:
        to_wgs84_arrays(lon, lat, InputCRS.WGS84)
    assert caught.value.parameter == "lon"
    assert "row 40" in caught.value.detail


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        ([120.0, 120.1], [29.5], "same length"),
        ([[120.0]], [[29.5]], "one-dimensional"),
        (["a", "b"], [29.5, 29.6], "numbers"),
        ([120.0, None], [29.5, 29.6], "nan"),
    ],
)
def test_bad_arrays_are_rejected(lon, lat, message):
    with pytest.raises(InvalidCoordinates) as caught:
        to_wgs84_arrays(lon, lat, InputCRS.BD09)
    assert message in caught.value.detail
