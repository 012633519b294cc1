"""Patrol coverage against an independent h3-py computation over the sample's beats and fixes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from geo_service.db import connect
from tests.browser import map_visit
from tests.cast import Member

OCTOBER = {"from": "2026-10-01T00:00:00+08:00", "to": "2026-11-01T00:00:00+08:00"}
WEEK = {"from": "2026-10-08T06:00:00+08:00", "to": "2026-10-15T18:00:00+08:00"}


@pytest.fixture(scope="module")
def fixes(sample_path: Path) -> pd.DataFrame:
    """The sample's position fixes with their H3 cells computed here with h3-py."""
    frame = pyogrio.read_dataframe(sample_path, layer="position_fix")
    xy = shapely.get_coordinates(frame.geometry.values)
    return pd.DataFrame(
        {
            "at": pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601"),
            "cell": [h3.latlng_to_cell(y, x, 10) for x, y in xy],
        }
    )


def beat_cells(sample_path: Path, grids: gpd.GeoDataFrame, plan: str) -> dict[str, set[int]]:
    """Per beat of a plan: the res-10 cells whose centre lies in the union of its grids."""
    members = pyogrio.read_dataframe(sample_path, layer="beat_grid", read_geometry=False)
    members = members[members["plan_code"] == plan]
    by_code = grids.set_index("code").geometry
    cells = {}
    for beat, rows in members.groupby("beat_code"):
        outline = shapely.union_all(by_code.loc[rows["grid_code"]].values)
        shape = h3.geo_to_h3shape(shapely.geometry.mapping(outline))
        cells[beat] = set(h3.h3shape_to_cells(shape, 10))
    return cells


def visited(fixes: pd.DataFrame, period: dict[str, str]) -> pd.Series:
    """Last visit per cell of the fixes recorded in [from, to)."""
    start, end = (pd.Timestamp(datetime.fromisoformat(period[k])) for k in ("from", "to"))
    inside = fixes[(fixes["at"] >= start) & (fixes["at"] < end)]
    return inside.groupby("cell")["at"].max()


@pytest.mark.parametrize(
    ("plan", "period"), [("2026", OCTOBER), ("2026", WEEK), ("2027-draft", OCTOBER)]
)
def test_coverage_per_beat_matches_h3(
    client: TestClient, sample_path: Path, grids, fixes, plan: str, period: dict
) -> None:
    r = client.get("/api/v1/patrol/coverage", params={**period, "plan": plan})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["plan"]["code"] == plan and body["h3_resolution"] == 10
    expected = beat_cells(sample_path, grids, plan)
    last = visited(fixes, period)
    got = {b["code"]: b for b in body["beats"]}
    assert set(got) == set(expected)
    beats = pyogrio.read_dataframe(sample_path, layer="beat", read_geometry=False)
    checked = with_visits = 0
    for code, cells in expected.items():
        seen = cells & set(last.index)
        b = got[code]
        assert b["cells"] == len(cells), code
        assert b["visited_cells"] == len(seen), code
        assert b["never_visited_cells"] == len(cells) - len(seen)
        assert b["share"] == pytest.approx(len(seen) / len(cells), abs=5e-5)
        if seen:
            assert pd.Timestamp(b["last_visit"]) == last.loc[list(seen)].max()
            since = pd.Timestamp(datetime.fromisoformat(period["to"])) - last.loc[list(seen)]
            hours = np.median(since.dt.total_seconds()) / 3600
            assert b["median_hours_since_visit"] == pytest.approx(hours, abs=0.051)
            with_visits += 1
        checked += 1
    assert checked == (beats["plan_code"] == plan).sum() > 0  # every beat of the plan
    assert with_visits > 0
    assert 0 < body["totals"]["visited_cells"] < body["totals"]["cells"]
    assert body["totals"]["cells"] == sum(len(c) for c in expected.values())


