"""OGC API - Features: answers agree with shapely on the sample; GDAL's OAPIF driver and OWSLib
read every collection from the running service."""

from __future__ import annotations

import base64
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from owslib.ogcapi.features import Features

from geo_service.db import connect
from geo_service.services.layers import SPATIAL_LAYERS
from geo_service.services.ogc import encode_cursor
from tests.accounts import bearer
from tests.gdal import header_file

PLANS = ("2025", "2026")
# in the order /ogc/collections lists them: beats of each published plan follow `beat`
COLLECTIONS = tuple(
    name
    for layer in SPATIAL_LAYERS
    for name in ((layer, *(f"beat_{p}" for p in PLANS)) if layer == "beat" else (layer,))
)
# the collection's id property per layer (position fixes are told apart by person and time)
KEY = {"incident": "call_no", "position_fix": ("person_code", "recorded_at")}


class Sample:
    """The sample GeoPackage's layers, read with pyogrio: the independent side."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache: dict[str, gpd.GeoDataFrame] = {}

    def layer(self, name: str) -> gpd.GeoDataFrame:
        if name not in self.cache:
            self.cache[name] = pyogrio.read_dataframe(self.path, layer=name)
        return self.cache[name]

    def beats(self, plan: str) -> gpd.GeoDataFrame:
        """Beats of a plan with their outlines: the union of their grids, by shapely."""
        grids = self.layer("grid").set_index("code")
        members = self.layer("beat_grid")
        members = members[members["plan_code"] == plan]
        rows = [
            (beat, shapely.union_all(grids.loc[list(part["grid_code"])].geometry.values))
            for beat, part in members.groupby("beat_code")
        ]
        return gpd.GeoDataFrame(
            {"code": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs="EPSG:4326"
        )

    def collection(self, collection_id: str) -> gpd.GeoDataFrame:
        if collection_id.startswith("beat_"):
            return self.beats(collection_id.removeprefix("beat_"))
        if collection_id == "beat":
            return self.beats("2026")  # in force on the test day (2026-11 or later)
        return self.layer(collection_id)

    def keys_in(self, collection_id: str, box: tuple[float, float, float, float]) -> set:
        """Keys of the features that intersect the box, by shapely."""
        frame = self.collection(collection_id)
        hit = frame[shapely.intersects(frame.geometry.values, shapely.box(*box))]
        return keys(collection_id, hit)


def text(column: pd.Series) -> pd.Series:
    """Values as the layer contract writes them (GDAL reads ISO 8601 text as date-times)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.map(lambda t: t.isoformat())
    return column.astype(str)


def keys(collection_id: str, frame: pd.DataFrame) -> set:
    key = KEY.get(collection_id, "code")
    if isinstance(key, tuple):
        return set(zip(*(text(frame[k]) for k in key), strict=True))
    return set(text(frame[key]))


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> Sample:
    return Sample(sample_path)


