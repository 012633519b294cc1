"""The sample generator: exact tiling on the lattice, contiguous beats, counts, determinism."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from geo_service.sample import REFERENCE_DIR, generate_sample

REL = 1e-9
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
LAYERS = (
    "station", "village", "grid", "beat_plan", "beat", "beat_grid", "person", "assignment",
    "water_body", "water_marker", "rental_house", "camera", "place", "road", "incident",
    "position_fix", "metadata",
)  # fmt: skip


@pytest.fixture(scope="session")
def small_sample(sample_path: Path) -> Path:
    """The small sample, seed 1 (the session's shared one, from conftest)."""
    return sample_path


@pytest.fixture(scope="session")
def layers(small_sample: Path) -> dict[str, pd.DataFrame]:
    """Every layer of the small sample, read back from the GeoPackage."""
    return {name: pyogrio.read_dataframe(small_sample, layer=name) for name in LAYERS}


@pytest.fixture(scope="session")
def station(layers: dict[str, pd.DataFrame]) -> shapely.Geometry:
    """The station area."""
    return layers["station"].geometry.iloc[0]


def to_metric(geoms: np.ndarray) -> np.ndarray:
    """Geometries from EPSG:4326 to EPSG:4549 (metres)."""
    t = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    return shapely.transform(geoms, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def close(a: float, b: float) -> bool:
    """Equal within the relative tolerance of the tiling checks."""
    return abs(a - b) <= REL * abs(b)


def layer_digest(path: Path) -> dict[str, str]:
    """A hash per layer of its attributes and geometry WKB."""
    out = {}
    for name in LAYERS:
        df = pyogrio.read_dataframe(path, layer=name)
        h = hashlib.sha256()
        attrs = df.drop(columns="geometry") if "geometry" in df else df
        h.update(attrs.to_csv(index=False).encode())
        if "geometry" in df:
            for wkb in shapely.to_wkb(df.geometry.values):
                h.update(wkb)
        out[name] = h.hexdigest()
    return out


CONTRACT = {
    "station": ("code", "name"),
    "village": ("code", "name", "kind"),
    "grid": ("code", "name", "village_code"),
    "beat_plan": ("code", "name", "status", "effective_from"),
    "beat": ("plan_code", "code", "name"),
    "beat_grid": ("plan_code", "beat_code", "grid_code"),
    "person": ("code", "name", "role", "phone"),
    "assignment": (
        "person_code", "role", "area_kind", "area_code", "plan_code", "valid_from", "valid_to",
    ),
    "water_body": ("code", "name", "kind"),
    "water_marker": (
        "code", "water_body_code", "kind", "status", "installed_at", "last_inspected_at",
    ),
    "rental_house": (
        "code", "address", "landlord", "phone", "rooms", "tenants", "last_fire_check_at",
    ),
    "camera": ("code", "name", "kind", "status", "heading", "fov_deg", "range_m"),
    "place": ("code", "name", "kind"),
    "road": ("code", "name", "kind"),
    "incident": ("call_no", "received_at", "category", "status", "caller_phone"),
    "position_fix": ("person_code", "recorded_at"),
    "metadata": ("key", "value"),
}  # fmt: skip
GEOMETRY = {
    "station": "MultiPolygon", "village": "MultiPolygon", "grid": "MultiPolygon",
    "water_body": "MultiPolygon", "water_marker": "Point", "rental_house": "Point",
    "camera": "Point", "place": "Point", "road": "LineString", "incident": "Point",
    "position_fix": "Point",
}  # fmt: skip


def test_file_name_and_layer_contract(small_sample: Path) -> None:
    assert small_sample.name == "fengqiao_small_seed1.gpkg"
    present = dict(pyogrio.list_layers(small_sample).tolist())
    assert set(LAYERS) <= set(present)
    for name, columns in CONTRACT.items():
        info = pyogrio.read_info(small_sample, layer=name)
        assert tuple(info["fields"]) == columns, name
        assert present[name] == GEOMETRY.get(name), name
        if name in GEOMETRY:
            assert info["crs"] == "EPSG:4326", name
    rental = pyogrio.read_info(small_sample, layer="rental_house")
    assert dict(zip(rental["fields"], rental["dtypes"], strict=True))["rooms"] == "int64"


def test_real_villages(layers: dict[str, pd.DataFrame]) -> None:
    with (REFERENCE_DIR / "fengqiao_villages.csv").open(encoding="utf-8") as fh:
        real = {r["code"]: (r["name"], r["kind"]) for r in csv.DictReader(fh)}
    village = layers["village"]
    assert len(village) == 31
    got = {c: (n, k) for c, n, k in zip(village.code, village.name, village.kind, strict=True)}
    assert got == real
    assert (village.kind == "community").sum() == 8


def test_station(layers: dict[str, pd.DataFrame], station: shapely.Geometry) -> None:
    assert layers["station"].code.tolist() == ["330681109"]
    assert layers["station"].name.tolist() == ["枫桥派出所"]
    area_km2 = to_metric(np.array([station]))[0].area / 1e6
    assert 140 < area_km2 < 180


def test_geometry_valid_and_single_part(layers: dict[str, pd.DataFrame]) -> None:
    for name in ("station", "village", "grid", "water_body"):
        geoms = layers[name].geometry.values
        assert shapely.is_valid(geoms).all(), name
        assert (shapely.get_type_id(geoms) == 6).all(), name  # MultiPolygon
    for name in ("station", "village", "grid"):
        assert (shapely.get_num_geometries(layers[name].geometry.values) == 1).all(), name
    roads = layers["road"].geometry.values
    assert shapely.is_valid(roads).all()
    assert (shapely.get_type_id(roads) == 1).all()  # LineString


def test_villages_tile_the_station(layers: dict[str, pd.DataFrame], station) -> None:
    villages = layers["village"].geometry.values
    union = shapely.union_all(villages)
    assert close(union.area, station.area)
    assert close(shapely.area(villages).sum(), union.area)
    assert close(shapely.symmetric_difference(union, station).area + station.area, station.area)


def test_grids_tile_their_villages(layers: dict[str, pd.DataFrame], station) -> None:
    grid, village = layers["grid"], layers["village"]
    grids = grid.geometry.values
    assert close(shapely.area(grids).sum(), shapely.union_all(grids).area)
    assert close(shapely.area(grids).sum(), station.area)
    assert shapely.coverage_is_valid(grids)  # shared edges have identical vertices
    for code, vgeom in zip(village.code, village.geometry, strict=True):
        mine = grids[(grid.village_code == code).values]
        assert len(mine) >= 1
        union = shapely.union_all(mine)
        assert close(union.area, vgeom.area)
        assert close(shapely.area(mine).sum(), vgeom.area)
    # each grid lies in exactly one village
    tree = shapely.STRtree(village.geometry.values)
    for g, vcode in zip(grids, grid.village_code, strict=True):
        cand = tree.query(g)
        shares = shapely.area(shapely.intersection(g, village.geometry.values[cand])) / g.area
        inside = village.code.values[cand[shares > 1e-9]]
        assert inside.tolist() == [vcode]


def test_grid_codes_and_names(layers: dict[str, pd.DataFrame]) -> None:
    grid = layers["grid"]
    assert grid.code.is_unique
    assert all(re.fullmatch(r"\d{15}", c) for c in grid.code)
    assert all(c.startswith(v) for c, v in zip(grid.code, grid.village_code, strict=True))
    assert all(re.fullmatch(r".+第\d+网格", n) for n in grid.name)
    per = grid.groupby("village_code").size()
    kinds = layers["village"].set_index("code").kind
    assert per[kinds[per.index] == "community"].between(8, 10).all()
    assert per[kinds[per.index] == "village"].between(1, 5).all()


def test_vertices_on_the_lattice(layers: dict[str, pd.DataFrame]) -> None:
    for name in ("station", "village", "grid"):
        xy = shapely.get_coordinates(layers[name].geometry.values) * 2.0**24
        assert np.array_equal(xy, np.round(xy)), name


def test_every_grid_in_exactly_one_beat_per_plan(layers: dict[str, pd.DataFrame]) -> None:
    grids = set(layers["grid"].code)
    bg = layers["beat_grid"]
    plans = layers["beat_plan"].set_index("code")
    assert list(plans.index) == ["2025", "2026", "2027-draft"]
    assert plans.status.tolist() == ["published", "published", "draft"]
    assert plans.effective_from.iloc[0] == "2025-07-01T00:00:00+08:00"
    assert plans.effective_from.iloc[1] == "2026-07-01T00:00:00+08:00"
    assert pd.isna(plans.effective_from.iloc[2])
    for plan in plans.index:
        rows = bg[bg.plan_code == plan]
        assert sorted(rows.grid_code) == sorted(grids)
        assert rows.grid_code.is_unique
        assert rows.beat_code.nunique() == 9
    beats = layers["beat"]
    assert len(beats) == 27
    assert sorted(set(beats.code)) == [f"B{k:02d}" for k in range(1, 10)]


def test_beats_are_contiguous(layers: dict[str, pd.DataFrame]) -> None:
    geom = dict(zip(layers["grid"].code, layers["grid"].geometry, strict=True))
    for (plan, beat), rows in layers["beat_grid"].groupby(["plan_code", "beat_code"]):
        union = shapely.union_all([geom[c] for c in rows.grid_code])
        assert union.geom_type == "Polygon", (plan, beat)


def test_later_plans_move_a_few_border_grids(layers: dict[str, pd.DataFrame]) -> None:
    bg = layers["beat_grid"]
    beat = {p: dict(zip(r.grid_code, r.beat_code, strict=True)) for p, r in bg.groupby("plan_code")}
    moved_2026 = [g for g in beat["2025"] if beat["2025"][g] != beat["2026"][g]]
    moved_draft = [g for g in beat["2026"] if beat["2026"][g] != beat["2027-draft"][g]]
    assert 3 <= len(moved_2026) <= 5
    assert len(moved_draft) == 1


def test_people_and_assignments(layers: dict[str, pd.DataFrame]) -> None:
    person, assign = layers["person"], layers["assignment"]
    assert person.code.is_unique
    assert all(re.fullmatch(r"P\d{5}", c) for c in person.code)
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in person.phone)
    assert person.phone.is_unique
    roles = person.role.value_counts()
    n_grids = len(layers["grid"])
    assert roles["community_officer"] == 10  # 9 beats, one replaced in plan 2026
    assert roles["auxiliary_officer"] == 18
    assert roles["grid_worker"] == n_grids + 1  # one replaced on 2026-03-01
    assert roles["police_assistant"] == roles["village_cadre"] == 31
    assert 30 <= roles["volunteer"] <= 50
    assert set(assign.person_code) <= set(person.code)
    assert (assign.role.values == person.set_index("code").role[assign.person_code].values).all()
    beat_rows = assign[assign.area_kind == "beat"]
    assert set(beat_rows.plan_code) == {"2025", "2026"}  # never the draft
    assert assign[assign.area_kind != "beat"].plan_code.isna().all()
    for col in ("valid_from", "valid_to"):
        assert assign[col].dropna().map(lambda s: bool(ISO.match(s))).all()
    # a community officer of 2025 whose assignment ends when plan 2026 takes effect
    co = beat_rows[beat_rows.role == "community_officer"]
    ended = co[co.valid_to == "2026-07-01T00:00:00+08:00"].person_code
    carried = set(co[co.plan_code == "2026"].person_code)
    assert len(set(ended) - carried) == 1
    gw = assign[assign.role == "grid_worker"]
    assert (gw.valid_to.dropna() == "2026-03-01T00:00:00+08:00").sum() == 1
    assert (gw.valid_from == "2026-03-01T00:00:00+08:00").sum() == 1
    assert gw[gw.valid_to.isna()].area_code.is_unique


def test_counts(layers: dict[str, pd.DataFrame]) -> None:
    n = {name: len(df) for name, df in layers.items()}
    assert 130 <= n["grid"] <= 190
    assert 90 <= n["water_body"] <= 130
    assert 200 <= n["water_marker"] <= 400
    assert n["rental_house"] == 1_500
    assert n["camera"] == 400
    assert n["incident"] == 20_000
    assert 150_000 <= n["position_fix"] <= 600_000
    kinds = layers["place"].kind.value_counts()
    assert kinds["police_work_point"] == 9
    assert kinds["governance_station"] == kinds["village_committee"] == 31
    assert kinds["hospital"] >= 1 and kinds["school"] >= 2 and kinds["market"] >= 2
    assert set(layers["road"].kind) == {"highway", "main", "village", "track"}
    water_kinds = layers["water_body"].kind.value_counts()
    assert water_kinds["pond"] >= 80 and 2 <= water_kinds["reservoir"] <= 4
    assert "river" in water_kinds and "canal" in water_kinds


def test_everything_lies_inside_the_station(layers: dict[str, pd.DataFrame], station) -> None:
    shapely.prepare(station)
    for name in ("incident", "position_fix", "rental_house", "camera", "water_marker", "place"):
        xy = shapely.get_coordinates(layers[name].geometry.values)
        assert shapely.contains_xy(station, xy[:, 0], xy[:, 1]).all(), name
    for name in ("water_body", "road"):
        assert shapely.within(layers[name].geometry.values, station).all(), name


def test_markers_on_the_shore(layers: dict[str, pd.DataFrame]) -> None:
    wb = layers["water_body"].set_index("code")
    wm = layers["water_marker"]
    assert set(wm.water_body_code) <= set(wb.index)
    bodies = to_metric(wb.geometry[wm.water_body_code].values)
    points = to_metric(wm.geometry.values)
    d = shapely.distance(points, bodies)
    assert (d > 0).all() and (d < 5).all()
    assert not shapely.intersects(points, shapely.union_all(to_metric(wb.geometry.values))).any()
    assert set(wm.kind) == {"rescue_pole", "lifebuoy", "warning_sign", "danger_spot"}
    assert wm.status.value_counts().idxmax() == "ok"
    inspected = pd.to_datetime(wm.last_inspected_at.dropna(), format="ISO8601")
    overdue = inspected < pd.Timestamp("2026-11-01T00:00:00+08:00") - pd.Timedelta(days=90)
    assert overdue.any() and not overdue.all()


def test_some_shore_has_no_rescue_pole(layers: dict[str, pd.DataFrame]) -> None:
    wb, wm = layers["water_body"], layers["water_marker"]
    river = to_metric(wb[wb.name == "枫桥江"].geometry.values)[0]
    shore = shapely.get_coordinates(shapely.segmentize(river.boundary, 20.0))
    poles = to_metric(wm[wm.kind == "rescue_pole"].geometry.values)
    _, dist = shapely.STRtree(poles).query_nearest(
        shapely.points(shore), return_distance=True, all_matches=False
    )
    assert dist.max() > 500.0  # a stretch of the river bank with no pole in reach
    assert np.median(dist) < 500.0  # but most of the bank has one


def test_cameras_along_roads(layers: dict[str, pd.DataFrame]) -> None:
    cam = layers["camera"]
    roads = shapely.STRtree(to_metric(layers["road"].geometry.values))
    points = to_metric(cam.geometry.values)
    _, dist = roads.query_nearest(points, return_distance=True, all_matches=False)
    assert (dist <= 10.0).all()
    assert ((cam.heading >= 0) & (cam.heading < 360)).all()
    assert (cam.fov_deg.between(40, 120) | (cam.fov_deg == 360)).all()
    assert cam.range_m.between(30, 150).all()
    assert set(cam.kind) == {"skynet", "xueliang", "other"}
    assert cam.status.value_counts().idxmax() == "working"


def test_incidents(layers: dict[str, pd.DataFrame]) -> None:
    inc = layers["incident"]
    assert inc.call_no.is_unique
    assert all(re.fullmatch(r"110\d{14}", c) for c in inc.call_no)
    assert inc.received_at.map(lambda s: bool(ISO.match(s))).all()
    t = pd.to_datetime(inc.received_at, format="ISO8601")
    assert t.min() >= pd.Timestamp("2025-11-01T00:00:00+08:00")
    assert t.max() < pd.Timestamp("2026-11-01T00:00:00+08:00")
    assert inc.status.value_counts().idxmax() == "closed"
    assert (inc[inc.status == "diverted"].category == "non_police").all()
    assert inc.status.isin(["received", "dispatched", "arrived"]).any()
    hour = t.dt.hour
    assert (hour < 5).mean() < 0.1  # quiet nights
    traffic = hour[inc.category == "traffic"]
    assert traffic.isin([7, 8, 17, 18]).mean() > 4 / 24


def test_caller_phones_give_repeat_callers(layers: dict[str, pd.DataFrame]) -> None:
    """About half the calls give a phone (mobile-looking); some callers call again within the
    week (the desk's repeat window), and a few many times."""
    inc = layers["incident"]
    phoned = inc[inc.caller_phone.notna()]
    assert 0.45 < len(phoned) / len(inc) < 0.55
    assert phoned.caller_phone.str.fullmatch(r"1\d{10}").all()
    calls = phoned.caller_phone.value_counts()
    assert 0.05 < (calls > 1).mean() < 0.3 and calls.max() >= 3
    calls_in_order = phoned.assign(t=pd.to_datetime(phoned.received_at, format="ISO8601"))
    calls_in_order = calls_in_order.sort_values("t")
    gap = calls_in_order.groupby("caller_phone")["t"].diff().dropna()
    assert (gap <= pd.Timedelta(days=7)).sum() > 100


def test_drowning_peaks_in_summer(layers: dict[str, pd.DataFrame]) -> None:
    inc = layers["incident"]
    month = inc.received_at.str[5:7].astype(int)
    drowning = inc.category == "drowning"
    summer = month.isin([6, 7, 8])
    winter = month.isin([12, 1, 2])
    assert drowning[summer].mean() > 3 * drowning[winter].mean()


def test_position_fixes(layers: dict[str, pd.DataFrame]) -> None:
    fix, assign = layers["position_fix"], layers["assignment"]
    officers = assign[(assign.plan_code == "2026") & (assign.area_kind == "beat")].person_code
    assert set(fix.person_code) == set(officers)
    t = pd.to_datetime(fix.recorded_at, format="ISO8601")
    assert t.min() >= pd.Timestamp("2026-10-01T00:00:00+08:00")
    assert t.max() < pd.Timestamp("2026-11-01T00:00:00+08:00")
    step = t.groupby(fix.person_code).diff().dropna().dt.total_seconds()
    assert step.value_counts().idxmax() == 30


def test_metadata(layers: dict[str, pd.DataFrame]) -> None:
    meta = dict(zip(layers["metadata"].key, layers["metadata"].value, strict=True))
    assert meta["seed"] == "1" and meta["scale"] == "small"
    assert "synthetic" in meta["generated"]


def test_same_seed_same_content(small_sample: Path, tmp_path: Path) -> None:
    again = generate_sample(tmp_path, seed=1, scale="small")
    assert again != small_sample
    assert layer_digest(again) == layer_digest(small_sample)
