"""Maps: aggregations checked against h3-py and pandas, offline rendering, pages in Chromium."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import Counter
from datetime import datetime

import folium
import geopandas as gpd
import h3.api.basic_int as h3
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from folium import plugins
from playwright.sync_api import Browser
from shapely.geometry import Point

from geo_service.db import connect
from geo_service.main import create_app
from geo_service.maps import assets, words
from geo_service.maps.basemap import new_map
from geo_service.maps.render import render
from geo_service.moments import STATION_TZ
from geo_service.services.incidents import IncidentFilter, heat
from geo_service.settings import Settings
from tests.accounts import bearer
from tests.browser import Visit, not_blank, shoot, sign_in
from tests.cast import Member

START, END = "2026-08-01", "2026-10-01"  # two months of the sample's incidents
PAGES = ["overview", "heatmap", "hexagons", "animation"]


@pytest.fixture(scope="module")
def incidents(database_url: str) -> pd.DataFrame:
    """Every incident read back plainly (no aggregation in SQL), with station hour/weekday."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT i.received_at, i.category, ST_X(i.geom), ST_Y(i.geom), b.code, v.code "
            "FROM incident i LEFT JOIN beat b ON b.id = i.beat_id "
            "LEFT JOIN village v ON v.id = i.village_id"
        ).fetchall()
    df = pd.DataFrame(rows, columns=["t", "category", "lon", "lat", "beat", "village"])
    local = pd.to_datetime(df["t"], utc=True).dt.tz_convert(STATION_TZ.key)
    df["t"] = local
    df["hour"] = local.dt.hour
    df["weekday"] = local.dt.day_of_week + 1
    return df