def test_cells_of_a_beat_match_h3(client: TestClient, sample_path: Path, grids, fixes) -> None:
    r = client.get("/api/v1/patrol/cells", params={**WEEK, "beat": "B05"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    features = body["features"]
    expected = beat_cells(sample_path, grids, "2026")["B05"]
    assert {int(f["id"], 16) for f in features} == expected
    assert body["numberReturned"] == len(expected) and body["links"] == []  # one page
    last = visited(fixes, WEEK)
    end = pd.Timestamp(datetime.fromisoformat(WEEK["to"]))
    checked = 0
    for f in features:
        cell, p = int(f["id"], 16), f["properties"]
        assert p["visited"] == (cell in last.index)
        if p["visited"]:
            assert pd.Timestamp(p["last_visit"]) == last.loc[cell]
            assert p["hours_since_visit"] == pytest.approx(
                (end - last.loc[cell]).total_seconds() / 3600, abs=0.051
            )
        # the hexagon is the cell's own outline, its centre inside a grid of the beat
        ring = np.array(f["geometry"]["coordinates"][0])
        lat, lng = h3.cell_to_latlng(cell)
        assert ring[:, 0].mean() == pytest.approx(lng, abs=2e-4)
        assert ring[:, 1].mean() == pytest.approx(lat, abs=2e-4)
        checked += 1
    assert checked == len(expected) > 1000
    only = client.get("/api/v1/patrol/cells", params={**WEEK, "beat": "B05", "visited_only": 1})
    assert len(only.json()["features"]) == len(expected & set(last.index))


def walk_pages(client: TestClient, params: dict) -> list[dict]:
    """Every page of /api/v1/patrol/cells, following the next links from the first."""
    pages: list[dict] = []
    r = client.get("/api/v1/patrol/cells", params=params)
    while True:
        assert r.status_code == 200, r.text
        pages.append(r.json())
        after = [link["href"] for link in pages[-1]["links"] if link["rel"] == "next"]
        if not after:
            return pages
        assert len(pages) < 100, "the next links do not end"
        r = client.get(after[0])


@pytest.mark.parametrize("visited_only", [False, True])
def test_cells_of_every_beat_come_in_pages(
    client: TestClient, sample_path: Path, grids, fixes, visited_only: bool
) -> None:
    """Without a beat, the cells of all beats in pages by key: together exactly the cells of
    h3-py, each once, in id order, every page but the last full."""
    limit = 500
    params = {**WEEK, "limit": limit, "visited_only": visited_only}
    pages = walk_pages(client, params)
    expected = set().union(*beat_cells(sample_path, grids, "2026").values())
    if visited_only:
        expected &= set(visited(fixes, WEEK).index)
    ids = [int(f["id"], 16) for page in pages for f in page["features"]]
    assert len(ids) == len(set(ids)) == len(expected) > 2 * limit
    assert set(ids) == expected and ids == sorted(ids)
    assert len(pages) == -(-len(expected) // limit)
    for page in pages:
        assert page["numberReturned"] == len(page["features"])
        assert page["numberReturned"] == limit or page is pages[-1]
        assert all(f["properties"]["visited"] for f in page["features"]) or not visited_only


def test_the_default_page_is_bounded(client: TestClient) -> None:
    """Without a beat or a limit, one page of at most 2,500 cells with a next link: never the
    whole station (13,641 cells, 5 MB) at once."""
    body = client.get("/api/v1/patrol/cells", params=WEEK).json()
    assert body["numberReturned"] == len(body["features"]) == 2500
    assert [link["rel"] for link in body["links"]] == ["next"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"after": "nope"}, "after"),
        ({"after": "8a2a1072b59ffff0"}, "after"),  # beyond bigint: no cell id
        ({"after": "-1"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
    ],
)
def test_bad_page_requests_are_422(client: TestClient, params: dict, parameter: str) -> None:
    r = client.get("/api/v1/patrol/cells", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["parameter"] == parameter


def test_default_period_ends_with_the_day_of_the_latest_fix(client: TestClient) -> None:
    body = client.get("/api/v1/patrol/coverage").json()
    # the sample's last fix is on 2026-10-31 (station time)
    assert datetime.fromisoformat(body["to"]) == datetime.fromisoformat(OCTOBER["to"])
    assert datetime.fromisoformat(body["from"]) == datetime.fromisoformat(
        "2026-10-02T00:00:00+08:00"
    )
    assert body["plan"]["code"] == "2026"


def test_grid_changes_mark_the_cell_cache_stale(client: TestClient, database_url: str) -> None:
    before = client.get("/api/v1/patrol/coverage", params=OCTOBER).json()
    with connect(database_url) as conn:
        conn.execute("UPDATE grid SET name = name WHERE id = (SELECT min(id) FROM grid)")
        conn.commit()
        assert conn.execute("SELECT fresh FROM grid_cell_state").fetchone()[0] is False
    after = client.get("/api/v1/patrol/coverage", params=OCTOBER).json()
    assert after["cells_fresh"] is True and after["beats"] == before["beats"]


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"plan": "nope"}, 404, "plan"),
        ({"from": "2026-10-10", "to": "2026-10-01"}, 422, "to"),
        ({"from": "yesterday"}, 422, "from"),
    ],
)
def test_bad_coverage_requests(client: TestClient, params: dict, status: int, parameter: str):
    r = client.get("/api/v1/patrol/coverage", params=params)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["parameter"] == parameter


def test_unknown_beat_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/patrol/cells", params={"beat": "B99"})
    assert r.status_code == 404 and r.json()["parameter"] == "beat"
    assert "B99" in r.json()["detail"]


def test_landing_page_links_the_analysis_maps(client: TestClient) -> None:
    for query, text in (("", "巡逻覆盖"), ("?lang=en", "Patrol coverage")):
        page = client.get(f"/{query}").text
        for path in ("/maps/patrol", "/maps/cameras", "/maps/water"):
            assert f'href="{path}{query}"' in page
        assert text in page


@pytest.mark.parametrize(
    ("query", "name", "text"),
    [("", "patrol_zh", "巡逻覆盖"), ("?beat=B05&lang=en", "patrol_b05_en", "Patrol coverage")],
)
def test_patrol_map_in_chromium(
    browser: Browser, live_url: str, browser_user: Member, query: str, name: str, text: str
) -> None:
    with map_visit(
        browser,
        live_url,
        f"/maps/patrol{query}",
        user=browser_user,
        title=text,
        paths=50,
        name=name,
    ) as page:  # cells drawn
        assert "B05" in page.inner_text("#patrol-table")
