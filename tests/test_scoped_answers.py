"""What a grid worker and a volunteer get over HTTP, against an independent computation with
shapely and geopandas over the sample GeoPackage and the users' areas from the assignment table:
a grid worker (here with two grids in two villages) gets only their grids' features in OGC
items, tiles, layer exports and the overview layers, and a lookup outside their grids is 403
naming them; a volunteer gets their villages' water and no person in any answer. GDAL's OAPIF
driver with a grid worker's token (pyogrio through GDAL_HTTP_HEADER_FILE, Debian's ogrinfo
through GDAL_HTTP_HEADERS) loads their grids only, and nothing without one."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.browser import served
from tests.cast import Member, areas_of, make_member, tile_of
from tests.conftest import loaded_database
from tests.gdal import header_file
from tests.reference import Reference

NOW = pd.Timestamp.now(tz="UTC")
# The key of a feature in each layer's contract (what a layer export and OGC items carry).
KEY: dict[str, str | tuple[str, ...]] = {
    "beat": ("plan_code", "code"),
    "beat_grid": ("plan_code", "beat_code", "grid_code"),
    "assignment": ("person_code", "role", "area_kind", "area_code", "plan_code", "valid_from"),
    "incident": "call_no",
    "position_fix": ("person_code", "recorded_at"),
}
LAYERS = (
    "station",
    "village",
    "grid",
    "beat",
    "beat_plan",
    "beat_grid",
    "person",
    "assignment",
    "water_body",
    "water_marker",
    "rental_house",
    "camera",
    "place",
    "road",
    "incident",
    "position_fix",
)
# OGC collections of the spatial layers (beat: the plan in force now) and their id property.
OGC_ID = {"incident": "call_no", "beat": "code"}
OVERVIEW = {  # overview layer: (sample layer, which of its features)
    "villages": "village",
    "grids": "grid",
    "beats": "beat",
    "water_markers": "water_marker",
    "rental_houses": "rental_house",
    "cameras": "camera",
    "work_points": "place",
}
WORK_POINTS = ("police_work_point", "governance_station")
TILED = {"village": "code", "grid": "code", "beat": "code", "incident": "call_no"}


def _text(value: Any) -> str:
    """A value as the layer contract writes it (dates as ISO 8601, no value as '')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def keys_of(layer: str, rows: pd.DataFrame | list[dict[str, Any]]) -> set:
    """The keys of a layer's rows (a frame of the sample, or properties of an answer)."""
    key = KEY.get(layer, "code")
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    if isinstance(key, tuple):
        return {
            tuple(_moment(r.get(k)) if "valid" in k else _text(r.get(k)) for k in key)
            for r in records
        }
    return {_text(r.get(key)) for r in records}


def _moment(value: Any) -> str:
    """A moment as one text whatever its spelling (GeoJSON answers and the GeoPackage)."""
    text = _text(value)
    return pd.Timestamp(text).tz_convert("UTC").isoformat() if text else ""


class Sample:
    """The sample GeoPackage, read with geopandas and pyogrio only."""

    def __init__(self, path: Path, reference: Reference) -> None:
        self.path = path
        self.reference = reference
        self._layers: dict[str, pd.DataFrame] = {}

    def layer(self, name: str) -> pd.DataFrame:
        if name not in self._layers:
            info = pyogrio.read_info(self.path, layer=name)
            if info["geometry_type"]:
                self._layers[name] = gpd.read_file(self.path, layer=name)
            else:
                self._layers[name] = pyogrio.read_dataframe(
                    self.path, layer=name, read_geometry=False
                )
        return self._layers[name]

    @cached_property
    def plan_now(self) -> str:
        return self.reference.plan_at(NOW.isoformat())

    def grid_at(self, frame: gpd.GeoDataFrame) -> pd.Series:
        """The grid each point belongs to by the boundary rule (lowest code), '' outside."""
        found = self.reference.locate(
            shapely.points(shapely.get_coordinates(frame.geometry.values)), NOW.isoformat()
        )
        return pd.Series([f[1] if f else "" for f in found], index=frame.index)