def boxes(sample: Sample, n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Random boxes of 0.3-3 km inside the station's box."""
    minx, miny, maxx, maxy = sample.layer("station").total_bounds
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = rng.uniform(0.003, 0.03, 2)
        x, y = rng.uniform(minx, maxx - w), rng.uniform(miny, maxy - h)
        out.append((float(x), float(y), float(x + w), float(y + h)))
    return out


def test_landing_conformance_and_collections(client: TestClient, sample: Sample) -> None:
    landing = client.get("/ogc")
    assert landing.status_code == 200
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert client.get(rels["service-desc"].replace("http://testserver", "")).status_code == 200
    conf = client.get("/ogc/conformance", params={"f": "json"}).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    listing = client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in listing] == list(COLLECTIONS)
    assert "beat_2025" in COLLECTIONS and "incident" in COLLECTIONS
    by_id = {c["id"]: c for c in listing}
    assert "2026" in by_id["beat"]["title"]  # the plan in force
    received = pd.to_datetime(sample.layer("incident")["received_at"], utc=True)
    interval = by_id["incident"]["extent"]["temporal"]["interval"][0]
    assert [pd.Timestamp(t) for t in interval] == [received.min(), received.max()]
    grid_box = by_id["grid"]["extent"]["spatial"]["bbox"][0]
    np.testing.assert_allclose(grid_box, by_id["station"]["extent"]["spatial"]["bbox"][0])
    one = client.get("/ogc/collections/beat_2025")
    assert one.status_code == 200 and one.json()["id"] == "beat_2025"
    assert any(link["rel"] == "items" for link in one.json()["links"])
    missing = client.get("/ogc/collections/beat_2027-draft")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_items_bbox_agrees_with_shapely(client: TestClient, sample: Sample) -> None:
    checked = with_features = 0
    for i, collection_id in enumerate(COLLECTIONS):
        for box in boxes(sample, 4, seed=i):
            reply = client.get(
                f"/ogc/collections/{collection_id}/items",
                params={"bbox": ",".join(map(str, box)), "limit": 10000},
            )
            assert reply.status_code == 200, reply.text
            assert reply.headers["content-type"] == "application/geo+json"
            body = reply.json()
            features = pd.DataFrame([f["properties"] for f in body["features"]])
            got = keys(collection_id, features) if len(features) else set()
            want = sample.keys_in(collection_id, box)
            assert body["numberMatched"] == len(want), (collection_id, box)
            if len(want) > 10_000:  # one page of the many position fixes in a box
                assert len(got) == body["numberReturned"] == 10_000 and got <= want
            else:
                assert got == want, (collection_id, box)
                assert body["numberReturned"] == len(got)
            checked += 1
            with_features += len(want) > 0
    assert checked == 4 * len(COLLECTIONS)
    assert with_features >= 2 * len(COLLECTIONS), f"{with_features} boxes hold features"


def test_items_properties_are_the_layer_contract(client: TestClient, sample: Sample) -> None:
    reply = client.get("/ogc/collections/water_marker/items", params={"limit": 10000}).json()
    assert reply["numberMatched"] == len(sample.layer("water_marker"))
    got = pd.DataFrame([f["properties"] for f in reply["features"]]).set_index("code")
    want = sample.layer("water_marker").set_index("code")
    assert list(got.columns) == [c for c in want.columns if c != "geometry"]
    assert [f["id"] for f in reply["features"]] == list(got.index)
    pd.testing.assert_frame_equal(
        got.sort_index().fillna(""), want.drop(columns="geometry").sort_index().fillna("")
    )
    xy = np.array([f["geometry"]["coordinates"] for f in reply["features"]])
    np.testing.assert_allclose(
        xy, shapely.get_coordinates(want.loc[got.index].geometry.values), atol=1e-7
    )


