"""The command room's live map (/command) in headless Chromium with every outside host blocked:
a call stored while the page is open appears on it without a reload, its dispatch turns the
unit's colour, its close and callback go through their forms (and the awaiting-callback list
follows), and the replay (?at=) shows the board as it stood then."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import httpx
import psycopg
from playwright.sync_api import Browser, Page
from shapely import Point

from geo_service.maps.words import person_roles
from tests.browser import Visit, not_blank, shoot, sign_in
from tests.cast import Member
from tests.live_fixtures import random_point_in, start_shift, write_incident, write_step

pytest_plugins = ("tests.live_fixtures",)

AVAILABLE = "#2a9d3f"  # the page's colours of a unit's status (web_map/static/command.js)
DISPATCHED = "#f08c00"
WORDS = Path(__file__).parent.parent / "web_map" / "templates" / "command_words.json"


def fill_of(page: Page, selector: str) -> str | None:
    return page.get_attribute(selector, "fill")


def test_a_call_appears_live_and_its_dispatch_turns_the_unit(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """Open /command; a unit reports its position and a call is taken, both through the API:
    they show up without a reload. Clicking the call shows who covers it, its recommended units
    and its timeline; sending the unit from there turns its colour."""
    rng = random.Random(31)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    visit = Visit(page, live_service)
    sign_in(page, live_service, leader, "/command")
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=20_000)  # the beats
    page.wait_for_selector("#stream-state.ok", timeout=20_000)
    assert "综合指挥室" in page.inner_text(".gs-title")

    api = httpx.Client(base_url=live_service, headers=leader.headers, timeout=30)
    grid = sample_grids.iloc[rng.randrange(len(sample_grids))]
    unit_at = random_point_in(grid.geometry, rng)
    start_shift(live_database, "PAGE1")
    fix = {"call_sign": "PAGE1", "at": datetime.now(UTC).isoformat(), "lon": unit_at.x}
    r = api.post("/api/v1/positions", json={"fixes": [{**fix, "lat": unit_at.y}]})
    assert r.status_code in (200, 201), r.text
    page.wait_for_selector("path.unit-PAGE1", timeout=20_000)
    assert fill_of(page, "path.unit-PAGE1") == AVAILABLE

    call_no, _, taken = take_call(api, sample_grids.loc[[grid.name]], rng, "P")
    row = f'#incident-list li[data-call="{call_no}"]'
    page.wait_for_selector(row, timeout=20_000)  # no reload: pushed
    page.wait_for_selector(f"path.incident-{call_no}", timeout=20_000)
    assert page.get_attribute(row, "data-status") == "received"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    page.click(row)
    send = page.locator("#detail-body tr", has_text="PAGE1").locator("button")
    send.wait_for(timeout=20_000)  # recommended, with its road time
    people = taken["lookup"]["people"]
    if people:
        assert people[0]["name"] in page.inner_text("#detail-body")  # who covers it
    send.click()
    page.wait_for_function(
        "(c) => document.querySelector('path.unit-PAGE1').getAttribute('fill') === c",
        arg=DISPATCHED,
        timeout=20_000,
    )
    page.wait_for_selector(f'{row}[data-status="dispatched"]', timeout=20_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#detail-body ol li').length >= 1", timeout=20_000
    )  # the timeline shows the dispatch
    stored = api.get(f"/api/v1/incidents/{call_no}").json()
    assert [s["kind"] for s in stored["timeline"]][-1] == "dispatch"
    assert stored["units"][0]["call_sign"] == "PAGE1"
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


def take_call(
    api: httpx.Client, grids: gpd.GeoDataFrame, rng: random.Random, prefix: str
) -> tuple[str, Point, dict]:
    """A theft call at a random point of one of ``grids`` (drawn at random), taken through the
    API: its call number, point and answer."""
    grid = grids.iloc[rng.randrange(len(grids))]
    at = random_point_in(grid.geometry, rng)
    call_no = f"{prefix}{rng.randrange(10**9):09d}"
    r = api.post(
        "/api/v1/incidents",
        json={"call_no": call_no, "lon": at.x, "lat": at.y, "category": "theft"},
    )
    assert r.status_code == 201, r.text
    return call_no, at, r.json()


def send_unit(api: httpx.Client, database: str, call_no: str, call_sign: str) -> str:
    """Put a unit on duty and dispatch it to the call through the API: the call's steps path."""
    start_shift(database, call_sign)
    steps = f"/api/v1/incidents/{call_no}/events"
    assert api.post(steps, json={"kind": "dispatch", "call_sign": call_sign}).status_code == 200
    return steps