@dataclass(frozen=True)
class Scope:
    """A user in areas scope: a grid worker's grids, or a volunteer's villages; and the
    assignments in force that give them (from the assignment table)."""

    role: Role
    grids: frozenset[str]
    villages: frozenset[str]
    assignments: pd.DataFrame  # the sample's assignments plus those the test added


class Expect:
    """What a user in areas scope sees of each layer, computed from the sample: the issue's
    rules (a grid worker their grids and what meets them, a volunteer their villages' water,
    shore and places) in the terms of the assignment table."""

    def __init__(self, sample: Sample, scope: Scope) -> None:
        self.sample = sample
        self.scope = scope
        grids = sample.layer("grid").set_index("code")
        villages = sample.layer("village").set_index("code")
        if scope.grids:
            self.area = shapely.union_all(grids.geometry[sorted(scope.grids)].values)
        else:
            self.area = shapely.union_all(villages.geometry[sorted(scope.villages)].values)

    @cached_property
    def own_people(self) -> set[str]:
        """People covering the worker's grids now: assignments on those grids, their villages,
        the beats of the plan in force holding them, and the station."""
        if not self.scope.grids:
            return set()
        a = self.live_assignments
        beats = self.beats_holding(self.sample.plan_now)
        covering = (
            ((a.area_kind == "grid") & a.area_code.isin(self.scope.grids))
            | ((a.area_kind == "village") & a.area_code.isin(self.scope.villages))
            | (
                (a.area_kind == "beat")
                & (a.plan_code == self.sample.plan_now)
                & a.area_code.isin(beats)
            )
            | (a.area_kind == "station")
        )
        return set(a[covering].person_code)

    @cached_property
    def live_assignments(self) -> pd.DataFrame:
        a = self.scope.assignments
        start = pd.to_datetime(a.valid_from, utc=True, format="ISO8601")
        end = pd.to_datetime(a.valid_to, utc=True, format="ISO8601")
        return a[(start <= NOW) & (end.isna() | (end > NOW))]

    @cached_property
    def published(self) -> set[str]:
        """The published plans (drafts are the planners' work: nobody in areas scope sees
        them)."""
        plans = self.sample.layer("beat_plan")
        return set(plans[plans.status == "published"].code)

    def beats_holding(self, plan: str | None) -> set[str]:
        """Codes of the beats (of a plan, or of any) that hold one of the worker's grids."""
        bg = self.sample.layer("beat_grid")
        bg = bg[bg.grid_code.isin(self.scope.grids)]
        if plan is not None:
            bg = bg[bg.plan_code == plan]
        return set(bg.beat_code)

    def meets(self, layer: str) -> pd.DataFrame:
        frame = self.sample.layer(layer)
        return frame[shapely.intersects(frame.geometry.values, self.area)]

    def rows(self, layer: str) -> pd.DataFrame:
        """The rows of a layer (every plan, the whole history) the user sees."""
        s, worker = self.sample, bool(self.scope.grids)
        frame = s.layer(layer)
        none = frame.iloc[0:0]
        if layer == "station":
            return frame
        if layer == "village":
            return frame[frame.code.isin(self.scope.villages)]
        if layer in ("water_body", "water_marker", "place", "road"):
            return self.meets(layer)
        if not worker:
            return none
        if layer == "grid":
            return frame[frame.code.isin(self.scope.grids)]
        if layer in ("rental_house", "camera"):
            return self.meets(layer)
        if layer == "incident":
            return frame[s.grid_at(frame).isin(self.scope.grids)]
        if layer == "position_fix":  # their grids' fixes; who made one only if theirs
            fixes = frame[s.grid_at(frame).isin(self.scope.grids)]
            theirs = fixes.person_code.isin(self.own_people)
            return fixes.assign(person_code=fixes.person_code.where(theirs, None))
        if layer == "beat_plan":
            return frame[frame.status == "published"]
        if layer == "beat_grid":
            return frame[
                frame.grid_code.isin(self.scope.grids) & frame.plan_code.isin(self.published)
            ]
        if layer == "beat":
            bg = s.layer("beat_grid")
            bg = bg[bg.plan_code.isin(self.published)]
            held = set(
                zip(
                    *(
                        bg[bg.grid_code.isin(self.scope.grids)][k]
                        for k in ("plan_code", "beat_code")
                    ),
                    strict=True,
                )
            )
            return frame[[(p, c) in held for p, c in zip(frame.plan_code, frame.code, strict=True)]]
        if layer == "person":
            return frame[frame.code.isin(self.own_people)]
        if layer == "assignment":
            a = self.scope.assignments
            bg = s.layer("beat_grid")
            held = set(
                zip(
                    *(
                        bg[bg.grid_code.isin(self.scope.grids)][k]
                        for k in ("plan_code", "beat_code")
                    ),
                    strict=True,
                )
            )
            there = (
                ((a.area_kind == "grid") & a.area_code.isin(self.scope.grids))
                | ((a.area_kind == "village") & a.area_code.isin(self.scope.villages))
                | (a.area_kind == "station")
                | pd.Series(
                    [
                        k == "beat" and (p, c) in held
                        for k, p, c in zip(a.area_kind, a.plan_code, a.area_code, strict=True)
                    ],
                    index=a.index,
                )
            )
            return a[there & a.person_code.isin(self.own_people)]
        raise AssertionError(f"no rule for {layer}")

    def keys(self, layer: str) -> set:
        return keys_of(layer, self.rows(layer))

    def ogc(self, layer: str) -> set[str]:
        """Ids of a collection's features (beat: the plan in force now)."""
        rows = self.rows(layer)
        if layer == "beat":
            rows = rows[rows.plan_code == self.sample.plan_now]
        return {_text(v) for v in rows[OGC_ID.get(layer, "code")]}

    def overview(self, name: str) -> set[str]:
        layer = OVERVIEW[name]
        rows = self.rows(layer)
        if layer == "beat":
            rows = rows[rows.plan_code == self.sample.plan_now]
        if name == "work_points":
            rows = rows[rows.kind.isin(WORK_POINTS)]
        return set(rows.code)