def test_items_paging_links_walk_every_feature(client: TestClient, sample: Sample) -> None:
    url, seen, pages = "/ogc/collections/grid/items?limit=7", [], 0
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == len(sample.layer("grid"))
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link["href"] for link in body["links"]}
        assert {"self", "alternate", "collection"} <= set(links)
        assert "prev" not in links  # key paging goes forward only
        if "next" in links:
            assert "cursor=" in links["next"] and "offset=" not in links["next"]
        url = links.get("next", "").replace("http://testserver", "")
        pages += 1
    assert seen == sorted(sample.layer("grid")["code"])
    assert pages == -(-len(seen) // 7)  # no empty page at the end
    capped = client.get("/ogc/collections/incident/items", params={"limit": 50_000}).json()
    assert capped["numberReturned"] == 10_000 and capped["numberMatched"] == 20_000
    # offset is still accepted, with a prev link; its next link goes on by cursor
    middle = client.get("/ogc/collections/grid/items", params={"limit": 7, "offset": 14}).json()
    assert [f["id"] for f in middle["features"]] == seen[14:21]
    links = {link["rel"]: link["href"] for link in middle["links"]}
    assert "offset=7" in links["prev"]
    after = client.get(links["next"].replace("http://testserver", "")).json()
    assert [f["id"] for f in after["features"]] == seen[21:28]


def _page_plan_rows(database_url: str, *, after: str | None, offset: int, limit: int) -> int:
    """Rows the incident page query of layer_features read under its LIMIT (auto_explain's
    plan of the nested statement, actual rows of the scans below the page's Limit node)."""
    notices: list[str] = []
    with connect(database_url) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
            "SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on; "
            "SET auto_explain.log_format = json; SET auto_explain.log_level = notice"
        )
        conn.execute(
            "SELECT layer_features('incident', lim => %s, off => %s, after => %s)",
            (limit, offset, after),
        )
    plans = [
        orjson.loads(n[n.index("{") :])
        for n in notices
        if "row_number() OVER" in n and '"Plan"' in n
    ]
    assert len(plans) == 1, notices

    def limits(node: dict) -> list[dict]:
        found = [node] if node["Node Type"] == "Limit" else []
        return found + [x for child in node.get("Plans", []) for x in limits(child)]

    def scanned(node: dict) -> int:
        own = node["Actual Rows"] * node["Actual Loops"] if "Relation Name" in node else 0
        return own + sum(scanned(child) for child in node.get("Plans", []))

    (page_limit,) = limits(plans[0]["Plan"])
    return scanned(page_limit)


def test_key_paging_walks_every_incident_once_at_the_same_cost(
    client: TestClient, sample: Sample, database_url: str
) -> None:
    limit = 1000
    url, seen, afters = f"/ogc/collections/incident/items?limit={limit}", [], [None]
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link["href"] for link in body["links"]}
        url = links.get("next", "").replace("http://testserver", "")
        if url:
            afters.append(body["features"][-1]["id"])
    want = sample.layer("incident")["call_no"]
    assert len(seen) == len(set(seen)) == len(want) == 20_000
    assert set(seen) == set(want) and seen == sorted(seen)
    assert len(afters) == 20
    # the last page reads about as many rows as the first (the key's index: no skipping) ...
    first = _page_plan_rows(database_url, after=None, offset=0, limit=limit)
    last = _page_plan_rows(database_url, after=afters[-1], offset=0, limit=limit)
    assert limit <= first <= 2 * (limit + 1) and limit <= last <= 2 * (limit + 1), (first, last)
    # ... where the same page by offset reads every feature before it
    by_offset = _page_plan_rows(database_url, after=None, offset=19 * limit, limit=limit)
    assert by_offset >= 20 * limit, by_offset


def test_openapi_declares_the_page_limit(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    limit = document["components"]["parameters"]["limit"]
    assert limit["in"] == "query" and limit["name"] == "limit"
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 10}
    operation = document["paths"]["/ogc/collections/{collectionId}/items"]["get"]
    refs = [p for p in operation["parameters"] if "$ref" in p]
    assert refs == [{"$ref": "#/components/parameters/limit"}]
    assert "limit" not in {p.get("name") for p in operation["parameters"]}
    assert {p.get("name") for p in operation["parameters"]} >= {"cursor", "offset", "bbox"}


def test_head_answers_like_get_without_a_body(client: TestClient) -> None:
    urls = (
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/grid",
        "/ogc/collections/grid/items?limit=5",
        "/ogc/collections/incident/items",
    )
    for url in urls:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url
        assert head.headers["content-length"] == str(len(get.content)), url
    assert client.head("/ogc/collections/nope/items").status_code == 404
    assert len(urls) == 6


def test_polygon_outer_rings_are_counter_clockwise(client: TestClient, sample: Sample) -> None:
    """RFC 7946: exterior rings counter-clockwise, holes clockwise, in every polygon collection."""
    checked = want = 0
    polygonal = [c for c in COLLECTIONS if c in ("station", "village", "grid", "water_body")]
    polygonal += [c for c in COLLECTIONS if c.startswith("beat")]
    for collection_id in polygonal:
        body = client.get(f"/ogc/collections/{collection_id}/items?limit=10000").json()
        assert body["numberReturned"] == body["numberMatched"]
        for feature in body["features"]:
            for polygon in shapely.get_parts(shapely.geometry.shape(feature["geometry"])):
                assert polygon.exterior.is_ccw, (collection_id, feature["id"])
                assert not any(ring.is_ccw for ring in polygon.interiors), feature["id"]
                checked += 1
        want += int(shapely.get_num_geometries(sample.collection(collection_id).geometry).sum())
    assert len(polygonal) == 7
    assert checked == want > 100