def window(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Incidents in [start, end) station time."""
    t0 = pd.Timestamp(start, tz=STATION_TZ.key)
    t1 = pd.Timestamp(end, tz=STATION_TZ.key)
    return df[(df["t"] >= t0) & (df["t"] < t1)]


def cells(df: pd.DataFrame, res: int) -> Counter:
    """Incidents per H3 cell at res, by h3-py from the coordinates: the cell each point lies in
    at that resolution (not the parent of a finer cell: H3's children do not tile it)."""
    return Counter(
        h3.latlng_to_cell(lat, lon, res) for lat, lon in zip(df.lat, df.lon, strict=True)
    )


def test_every_incident_is_stored_with_its_cells_at_7_to_10(database_url, sample_path) -> None:
    """Each incident's stored cells are h3-py's latlng_to_cell of the sample's own point."""
    source = pyogrio.read_dataframe(sample_path, layer="incident")
    xy = shapely.get_coordinates(source.geometry.values)
    want = {
        call_no: {res: h3.latlng_to_cell(lat, lon, res) for res in (7, 8, 9, 10)}
        for call_no, (lon, lat) in zip(source["call_no"], xy, strict=True)
    }
    with connect(database_url) as conn:
        rows = conn.execute("SELECT call_no, h3_r7, h3_r8, h3_r9, h3 FROM incident").fetchall()
    checked = 0
    for call_no, *stored in rows:
        assert dict(zip((7, 8, 9, 10), stored, strict=True)) == want[call_no], call_no
        checked += 1
    assert checked == len(want) == 20_000
    # the parent of the resolution-10 cell is the wrong answer often enough to be seen here
    moved = sum(h3.cell_to_parent(w[10], 9) != w[9] for w in want.values())
    assert moved > 0.01 * len(want)


# ------------------------------------------------------------------------------ aggregations


@pytest.mark.parametrize(
    ("query", "narrow"),
    [
        ("", lambda d: d),
        ("&categories=theft,fraud", lambda d: d[d.category.isin(["theft", "fraud"])]),
        (
            "&categories=dispute&categories=traffic",
            lambda d: d[d.category.isin(["dispute", "traffic"])],
        ),
        ("&beat=B05", lambda d: d[d.beat == "B05"]),
        ("&village=330681109002", lambda d: d[d.village == "330681109002"]),
        ("&hours=0-6,22", lambda d: d[d.hour.isin([0, 1, 2, 3, 4, 5, 6, 22])]),
        ("&weekdays=6-7", lambda d: d[d.weekday.isin([6, 7])]),
        (
            "&hours=8-17&weekdays=1-5&categories=theft",
            lambda d: d[d.hour.between(8, 17) & d.weekday.between(1, 5) & (d.category == "theft")],
        ),
    ],
)
def test_heatmap_weights_sum_to_the_matching_incidents(client, incidents, query, narrow) -> None:
    r = client.get(f"/api/v1/incidents/heatmap?start={START}&end={END}{query}")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = narrow(window(incidents, START, END))
    weights = [p[2] for p in body["points_latlon_weight"]]
    assert sum(weights) == body["incidents"] == len(expected)
    assert len(expected) > 0
    # at resolution 10 every point is the centre of a cell of h3-py's, with its count
    assert body["h3_resolution"] == 10
    want = cells(expected, 10)
    got = {h3.latlng_to_cell(lat, lon, 10): w for lat, lon, w in body["points_latlon_weight"]}
    assert got == dict(want)


def test_heatmap_caps_points_by_coarser_cells(database_url, incidents) -> None:
    """With a cap, the cells get coarser until they fit; the weights still sum up."""
    flt = IncidentFilter(
        start=datetime(2025, 11, 1, tzinfo=STATION_TZ), end=datetime(2026, 11, 1, tzinfo=STATION_TZ)
    )

    async def run(cap: int):
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await heat(conn, flt=flt, max_points=cap)

    resolutions = []
    for cap in (50_000, 2_000, 300, 60):
        data = asyncio.run(run(cap))
        pts = data.frames[0]
        assert len(pts) <= cap
        assert data.total == len(incidents) == 20_000
        want = cells(incidents, data.resolution)
        assert len(want) <= cap
        if data.resolution < 10:  # the finest resolution that fits was chosen
            assert len(cells(incidents, data.resolution + 1)) > cap
        got = {h3.latlng_to_cell(lat, lon, data.resolution): w for lat, lon, w in pts}
        assert got == dict(want)
        resolutions.append(data.resolution)
    assert resolutions == [10, 9, 8, 7]
    # resolution 7 is the coarsest stored: a cap below its cells gets them all, not fewer
    data = asyncio.run(run(10))
    assert data.resolution == 7 and data.total == 20_000
    got = {h3.latlng_to_cell(lat, lon, 7): w for lat, lon, w in data.frames[0]}
    assert got == dict(cells(incidents, 7)) and len(got) > 10


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_hexagon_counts_match_h3py_with_the_previous_period(client, incidents, res) -> None:
    r = client.get(f"/api/v1/incidents/hexagons?start={START}&end={END}&resolution={res}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    now = cells(window(incidents, START, END), res)
    before = cells(window(incidents, "2026-06-01", START), res)  # same 61 days before
    assert fc["previous"]["start"].startswith("2026-06-01")
    got = {h3.str_to_int(f["properties"]["cell"]): f["properties"] for f in fc["features"]}
    assert set(got) == set(now) | set(before)
    checked = 0
    for cell, p in got.items():
        assert (p["incidents"], p["previous"]) == (now[cell], before[cell])
        assert p["change"] == now[cell] - before[cell]
        checked += 1
    assert checked == len(set(now) | set(before)) > 0
    assert fc["incidents"] == sum(now.values()) > 0
    # the same counts by a pandas groupby over the cells of the window's incidents
    inside = window(incidents, START, END)
    xy = zip(inside.lon, inside.lat, strict=True)
    by_cell = (
        inside.assign(cell=[h3.latlng_to_cell(y, x, res) for x, y in xy]).groupby("cell").size()
    )
    shown = {c: p["incidents"] for c, p in got.items() if p["incidents"]}
    assert shown == {int(c): int(n) for c, n in by_cell.items()}
    # geometry is the cell's own boundary
    f = fc["features"][0]
    ring = f["geometry"]["coordinates"][0]
    assert h3.latlng_to_cell(
        sum(y for _, y in ring[:-1]) / (len(ring) - 1),
        sum(x for x, _ in ring[:-1]) / (len(ring) - 1),
        res,
    ) == h3.str_to_int(f["properties"]["cell"])


def test_hourly_matrix_matches_pandas(client, incidents) -> None:
    r = client.get(f"/api/v1/incidents/hourly?start={START}&end={END}&categories=theft")
    body = r.json()
    sel = window(incidents, START, END)
    sel = sel[sel.category == "theft"]
    want = sel.groupby(["weekday", "hour"]).size()
    for d in range(1, 8):
        for h in range(24):
            assert body["weekday_hour"][d - 1][h] == want.get((d, h), 0)
    assert body["incidents"] == len(sel)
    assert body["by_hour"] == [int((sel.hour == h).sum()) for h in range(24)]


def test_default_window_is_the_last_30_days_with_incidents(client, incidents) -> None:
    body = client.get("/api/v1/incidents/heatmap").json()
    last = incidents["t"].max()
    end = (last.normalize() + pd.Timedelta(days=1)).isoformat()
    start = (last.normalize() - pd.Timedelta(days=29)).isoformat()
    assert pd.Timestamp(body["filter"]["end"]) == pd.Timestamp(end)
    assert pd.Timestamp(body["filter"]["start"]) == pd.Timestamp(start)
    assert body["incidents"] == len(window(incidents, start[:10], end[:10])) > 0


def test_overview_layers_carry_every_feature(client, database_url) -> None:
    body = client.get("/api/v1/overview/layers?at=2026-08-01T00:00").json()
    with connect(database_url) as conn:
        count = lambda q: conn.execute(q).fetchone()[0]  # noqa: E731
        assert len(body["villages"]["features"]) == count("SELECT count(*) FROM village")
        assert len(body["grids"]["features"]) == count("SELECT count(*) FROM grid")
        assert len(body["rental_houses"]["features"]) == count("SELECT count(*) FROM rental_house")
        assert len(body["cameras"]["features"]) == count("SELECT count(*) FROM camera")
        assert len(body["water_markers"]["features"]) == count("SELECT count(*) FROM water_marker")
        assert len(body["beats"]["features"]) == count(
            "SELECT count(*) FROM beat b JOIN beat_plan p ON p.id = b.plan_id WHERE p.code = '2026'"
        )
    people = [p["role"] for f in body["beats"]["features"] for p in f["properties"]["people"]]
    assert "community_officer" in people


def test_overview_layers_in_a_bbox_with_a_limit(client, sample_path) -> None:
    """Features meeting a bbox, first by code, checked against geopandas on the sample file."""
    rentals = gpd.read_file(sample_path, layer="rental_house")
    w, s, e, n = rentals.total_bounds
    box = (w, s, (w + e) / 2, (s + n) / 2)  # the south-west quarter
    inside = rentals.cx[box[0] : box[2], box[1] : box[3]].sort_values("code")
    bbox = ",".join(f"{v:.6f}" for v in box)
    r = client.get(f"/api/v1/overview/layers?layers=rental_houses,cameras&bbox={bbox}&limit=25")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"rental_houses", "cameras"}
    fc = body["rental_houses"]
    assert fc["total"] == len(inside) > 25
    assert fc["truncated"] is True
    assert [f["properties"]["code"] for f in fc["features"]] == list(inside["code"][:25])
    everything = client.get(f"/api/v1/overview/layers?layers=rental_houses&bbox={bbox}").json()
    assert len(everything["rental_houses"]["features"]) == len(inside)
    assert everything["rental_houses"]["truncated"] is False


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/maps/heatmap?categories=burglary", "categories"),
        ("/api/v1/incidents/heatmap?categories=theft,nope", "categories"),
        ("/maps/hexagons?resolution=6", "resolution"),
        ("/api/v1/incidents/hexagons?resolution=11", "resolution"),
        ("/maps/heatmap?start=2026-10-01&end=2026-09-01", "start"),
        ("/maps/heatmap?start=yesterday", "start"),
        ("/maps/heatmap?end=2026-13-01", "end"),
        ("/maps/heatmap?days=0", "days"),
        ("/maps/heatmap?start=2020-01-01&end=2026-01-01", "start"),
        ("/maps/animation?hours=7-25", "hours"),
        ("/maps/animation?weekdays=0", "weekdays"),
        ("/maps/animation?by=month", "by"),
        ("/maps/overview?lang=fr", "lang"),
        ("/api/v1/overview/layers?layers=villages,roads", "layers"),
        ("/api/v1/overview/layers?bbox=120.4,29.8,120.3,29.9", "bbox"),
        ("/api/v1/overview/layers?bbox=a,b,c,d", "bbox"),
        ("/api/v1/overview/layers?limit=0", "limit"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(client, query, parameter) -> None:
    r = client.get(query)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["parameter"] == parameter


# ------------------------------------------------------------------------------ offline rendering


def test_render_refuses_an_asset_from_another_host(settings: Settings) -> None:
    m = new_map(settings=settings, lang="zh", bbox=(120.2, 29.7, 120.4, 29.9))
    plugins.MiniMap().add_to(m)  # a plugin ASSETS does not know
    with pytest.raises(assets.OfflineViolation, match=r"Control\.MiniMap"):
        render(m, settings=settings)
    m = new_map(settings=settings, lang="zh", bbox=(120.2, 29.7, 120.4, 29.9))
    folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", attr="osm").add_to(m)
    with pytest.raises(assets.OfflineViolation, match="openstreetmap"):
        render(m, settings=settings)


def test_render_allows_the_configured_intranet_tiles(settings: Settings) -> None:
    local = settings.model_copy(update={"map_tiles_url": "http://tiles.lan/{z}/{x}/{y}.png"})
    m = new_map(settings=local, lang="en", bbox=(120.2, 29.7, 120.4, 29.9))
    page = render(m, settings=local)
    assert "http://tiles.lan/{z}/{x}/{y}.png" in page
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not url.startswith("http"), url


def test_every_asset_in_the_table_is_served(client) -> None:
    for local in {u for u in assets.ASSETS.values() if u}:
        r = client.get(local)
        assert r.status_code == 200, local
        assert len(r.content) > 100, local


def test_words_have_both_languages_and_refuse_clashes() -> None:
    assert set(words.words("zh")) == set(words.words("en"))
    with pytest.raises(ValueError, match="already"):
        words.add_words(zh={"town": "别的"}, en={"town": "Town boundary"})


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_small_and_name_no_outside_host(client, page) -> None:
    for lang in ("zh", "en"):
        r = client.get(f"/maps/{page}?lang={lang}")
        assert r.status_code == 200, r.text
        assert len(r.content) < 2_000_000
        for url in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert not re.match(r"https?://", url), url


def test_overview_page_stays_well_under_a_megabyte(client) -> None:
    """The overview embeds villages only (compact JSON); beats, grids and the points come for
    the area in view. On the large sample the page is about 0.64 MB (it was 2.07 MB); on the
    small one it must stay a fraction of the 1 MB limit."""
    for lang in ("zh", "en"):
        r = client.get(f"/maps/overview?lang={lang}")
        assert r.status_code == 200, r.text
        assert len(r.content) < 250_000, len(r.content)
        # no folium.GeoJson: its JSON is padded with spaces and escapes every Chinese character
        assert not re.search(r"\bgeo_json_[0-9a-f]+_add\(", r.text)


def test_landing_page_links_every_map(client) -> None:
    zh = client.get("/").text
    en = client.get("/?lang=en").text
    for page in PAGES:
        assert f'href="/maps/{page}"' in zh
        assert f'href="/maps/{page}?lang=en"' in en


# ------------------------------------------------------------------------------ in Chromium

ENGLISH_TITLE = {
    "overview": "Jurisdiction overview",
    "heatmap": "Incident heatmap",
    "hexagons": "H3 hexagons of incidents",
    "animation": "Incidents through the day and week",
}
ENGLISH_LAYER = {"rental_houses": "Rental houses"}
CHINESE_TITLE = {
    "overview": "辖区总览",
    "heatmap": "警情热力图",
    "hexagons": "H3 六边形警情统计",
    "animation": "警情时段动画",
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page_name", PAGES)
def test_map_page_draws_offline_in_chromium(
    browser: Browser, live_url: str, browser_user: Member, page_name: str, lang: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    visit = Visit(page, live_url)
    query = f"?lang={lang}&start={START}&end={END}" if page_name != "overview" else f"?lang={lang}"
    sign_in(page, live_url, browser_user, f"/maps/{page_name}{query}")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive", timeout=20_000)
    if page_name in ("heatmap", "animation"):
        page.wait_for_selector("canvas.leaflet-heatmap-layer, .leaflet-overlay-pane canvas")
    if page_name == "animation":
        page.wait_for_selector(".leaflet-control-timecontrol")
    title = page.inner_text(".gs-title h1")
    assert (ENGLISH_TITLE if lang == "en" else CHINESE_TITLE)[page_name] in title
    paths = page.locator(".leaflet-container path").count()
    assert paths > 10
    if page_name == "overview":  # water markers and work points come for the area in view
        page.wait_for_selector(".leaflet-overlay-pane path[fill='#1a9641']")
        page.wait_for_selector(".awesome-marker")
        rentals = (
            "() => document.querySelectorAll(\".leaflet-overlay-pane path[fill='#984ea3']\").length"
        )
        assert page.evaluate(rentals) == 0
        page.get_by_label(ENGLISH_LAYER["rental_houses"] if lang == "en" else "出租房").check()
        page.wait_for_function(rentals + " > 0")
    if page_name == "hexagons":  # the control recolours the cells by change
        fills = (
            "() => [...document.querySelectorAll('.leaflet-overlay-pane path')]"
            ".map(p => p.getAttribute('fill'))"
        )
        assert "#2c7bb6" not in page.evaluate(fills)
        page.check("input[value=change]")
        assert "#2c7bb6" in page.evaluate(fills)  # some cells had fewer incidents
        shoot(page, f"map_hexagons_change_{lang}")
        page.check("input[value=count]")
    image = shoot(page, f"map_{page_name}_{lang}")
    assert not_blank(image)
    assert not visit.outside, visit.outside
    assert not visit.errors, visit.errors
    page.close()


def test_overview_click_shows_the_lookup_answer(
    browser: Browser, live_url: str, browser_user: Member, grids
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    visit = Visit(page, live_url)
    sign_in(page, live_url, browser_user, "/maps/overview")
    page.wait_for_selector(".leaflet-container path")
    target = grids.sort_values("code").geometry.iloc[0].representative_point()
    box = page.locator(".leaflet-container").bounding_box()
    x, y = page.evaluate(
        "([lon, lat]) => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [target.x, target.y],
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    latlng = page.evaluate(
        "([x, y]) => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const ll = m.containerPointToLatLng([x, y]); return [ll.lng, ll.lat]; }",
        [x, y],
    )
    page.wait_for_selector(".leaflet-popup-content .gs-lookup, .leaflet-popup-content b")
    text = page.inner_text(".leaflet-popup-content")
    hit = grids[grids.intersects(Point(*latlng))]
    assert len(hit) >= 1  # the middle of the station's box lies in a grid
    assert hit.sort_values("code")["name"].iloc[0] in text
    shoot(page, "map_overview_click")
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_basemap_cache_follows_changes_to_its_layers(client, database_url) -> None:
    """The in-memory basemap is rebuilt when a village changes (trigger-bumped version)."""
    before = client.get("/maps/heatmap?lang=en").text
    with connect(database_url) as conn:
        code, name = conn.execute("SELECT code, name FROM village ORDER BY code LIMIT 1").fetchone()
        conn.execute("UPDATE village SET name = %s WHERE code = %s", ("{{ 7 * 191 }}镇", code))
        conn.commit()
        try:
            after = client.get("/maps/heatmap?lang=en").text
        finally:
            conn.execute("UPDATE village SET name = %s WHERE code = %s", (name, code))
            conn.commit()
    assert "{{ 7 * 191 }}镇" not in before
    assert "{{ 7 * 191 }}镇" in after  # shown as data, never run as a template
    assert "1337镇" not in after
    assert "{{ 7 * 191 }}镇" not in client.get("/maps/heatmap?lang=en").text


def test_mbtiles_file_is_served_under_the_basemap(
    settings: Settings, leader_token: str, tmp_path
) -> None:
    """A local MBTiles file (TMS rows) is served at /maps/tiles/{z}/{x}/{y} and used by pages."""
    path = tmp_path / "local.mbtiles"
    png = b"\x89PNG\r\n\x1a\n" + b"tile-2-1-1"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute(
            "CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)"
        )
        db.execute("INSERT INTO metadata VALUES ('format', 'png')")
        db.execute("INSERT INTO tiles VALUES (2, 1, 2, ?)", (png,))  # XYZ y=1 is TMS row 2
    local = settings.model_copy(update={"map_mbtiles_path": path})
    with TestClient(create_app(local), headers=bearer(leader_token)) as c:
        r = c.get("/maps/tiles/2/1/1")
        assert r.status_code == 200 and r.content == png
        assert r.headers["content-type"] == "image/png"
        assert c.get("/maps/tiles/2/1/2").status_code == 404
        page = c.get("/maps/heatmap").text
        assert "/maps/tiles/{z}/{x}/{y}" in page
    with TestClient(create_app(settings), headers=bearer(leader_token)) as c:
        assert c.get("/maps/tiles/2/1/1").status_code == 404  # none configured


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/maps/heatmap?beat=NOPE", "beat"),
        ("/api/v1/incidents/hourly?village=999999999999", "village"),
    ],
)
def test_unknown_codes_are_404_naming_the_parameter(client, query, parameter) -> None:
    r = client.get(query)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["parameter"] == parameter