# ------------------------------------------------------------------------------- fixtures


@dataclass
class World:
    """The scoped database, the app on it, its users and what they should see."""

    url: str
    client: TestClient
    worker: Member
    volunteer: Member
    leader: Member
    expect: dict[Role, Expect]


@pytest.fixture(scope="module")
def sample(sample_path: Path, reference: Reference) -> Sample:
    return Sample(sample_path, reference)


def _second_grid(url: str, sample: Sample, first: str) -> str:
    """A grid of another village that does not touch the worker's first grid."""
    grids = sample.layer("grid").set_index("code")
    far = grids[
        (grids.village_code != grids.village_code[first])
        & ~shapely.intersects(grids.geometry.values, grids.geometry[first].buffer(0.01))
    ]
    return str(sorted(far.index)[len(far) // 2])


@pytest.fixture(scope="module")
def world(sample_path: Path, sample: Sample, settings: Settings) -> Iterator[World]:
    """A loaded database where the first grid worker of the sample also has a grid in another
    village (an assignment added as the operator), a volunteer, a leader."""
    with loaded_database("geo_scoped", sample_path) as url:
        worker = make_member(url, Role.grid_worker)
        volunteer = make_member(url, Role.volunteer)
        leader = make_member(url, Role.leader)
        assert worker.person and volunteer.person
        first = areas_of(url, worker.person, "grid")[0]
        second = _second_grid(url, sample, first)
        since = (NOW - pd.Timedelta(days=1)).floor("s")  # exports write whole seconds
        with psycopg.connect(url) as conn:
            conn.execute(
                """INSERT INTO assignment (person_id, role, area_kind, grid_id, valid_from)
                   SELECT p.id, 'grid_worker', 'grid', g.id, %s FROM person p, grid g
                   WHERE p.code = %s AND g.code = %s""",
                (since.to_pydatetime(), worker.person, second),
            )
        added = pd.DataFrame(
            [
                {
                    "person_code": worker.person,
                    "role": "grid_worker",
                    "area_kind": "grid",
                    "area_code": second,
                    "plan_code": None,
                    "valid_from": since.isoformat(),
                    "valid_to": None,
                }
            ]
        )
        assignments = pd.concat([sample.layer("assignment"), added], ignore_index=True)
        grids = frozenset(areas_of(url, worker.person, "grid"))
        assert grids == {first, second}
        village_of = sample.layer("grid").set_index("code").village_code
        scopes = {
            Role.grid_worker: Scope(
                Role.grid_worker, grids, frozenset(village_of[sorted(grids)]), assignments
            ),
            Role.volunteer: Scope(
                Role.volunteer,
                frozenset(),
                frozenset(areas_of(url, volunteer.person, "village")),
                assignments,
            ),
        }
        app = create_app(settings.model_copy(update={"database_url": url}))
        with TestClient(app) as client:
            yield World(
                url=url,
                client=client,
                worker=worker,
                volunteer=volunteer,
                leader=leader,
                expect={role: Expect(sample, scope) for role, scope in scopes.items()},
            )


def _get(world: World, member: Member, path: str, **params: Any) -> Any:
    world.client.cookies.clear()  # (no params at all keeps the query the path holds)
    reply = world.client.get(path, params=params or None, headers=member.headers)
    assert reply.status_code == 200, (path, reply.text[:300])
    assert "private" in reply.headers.get("cache-control", ""), (path, reply.headers)
    return reply


def _ogc_items(world: World, member: Member, collection: str) -> list[dict[str, Any]]:
    """Every feature of a collection the user gets, page after page (next links)."""
    features: list[dict[str, Any]] = []
    url: str | None = f"/ogc/collections/{collection}/items?limit=1000"
    seen: set[str] = set()
    while url:
        assert url not in seen, f"the next link goes round: {url}"
        seen.add(url)
        page = _get(world, member, url.removeprefix("http://testserver")).json()
        features += page["features"]
        assert page["numberReturned"] == len(page["features"])
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        assert url is None or page["features"], f"an empty page with a next link: {url}"
    return features


ROLES = [Role.grid_worker, Role.volunteer]
SPATIAL = [
    layer for layer in LAYERS if layer not in ("beat_plan", "beat_grid", "person", "assignment")
]


def _member(world: World, role: Role) -> Member:
    return world.worker if role == Role.grid_worker else world.volunteer


# ---------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer", SPATIAL)
def test_ogc_items_are_only_the_users(world: World, role: Role, layer: str) -> None:
    expect = world.expect[role]
    if layer == "position_fix":  # counted: tens of thousands for the station
        page = _get(world, _member(world, role), f"/ogc/collections/{layer}/items", limit=1)
        assert page.json()["numberMatched"] == len(expect.rows(layer))
        return
    got = {_text(f["id"]) for f in _ogc_items(world, _member(world, role), layer)}
    assert got == expect.ogc(layer)
    if role == Role.grid_worker and layer in ("grid", "village", "station", "rental_house"):
        assert got  # their grids, their villages, the station, the houses there: not nothing


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer", LAYERS)
def test_layer_exports_are_only_the_users(world: World, role: Role, layer: str) -> None:
    reply = _get(world, _member(world, role), f"/api/v1/layers/{layer}.geojson")
    got = keys_of(layer, [f["properties"] for f in reply.json()["features"]])
    assert got == world.expect[role].keys(layer)


@pytest.mark.parametrize("role", ROLES)
def test_overview_layers_are_only_the_users(world: World, role: Role) -> None:
    body = _get(world, _member(world, role), "/api/v1/overview/layers").json()
    expect = world.expect[role]
    assert set(body) == set(OVERVIEW)
    for name in OVERVIEW:
        got = {f["properties"]["code"] for f in body[name]["features"]}
        assert got == expect.overview(name), name
        assert body[name]["total"] == len(got)
        for feature in body[name]["features"]:  # the people named are the ones they see
            people = {p["code"] for p in feature["properties"].get("people") or []}
            assert people <= expect.own_people, (name, feature["properties"]["code"])
    if role == Role.grid_worker:
        assert {f["properties"]["code"] for f in body["grids"]["features"]} == set(
            expect.scope.grids
        )


def _tiles_over(area: shapely.Geometry, z: int) -> list[tuple[int, int, int]]:
    """The tiles of zoom z over an area's bounding box."""
    west, south, east, north = area.bounds
    _, x0, y0 = tile_of(west, north, z)
    _, x1, y1 = tile_of(east, south, z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


@pytest.mark.parametrize("layer", sorted(TILED))
def test_tiles_hold_only_the_grid_workers_features(
    world: World, sample: Sample, layer: str
) -> None:
    """The tiles over the worker's grids together hold exactly their features (every one of
    them meets the grids, so some tile over them holds it)."""
    expect = world.expect[Role.grid_worker]
    grids = sample.layer("grid").set_index("code")
    tiles = {t for code in expect.scope.grids for t in _tiles_over(grids.geometry[code], 14)}
    found: set[str] = set()
    for z, x, y in sorted(tiles):
        world.client.cookies.clear()
        reply = world.client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=world.worker.headers)
        assert reply.status_code in (200, 204), reply.text[:300]
        assert "private" in reply.headers["cache-control"]
        if reply.status_code == 200:
            for feature in mapbox_vector_tile.decode(reply.content)[layer]["features"]:
                found.add(_text(feature["properties"][TILED[layer]]))
    want = expect.ogc(layer)
    assert found == want
    assert want or layer == "incident"


def test_tiles_elsewhere_are_empty_for_the_grid_worker(world: World, sample: Sample) -> None:
    """A tile far from the worker's grids is empty for them, not for a leader."""
    expect = world.expect[Role.grid_worker]
    grids = sample.layer("grid")
    far = grids[~shapely.intersects(grids.geometry.values, expect.area.buffer(0.02))]
    point = far.geometry.iloc[0].representative_point()
    z, x, y = tile_of(point.x, point.y, 15)
    for member, status in ((world.worker, 204), (world.leader, 200)):
        world.client.cookies.clear()
        reply = world.client.get(f"/tiles/grid/{z}/{x}/{y}.mvt", headers=member.headers)
        assert reply.status_code == status, member.role


def test_a_lookup_outside_the_grid_workers_grids_is_403_naming_them(
    world: World, sample: Sample
) -> None:
    expect = world.expect[Role.grid_worker]
    grids = sample.layer("grid").set_index("code")
    for code in sorted(expect.scope.grids):  # inside each of their grids: answered
        inside = grids.geometry[code].representative_point()
        body = _get(world, world.worker, "/api/v1/lookup", lon=inside.x, lat=inside.y).json()
        assert code in json.dumps(body)
    others = grids[~grids.index.isin(expect.scope.grids)]
    for code in (others.index[0], others.index[-1]):
        outside = others.geometry[code].representative_point()
        world.client.cookies.clear()
        reply = world.client.get(
            "/api/v1/lookup",
            params={"lon": outside.x, "lat": outside.y},
            headers=world.worker.headers,
        )
        assert reply.status_code == 403, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        said = reply.json()["detail"] + str(reply.json().get("areas", ""))
        assert all(mine in said for mine in expect.scope.grids), said
        assert code not in said


# ------------------------------------------------------------------ the volunteer: no people


def _person_marks(sample: Sample) -> list[str]:
    """What would give a person away in an answer: codes, phones (full and masked), and
    names of three characters or more."""
    people = sample.layer("person")
    phones = [p for p in people.phone.dropna().astype(str) if len(p) >= 8]
    masked = [f"{p[:3]}****{p[-4:]}" for p in phones]
    names = [n for n in people.name.astype(str) if len(n) >= 3]
    return [*people.code.astype(str), *phones, *masked, *names]


def _volunteer_answers(world: World) -> dict[str, str]:
    """Every answer a volunteer gets that could name a person: all of them, as text."""
    v = world.volunteer
    paths = [
        "/api/v1/overview/layers",
        "/api/v1/water/markers",
        "/api/v1/water/shore-gaps",
        "/maps/overview",
        "/maps/water",
        "/ogc/collections",
        *(f"/api/v1/layers/{layer}.geojson" for layer in LAYERS),
        *(f"/api/v1/layers/{layer}.csv" for layer in ("person", "assignment", "rental_house")),
        *(f"/ogc/collections/{layer}/items?limit=1000" for layer in SPATIAL),
    ]
    return {path: _get(world, v, path).text for path in paths}


def test_a_volunteer_sees_no_person_in_any_answer(world: World, sample: Sample) -> None:
    marks = _person_marks(sample)
    answers = _volunteer_answers(world)
    for path, text in answers.items():
        named = [m for m in marks if m in text]
        assert not named, (path, named[:5])
        assert not re.search(r'"people":\s*\[\s*\{', text), path
    # the same check finds people in a leader's answers: it can fail
    leader_text = _get(world, world.leader, "/api/v1/overview/layers").text
    assert sum(m in leader_text for m in marks) > 100
    # and the volunteer did get their villages' water
    markers = json.loads(answers["/api/v1/water/markers"])["features"]
    assert markers and {f["properties"]["code"] for f in markers} == world.expect[
        Role.volunteer
    ].keys("water_marker")


# ------------------------------------------------------------------------- GDAL with a token


@pytest.fixture(scope="module")
def served_world(world: World) -> Iterator[str]:
    with tempfile.TemporaryFile() as log, served(world.url, log) as url:
        yield url


@pytest.mark.parametrize("layer", ["grid", "rental_house"])
def test_gdal_oapif_with_a_grid_workers_token_reads_only_their_features(
    world: World, served_world: str, layer: str
) -> None:
    """pyogrio's GDAL reads the token from GDAL_HTTP_HEADER_FILE (it ignores
    GDAL_HTTP_HEADERS for OAPIF)."""
    source = f"OAPIF:{served_world}/ogc"
    with header_file(world.worker.token):
        frame = pyogrio.read_dataframe(source, layer=layer)
    want = world.expect[Role.grid_worker].ogc(layer)
    assert set(frame["code"].astype(str)) == want and want
    if layer == "grid":
        assert set(frame["code"]) == set(world.expect[Role.grid_worker].scope.grids)


def test_gdal_oapif_without_a_token_is_refused(served_world: str) -> None:
    with pytest.raises(pyogrio.errors.DataSourceError, match=r"401|Unauthorized|Sign"):
        pyogrio.read_dataframe(f"OAPIF:{served_world}/ogc", layer="grid")


def test_debian_ogrinfo_with_gdal_http_headers_reads_only_their_grids(
    world: World, served_world: str
) -> None:
    """Debian's ogrinfo takes the header as a configuration option (make test installs it:
    scripts/ensure_gdal.sh)."""
    ogrinfo = shutil.which("ogrinfo")
    assert ogrinfo, "Debian's gdal-bin is not installed (scripts/ensure_gdal.sh installs it)"
    source = f"OAPIF:{served_world}/ogc"
    header = f"Authorization: Bearer {world.worker.token}"
    run = subprocess.run(
        [
            ogrinfo,
            "-ro",
            "-al",
            "-geom=NO",
            "--config",
            "GDAL_HTTP_HEADERS",
            header,
            source,
            "grid",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    codes = set(re.findall(r"^\s*code \(String\) = (\S+)$", run.stdout, flags=re.M))
    assert codes == set(world.expect[Role.grid_worker].scope.grids)
    refused = subprocess.run(
        [ogrinfo, "-ro", "-so", source, "grid"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "401" in refused.stderr + refused.stdout


def test_the_map_pages_basemap_is_each_users_own(world: World, sample: Sample) -> None:
    """The basemap kept in memory is kept per scope: a volunteer's water map after a leader's
    draws only the water bodies the volunteer sees, and the leader's after it all of them
    (water bodies are told apart by their names, where the sample's names are unique)."""
    water = sample.layer("water_body")
    unique = water[~water.name.duplicated(keep=False)]
    theirs = world.expect[Role.volunteer].rows("water_body").code
    inside = set(unique[unique.code.isin(theirs)].name)
    outside = set(unique[~unique.code.isin(theirs)].name)
    assert inside and outside

    def names_on(member: Member) -> set[str]:
        page = _get(world, member, "/maps/water", lang="en").text
        return {n for n in inside | outside if n in page or json.dumps(n)[1:-1] in page}

    assert names_on(world.leader) == inside | outside
    assert names_on(world.volunteer) == inside
    assert names_on(world.leader) == inside | outside