def test_items_datetime_for_incidents(client: TestClient, sample: Sample) -> None:
    incidents = sample.layer("incident")
    received = pd.to_datetime(incidents["received_at"], utc=True)
    box = (120.30, 29.80, 120.40, 29.88)
    inside = shapely.intersects(incidents.geometry.values, shapely.box(*box))
    cases = {
        "2026-03-01T00:00:00+08:00/2026-03-15T00:00:00+08:00": (
            "2026-03-01T00:00:00+08:00",
            "2026-03-15T00:00:00+08:00",
        ),
        "../2025-11-20T00:00:00Z": (None, "2025-11-20T00:00:00Z"),
        "2026-10-20T00:00:00+08:00/..": ("2026-10-20T00:00:00+08:00", None),
        "2026-10-25/": ("2026-10-25T00:00:00+08:00", None),  # no offset: station time
    }
    for text, (start, end) in cases.items():
        keep = inside.copy()
        if start:
            keep &= received >= pd.Timestamp(start)
        if end:
            keep &= received <= pd.Timestamp(end)
        reply = client.get(
            "/ogc/collections/incident/items",
            params={"bbox": ",".join(map(str, box)), "datetime": text, "limit": 10000},
        )
        assert reply.status_code == 200, reply.text
        got = {f["id"] for f in reply.json()["features"]}
        assert got == set(incidents.loc[keep, "call_no"]), text
        assert 0 < len(got) < len(incidents)
    first = incidents.sort_values("received_at").iloc[0]
    instant = client.get(
        "/ogc/collections/incident/items", params={"datetime": first["received_at"]}
    ).json()
    assert first["call_no"] in {f["id"] for f in instant["features"]}


def test_single_item_and_unknown_ids(client: TestClient, sample: Sample) -> None:
    code = sample.layer("grid")["code"].iloc[5]
    feature = client.get(f"/ogc/collections/grid/items/{code}")
    assert feature.status_code == 200
    assert feature.headers["content-type"] == "application/geo+json"
    body = feature.json()
    assert body["type"] == "Feature" and body["id"] == code
    want = sample.layer("grid").set_index("code").loc[code]
    assert body["properties"] == {"code": code, "name": want["name"], "village_code":
                                  want["village_code"]}  # fmt: skip
    got = shapely.geometry.shape(body["geometry"])  # rings turned counter-clockwise
    assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(want.geometry), 1e-7)
    assert {link["rel"] for link in body["links"]} >= {"self", "collection"}
    beat = client.get("/ogc/collections/beat_2025/items/B05").json()
    assert beat["properties"]["plan_code"] == "2025"
    for url in ("/ogc/collections/grid/items/nope", "/ogc/collections/nope/items"):
        reply = client.get(url)
        assert reply.status_code == 404
        assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "120.3,29.9,120.4,29.8"}, "bbox"),  # minLat > maxLat
        ({"bbox": "170,29,-170,30"}, "bbox"),  # antimeridian
        ({"bbox": "120,29,200,30"}, "bbox"),
        ({"bbox": "nan,29,121,30"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2026-02-01/2026-01-01"}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(10**18)}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": str(10**18)}, "offset"),
        ({"offset": str(2**31)}, "offset"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "x" * 300}, "cursor"),
        ({"cursor": "MTIz"}, "cursor"),  # 123: a number, but incidents are keyed by call number
        ({"f": "html"}, "f"),
        ({"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, "bbox-crs"),
    ],
)
def test_bad_parameters_are_problems(client: TestClient, params: dict, parameter: str) -> None:
    reply = client.get("/ogc/collections/incident/items", params=params)
    assert reply.status_code in (400, 422)
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["parameter"] == parameter


