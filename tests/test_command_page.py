"""The command room's live map (/command) in headless Chromium with every outside host blocked:
a call stored while the page is open appears on it without a reload, its dispatch turns the
unit's colour, and the replay (?at=) shows the board as it stood then."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import psycopg
import pytest
from playwright.sync_api import Browser, Page

from geo_service.accounts.roles import Role
from tests.browser import Visit, not_blank, shoot, sign_in
from tests.cast import Member, make_member
from tests.live_fixtures import random_point_in, write_incident, write_step, write_unit

pytest_plugins = ("tests.live_fixtures",)

AVAILABLE = "#2a9d3f"  # the page's colours of a unit's status (web_map/static/command.js)
DISPATCHED = "#f08c00"


@pytest.fixture(scope="module")
def leader(live_database: str) -> Member:
    return make_member(live_database, Role.leader)


@pytest.fixture(scope="module")
def sample_grids(sample_path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(sample_path, layer="grid")


def fill_of(page: Page, selector: str) -> str | None:
    return page.get_attribute(selector, "fill")


def test_a_call_appears_live_and_its_dispatch_turns_the_unit(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """Open /command, then store a call and send a unit: both show up without a reload."""
    rng = random.Random(31)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    visit = Visit(page, live_service)
    sign_in(page, live_service, leader, "/command")
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=20_000)  # the beats
    page.wait_for_selector("#stream-state.ok", timeout=20_000)
    assert "综合指挥室" in page.inner_text(".gs-title")

    grid = sample_grids.iloc[rng.randrange(len(sample_grids))]
    unit_at = random_point_in(grid.geometry, rng)
    write_unit(live_database, "PAGE1", status="available", lon=unit_at.x, lat=unit_at.y)
    page.wait_for_selector("path.unit-PAGE1", timeout=20_000)
    assert fill_of(page, "path.unit-PAGE1") == AVAILABLE

    call = write_incident(live_database, sample_grids, rng, grid=grid["code"])
    row = f'#incident-list li[data-call="{call.call_no}"]'
    page.wait_for_selector(row, timeout=20_000)  # no reload: pushed
    page.wait_for_selector(f"path.incident-{call.call_no}", timeout=20_000)
    assert page.get_attribute(row, "data-status") == "received"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    write_step(live_database, call.call_no, "dispatch", call_sign="PAGE1")
    write_unit(
        live_database,
        "PAGE1",
        status="dispatched",
        lon=unit_at.x,
        lat=unit_at.y,
        call_no=call.call_no,
    )
    page.wait_for_function(
        "(c) => document.querySelector('path.unit-PAGE1').getAttribute('fill') === c",
        arg=DISPATCHED,
        timeout=20_000,
    )
    page.wait_for_selector(f'{row}[data-status="dispatched"]', timeout=20_000)
    page.wait_for_timeout(500)
    assert not_blank(shoot(page, "command_live"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_replay_shows_the_board_as_it_stood(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """/command?at=: a call logged after the moment is not on the board, one before is, with
    the status it had then; the slider moves the moment back."""
    rng = random.Random(32)
    first = write_incident(live_database, sample_grids, rng)
    with psycopg.connect(live_database) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row
    moment: datetime = row[0]
    write_step(live_database, first.call_no, "dispatch", call_sign="PAGE2")  # after the moment
    later = write_incident(live_database, sample_grids, rng)

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    visit = Visit(page, live_service)
    at = quote(moment.astimezone(UTC).isoformat())
    sign_in(page, live_service, leader, f"/command?at={at}")
    shown = f'#incident-list li[data-call="{first.call_no}"]'
    page.wait_for_selector(shown, timeout=20_000)
    assert page.get_attribute(shown, "data-status") == "received"  # dispatched only later
    assert page.locator(f'#incident-list li[data-call="{later.call_no}"]').count() == 0
    assert "复盘" in page.inner_text(".gs-title")
    page.locator("#replay-slider").fill(str(-int(timedelta(hours=24).total_seconds() // 60)))
    page.wait_for_function(
        "(s) => !document.querySelector(s)", arg=shown, timeout=20_000
    )  # a day earlier: not yet received
    assert not_blank(shoot(page, "command_replay"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