def open_command(browser: Browser, base: str, leader: Member, lang: str) -> tuple[Page, Visit]:
    """/command signed in as the leader, in ``lang``, with its stream connected."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    visit = Visit(page, base)
    sign_in(page, base, leader, "/command" + ("?lang=en" if lang == "en" else ""))
    page.wait_for_selector("#stream-state.ok", timeout=20_000)
    return page, visit


def test_covering_people_show_their_roles_in_words(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """Clicking a call lists who covers it with their roles in words (社区民警, ?lang=en
    Community officer), never a role code."""
    rng = random.Random(33)
    api = httpx.Client(base_url=live_service, headers=leader.headers, timeout=30)
    for lang, title in (("zh", "综合指挥室"), ("en", "Command room")):
        page, visit = open_command(browser, live_service, leader, lang)
        assert title in page.inner_text(".gs-title")
        call_no, _, taken = take_call(api, sample_grids, rng, "R")
        people = taken["lookup"]["people"]
        roles = {p["role"] for p in people}
        assert "community_officer" in roles  # every beat has one
        row = f'#incident-list li[data-call="{call_no}"]'
        page.wait_for_selector(row, timeout=20_000)
        page.click(row)
        page.locator("#detail-body li", has_text=people[0]["name"]).first.wait_for(timeout=20_000)
        shown = page.inner_text("#detail-body")
        words = person_roles(lang)
        for person in people:
            assert f"{person['name']} · {words[person['role']]}" in shown, person
        for role in roles:
            assert role not in shown
        assert ("社区民警" if lang == "zh" else "Community officer") in shown
        page.locator("#detail").scroll_into_view_if_needed()
        assert not_blank(shoot(page, f"command_roles_{lang}"))
        assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
        page.close()


def test_the_timeline_marks_automatic_arrivals_in_words(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """The open call's timeline: an arrival stamped from the unit's fix is marked 自动
    (?lang=en automatic), not the English "(auto)" on a Chinese page."""
    rng = random.Random(35)
    api = httpx.Client(base_url=live_service, headers=leader.headers, timeout=30)
    call_no, at, _ = take_call(api, sample_grids, rng, "W")
    send_unit(api, live_database, call_no, "WORDS1")
    fix = {"call_sign": "WORDS1", "at": datetime.now(UTC).isoformat(), "lon": at.x, "lat": at.y}
    assert api.post("/api/v1/positions", json={"fixes": [fix]}).status_code in (200, 201)
    timeline = api.get(f"/api/v1/incidents/{call_no}").json()["timeline"]
    assert [s["source"] for s in timeline if s["kind"] == "arrive"] == ["automatic"]
    for lang in ("zh", "en"):
        page, visit = open_command(browser, live_service, leader, lang)
        page.click(f'#incident-list li[data-call="{call_no}"]')
        auto = "自动" if lang == "zh" else "automatic"
        page.locator("#detail-body ol li", has_text=f"({auto})").wait_for(timeout=20_000)
        assert "(auto)" not in page.inner_text("#detail-body ol")
        assert not_blank(shoot(page, f"command_timeline_{lang}"))
        assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
        page.close()


def test_close_and_callback_through_their_forms(
    browser: Browser,
    live_service: str,
    live_database: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
) -> None:
    """A call on scene is closed through the detail's form with a typed result: it leaves the
    open incidents and appears under 待回访 without a reload; its callback, 不满意 with a typed
    note, is recorded through the callback form and it leaves the list. The stored timeline has
    the result, the answer and the note as typed."""
    rng = random.Random(36)
    api = httpx.Client(base_url=live_service, headers=leader.headers, timeout=30)
    page, visit = open_command(browser, live_service, leader, "zh")
    call_no, _, _ = take_call(api, sample_grids, rng, "C")
    steps = send_unit(api, live_database, call_no, "CALLB1")
    assert api.post(steps, json={"kind": "arrive"}).status_code == 200
    row = f'#incident-list li[data-call="{call_no}"]'
    page.wait_for_selector(f'{row}[data-status="arrived"]', timeout=20_000)
    page.click(row)

    page.click('#detail-body button[data-step="close"]', timeout=20_000)
    form = page.locator('#detail-body form[data-step="close"]')
    form.locator("button[type=submit]").click()  # nothing typed: refused on the page
    assert form.locator(".answer.error").inner_text() == "请填写办结结果"
    result = f"现场调解，双方和解 {rng.randrange(1000)}"
    form.locator("textarea[name=result]").fill(result)
    form.locator("button[type=submit]").click()
    waiting = f'#awaiting-list li[data-call="{call_no}"]'
    page.wait_for_selector(waiting, timeout=20_000)  # pushed: no reload
    page.wait_for_selector(row, state="detached", timeout=20_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    shown = page.inner_text(waiting)
    assert "盗窃" in shown and "分钟" in shown  # its category and how long it has waited

    page.click(waiting)
    page.click('#detail-body button[data-step="callback"]', timeout=20_000)
    form = page.locator('#detail-body form[data-step="callback"]')
    answers = [t.strip() for t in form.locator("fieldset label").all_inner_texts()]
    assert answers == ["满意", "基本满意", "不满意"]  # nothing chosen for the officer
    assert form.locator("input[name=result]:checked").count() == 0
    form.locator('input[name=result][value="unsatisfied"]').check()
    note = f"民警到场较慢，已向报警人解释 {rng.randrange(1000)}"
    form.locator("textarea[name=note]").fill(note)
    form.scroll_into_view_if_needed()
    assert not_blank(shoot(page, "command_callback_form"))
    form.locator("button[type=submit]").click()
    page.wait_for_selector(waiting, state="detached", timeout=20_000)
    page.locator("#detail-body ol li", has_text="不满意").wait_for(timeout=20_000)
    assert note in page.inner_text("#detail-body ol")
    assert page.locator('#detail-body button[data-step="callback"]').count() == 0
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    timeline = api.get(f"/api/v1/incidents/{call_no}").json()["timeline"]
    closes = [s for s in timeline if s["kind"] == "close"]
    callbacks = [s for s in timeline if s["kind"] == "callback"]
    assert [s["result"] for s in closes] == [result]
    assert [(s["result"], s["note"]) for s in callbacks] == [("unsatisfied", note)]
    assert not_blank(shoot(page, "command_callback"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_the_english_board_capitalises_its_labels(
    browser: Browser, live_service: str, leader: Member
) -> None:
    """?lang=en: the detail's labels, the legend's statuses, the awaiting list's heading and the
    callback answers start with a capital (no lowercase "received" among them)."""
    words = json.loads(WORDS.read_text(encoding="utf-8"))["en"]
    lowercase_on_purpose = {"automatic", "list_sep", "waited_dh", "waited_hm", "waited_m", "fields"}
    for key, value in words.items():
        if key in lowercase_on_purpose:
            continue
        for text in value.values() if isinstance(value, dict) else [value]:
            assert text[0] == text[0].upper(), (key, text)
    page, visit = open_command(browser, live_service, leader, "en")
    assert "Awaiting callback" in page.inner_text("#awaiting h3")
    legend = page.inner_text("#legend")
    assert "Received" in legend and "received" not in legend
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