def test_cursor_of_another_kind_of_key_is_refused(client: TestClient) -> None:
    for collection_id, token in (
        ("position_fix", encode_cursor("P001")),  # fixes are keyed by number
        ("position_fix", base64.urlsafe_b64encode(b"9223372036854775808").decode()),  # > bigint
        ("grid", encode_cursor(5)),  # grids by code
    ):
        reply = client.get(f"/ogc/collections/{collection_id}/items", params={"cursor": token})
        assert reply.status_code == 422, (collection_id, reply.text)
        assert reply.json()["parameter"] == "cursor"
    fine = client.get("/ogc/collections/position_fix/items", params={"cursor": encode_cursor(5)})
    assert [f["id"] for f in fine.json()["features"]] == list(range(6, 16))


def test_gdal_oapif_reads_every_collection_and_filters_by_bbox(
    live_url: str, leader_token: str, sample: Sample
) -> None:
    source = f"OAPIF:{live_url}/ogc"
    with header_file(leader_token):
        _read_every_collection(source, sample)


def _read_every_collection(source: str, sample: Sample) -> None:
    assert [name for name, _ in pyogrio.list_layers(source)] == list(COLLECTIONS)
    for i, name in enumerate(COLLECTIONS):
        if name != "position_fix":  # 300,000 fixes: read with a bbox only
            whole = pyogrio.read_dataframe(source, layer=name)
            assert keys(name, whole) == keys(name, sample.collection(name)), name
        for box in boxes(sample, 2, seed=100 + i):
            part = pyogrio.read_dataframe(source, layer=name, bbox=box)
            assert keys(name, part) == sample.keys_in(name, box), (name, box)
    info = pyogrio.read_info(source, layer="position_fix")
    assert info["features"] == len(sample.layer("position_fix"))


def test_gdal_pages_incidents_by_cursor(
    live_url: str, leader_token: str, sample: Sample, capfd: pytest.CaptureFixture[str]
) -> None:
    """GDAL's OAPIF driver follows the next links: every page by cursor, none by offset."""
    pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON"})  # GDAL logs each URL to stderr
    try:
        with header_file(leader_token):
            frame = pyogrio.read_dataframe(f"OAPIF:{live_url}/ogc", layer="incident")
    finally:
        pyogrio.set_gdal_config_options({"CPL_DEBUG": None})
    log = capfd.readouterr().err.splitlines()
    fetched = [line for line in log if "/ogc/collections/incident/items?" in line]
    pages = [url for url in fetched if "cursor=" in url]
    assert len(frame) == len(sample.layer("incident")) == frame["call_no"].nunique()
    assert not [url for url in fetched if "offset=" in url]
    page_size = 1000  # GDAL asks for 1,000 at a time, within the maximum the API declares
    assert len(pages) == len(frame) // page_size - 1, fetched  # after the first page


def test_owslib_lists_collections_and_items(
    live_url: str, leader_token: str, sample: Sample
) -> None:
    api = Features(f"{live_url}/ogc", headers=bearer(leader_token))
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert [c["id"] for c in api.collections()["collections"]] == list(COLLECTIONS)
    assert api.collection("grid")["itemType"] == "feature"
    box = boxes(sample, 1, seed=7)[0]
    found = api.collection_items("grid", bbox=list(box), limit=1000)
    assert {f["id"] for f in found["features"]} == sample.keys_in("grid", box)
    page = api.collection_items("rental_house", limit=25, offset=50)
    want = sorted(sample.layer("rental_house")["code"])[50:75]
    assert [f["id"] for f in page["features"]] == want
    one = api.collection_item("incident", sample.layer("incident")["call_no"].iloc[3])
    assert one["properties"]["category"] == sample.layer("incident")["category"].iloc[3]
