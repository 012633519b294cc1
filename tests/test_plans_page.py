"""The planner's pages in headless Chromium (issue 13, section 5), served on the planning tests'
own database: a planner makes a draft on /plans, moves a grid by clicking it and sees the table
change, undoes and redoes, compares with the plan in force, rebalances (when the service has
the workload and the rebalance), and a leader publishes; a planner adds a beat, renames it, moves
a grid into it, gives it a community officer (undone and redone), is refused the removal of a
non-empty beat and removes an empty one, every label in words. No outside request, no console
error."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
import pytest
from playwright.sync_api import Browser, Page

from geo_service.accounts.roles import Role
from geo_service.services.incidents import CATEGORIES
from geo_service.services.workload import PARTS
from tests.browser import Visit, not_blank, served, shoot, sign_in
from tests.cast import Member, make_member

pytest.register_assert_rewrite("tests.planning_fixtures")
pytest_plugins = ["tests.planning_fixtures"]

from tests.planning_fixtures import beats_of, border_moves, contiguous  # noqa: E402

READY = "body[data-ready=yes]"


@pytest.fixture(scope="module")
def planning_url(planning_db: str) -> Iterator[str]:
    """The service as `geo-service serve` runs it, on the planning tests' database."""
    with tempfile.TemporaryFile() as log, served(planning_db, log) as url:
        yield url


@pytest.fixture(scope="module")
def planner(planning_db: str) -> Member:
    return make_member(planning_db, Role.planner)


@pytest.fixture(scope="module")
def leader(planning_db: str) -> Member:
    return make_member(planning_db, Role.leader)


def api(base: str, member: Member, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{base}{path}", headers=member.headers, timeout=60, **kw)


def membership(document: dict[str, Any]) -> dict[str, str]:
    return {g: b["code"] for b in document["beats"] for g in b["grids"]}


def click_grid(page: Page, sample_path_grids: Any, grid: str) -> None:
    """Click inside a grid as a person does: on a point inside it, on the map."""
    point = sample_path_grids.geometry[grid].representative_point()
    x, y = page.evaluate(
        """([lat, lon]) => {
            const p = window.planPage.map.latLngToContainerPoint([lat, lon]);
            const box = document.getElementById("map").getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
        [point.y, point.x],
    )
    page.mouse.click(x, y)


def table_grids(page: Page, beat: str) -> int:
    return int(page.inner_text(f"#beats tr[data-beat='{beat}'] td.grids"))


def test_a_planner_moves_a_grid_and_a_leader_publishes(
    browser: Browser,
    planning_url: str,
    planner: Member,
    leader: Member,
    grid_graph: nx.Graph,
    sample_plans: dict[str, dict[str, str]],
    reference: Any,
) -> None:
    grids = reference.grids.set_index("code")
    code = f"page-{uuid.uuid4().hex[:8]}"
    document = api(planning_url, planner, "GET", "/openapi.json").json()["paths"]
    has_workload = "/api/v1/plans/{code}/workload" in document
    has_balance = "/api/v1/plans/{code}/balance" in document

    # --- the planner: a new draft from the list page
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit(page, planning_url)
    sign_in(page, planning_url, planner, "/plans")
    assert "2026" in page.inner_text("#plans")
    page.fill("#new-draft input[name=code]", code)
    page.fill("#new-draft input[name=name]", "页面测试方案")
    with page.expect_navigation():
        page.click("#new-draft button[type=submit]")
    assert page.url.endswith(f"/plans/{code}/edit")
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_selector(".leaflet-overlay-pane path.grid")
    assert page.locator(".leaflet-overlay-pane path.grid").count() == len(grids)
    assert page.locator("#beats tbody tr").count() == len(beats_of(sample_plans["2026"]))
    assert (page.locator("#beats th", has_text="工作量指数").count() > 0) == has_workload
    assert page.is_visible("#rebalance") == (has_workload and has_balance)

    # --- move a border grid to a neighbouring beat by clicking it; the table follows
    grid, there = next(border_moves(grid_graph, sample_plans["2026"]))
    here = sample_plans["2026"][grid]
    before_here, before_there = table_grids(page, here), table_grids(page, there)
    page.click(f"#beat-picker button[data-beat='{there}']")
    click_grid(page, grids, grid)
    page.wait_for_function("() => document.getElementById('version').textContent === '2'")
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{there}'] td.grids\")"
        f".textContent === '{before_there + 1}'"
    )
    assert table_grids(page, here) == before_here - 1
    stored = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert membership(stored) == {**sample_plans["2026"], grid: there}

    # --- undo, redo
    page.click("#undo")
    page.wait_for_function("() => document.getElementById('version').textContent === '3'")
    stored = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert membership(stored) == sample_plans["2026"]
    page.click("#redo")
    page.wait_for_function("() => document.getElementById('version').textContent === '4'")
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{there}'] td.grids\")"
        f".textContent === '{before_there + 1}'"
    )

    # --- the diff against the plan in force names the grid
    page.click("#show-diff")
    page.wait_for_selector(f"#diff li.moved[data-grid='{grid}']")

    # --- rebalance: proposed moves on the map, then applied
    if has_workload and has_balance:
        page.fill("#rebalance-form input[name=tolerance]", "10")
        page.click("#rebalance-form button[type=submit]")
        page.wait_for_selector("#proposal:not([hidden])", timeout=120_000)
        proposed = page.evaluate("() => window.planPage.proposal.moves.length")
        shoot(page, "plan_edit_proposal")
        if proposed:
            page.click("#apply-proposal")
            page.wait_for_function("() => document.getElementById('version').textContent === '5'")
    assert not_blank(shoot(page, "plan_edit_zh"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()

    final = membership(api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json())
    assert all(contiguous(grid_graph, g) for g in beats_of(final).values())  # type: ignore[arg-type]

    # --- the leader publishes (English page)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit(page, planning_url)
    sign_in(page, planning_url, leader, f"/plans/{code}/edit?lang=en")
    page.wait_for_selector(READY, timeout=30_000)
    page.fill("#publish-form input[name=effective_from]", "2027-01-01T00:00")
    page.click("#check-publish")
    page.wait_for_selector("#publish-result p.ok")
    page.click("#publish")
    page.wait_for_selector("#publish-result p.message")
    page.wait_for_selector("#publish-section", state="detached", timeout=15_000)  # reloaded
    page.wait_for_selector(READY, timeout=30_000)
    assert "Read only" in page.inner_text(".plan-head")
    assert not_blank(shoot(page, "plan_edit_published_en"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
    stored = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert stored["status"] == "published"
    assert datetime.fromisoformat(stored["effective_from"]) == datetime.fromisoformat(
        "2027-01-01T00:00:00+08:00"
    )  # the page's local time is station time


def version_is(page: Page, version: int) -> None:
    page.wait_for_function(
        f"() => document.getElementById('version').textContent === '{version}'", timeout=30_000
    )


def row_text(page: Page, beat: str, column: str) -> str:
    return page.inner_text(f"#beats tr[data-beat='{beat}'] td.{column}").strip()


# the codes the service names the workload's parts and incident categories by
RAW_WEIGHT_CODES = {*PARTS, *CATEGORIES}
PLAN_WORDS = json.loads(
    (Path(__file__).parents[1] / "web_map" / "templates" / "plan_words.json").read_text("utf-8")
)


def weights_in_words(page: Page, lang: str) -> None:
    """Each weight's label is the word file's word for its part or category, in order."""
    weights = page.evaluate("() => window.planPage.weights")
    words = PLAN_WORDS[lang]
    expected = [words["weight_parts"][k] for k in weights["parts"]] + [
        words["categories"][k] for k in weights["categories"]
    ]
    labels = [t.strip() for t in page.locator("#weights label").all_inner_texts()]
    assert labels == expected, (labels, expected)
    if lang == "zh":
        assert not RAW_WEIGHT_CODES & set(labels), labels


def test_a_planner_adds_renames_staffs_and_removes_beats_on_the_page(
    browser: Browser,
    planning_url: str,
    planner: Member,
    grid_graph: nx.Graph,
    sample_plans: dict[str, dict[str, str]],
    reference: Any,
) -> None:
    grids = reference.grids.set_index("code")
    code = f"beats-{uuid.uuid4().hex[:8]}"
    made = api(planning_url, planner, "POST", "/api/v1/plans", json={"code": code, "name": "警格"})
    assert made.status_code == 201, made.text
    start = made.json()
    has_workload = (
        "/api/v1/plans/{code}/workload"
        in api(planning_url, planner, "GET", "/openapi.json").json()["paths"]
    )
    taken = {b["code"] for b in start["beats"]}
    new, spare = (f"N{uuid.uuid4().hex[:5].upper()}" for _ in range(2))
    assert not {new, spare} & taken

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit(page, planning_url)
    sign_in(page, planning_url, planner, f"/plans/{code}/edit")
    page.wait_for_selector(READY, timeout=30_000)
    assert page.is_hidden("#beat-edit")

    # --- add a beat: it is in the table, the picker (picked) and the stored plan, empty
    page.fill("#add-beat input[name=beat]", new)
    page.fill("#add-beat input[name=name]", "新设警格")
    page.click("#add-beat button[type=submit]")
    version_is(page, 2)
    page.wait_for_selector(f"#beats tr[data-beat='{new}']")
    assert row_text(page, new, "name") == "新设警格"
    assert page.get_attribute(f"#beat-picker button[data-beat='{new}']", "class") == "selected"
    stored = {
        b["code"]: b
        for b in api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()["beats"]
    }
    assert stored[new]["grids"] == [] and stored[new]["name"] == "新设警格"

    # --- rename it
    assert page.is_visible("#beat-edit")
    page.fill("#rename-beat input[name=name]", "河东警格")
    page.click("#rename-beat button[type=submit]")
    version_is(page, 3)
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{new}'] td.name\")"
        ".textContent === '河东警格'"
    )
    assert page.inner_text(f"#beat-picker button[data-beat='{new}']") == new

    # --- move a grid into it by clicking (one whose beat stays in one piece without it)
    grid, _ = next(border_moves(grid_graph, sample_plans["2026"]))
    click_grid(page, grids, grid)
    version_is(page, 4)
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{new}'] td.grids\")"
        ".textContent === '1'"
    )
    stored_plan = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert membership(stored_plan) == {**sample_plans["2026"], grid: new}

    # --- give it a community officer, from the people the API offers
    officers = api(planning_url, planner, "GET", f"/api/v1/plans/{code}/officers").json()
    offered = page.eval_on_selector_all(
        "#officer-beat select option", "os => os.map(o => o.value).filter(Boolean)"
    )
    assert offered == [o["code"] for o in officers]
    officer = officers[len(officers) // 2]
    page.select_option("#officer-beat select", officer["code"])
    page.click("#officer-beat button[type=submit]")
    version_is(page, 5)
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{new}'] td.officer\")"
        f".textContent === {officer['name']!r}"
    )
    stored = {
        b["code"]: b
        for b in api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()["beats"]
    }
    assert stored[new]["officer"]["code"] == officer["code"]
    assert stored[new]["name"] == "河东警格"
    shot = shoot(page, "plan_edit_beats_zh")
    assert not_blank(shot)
    if has_workload:
        weights_in_words(page, "zh")

    # --- undo and redo cover the officer (a beat edit) as they cover moves
    page.click("#undo")
    version_is(page, 6)
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{new}'] td.officer\")"
        ".textContent === ''"
    )
    stored = {
        b["code"]: b
        for b in api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()["beats"]
    }
    assert stored[new]["officer"] is None
    page.click("#redo")
    version_is(page, 7)
    page.wait_for_function(
        f"() => document.querySelector(\"#beats tr[data-beat='{new}'] td.officer\")"
        f".textContent === {officer['name']!r}"
    )

    # --- removing it while it has a grid: the service refuses, the page says so in words
    page.click("#remove-beat")
    page.wait_for_selector("#message.error")
    message = page.inner_text("#message")
    assert "仍有 1 个网格" in message and new in message, message
    assert not_blank(shoot(page, "plan_edit_beat_refused_zh"))
    assert page.inner_text("#version") == "7"
    assert page.locator(f"#beats tr[data-beat='{new}']").count() == 1
    stored_plan = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert stored_plan["version"] == 7 and new in {b["code"] for b in stored_plan["beats"]}

    # --- an empty beat goes
    page.fill("#add-beat input[name=beat]", spare)
    page.fill("#add-beat input[name=name]", "备用警格")
    page.click("#add-beat button[type=submit]")
    version_is(page, 8)
    page.wait_for_selector(f"#beats tr[data-beat='{spare}']")
    page.click("#remove-beat")
    version_is(page, 9)
    page.wait_for_selector(f"#beats tr[data-beat='{spare}']", state="detached")
    assert page.locator(f"#beat-picker button[data-beat='{spare}']").count() == 0
    stored_plan = api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()
    assert spare not in {b["code"] for b in stored_plan["beats"]}
    assert membership(stored_plan) == {**sample_plans["2026"], grid: new}

    # --- someone else changes the plan meanwhile: the page's next edit is refused as stale, the
    # page says what changed in words and reloads the plan
    other = start["beats"][0]["code"]
    meanwhile = api(
        planning_url,
        planner,
        "PATCH",
        f"/api/v1/plans/{code}/beats",
        json={"version": 9, "changes": [{"op": "rename", "beat": other, "name": "他人改名"}]},
    )
    assert meanwhile.status_code == 200, meanwhile.text
    page.click(f"#beat-picker button[data-beat='{new}']")
    page.fill("#rename-beat input[name=name]", "不会保存")
    page.click("#rename-beat button[type=submit]")
    version_is(page, 10)
    page.wait_for_selector("#message.warning")
    message = page.inner_text("#message")
    assert "方案已被他人修改" in message and "修改警格" in message, message
    page.wait_for_function(  # the table is drawn again after the plan is reloaded
        f"() => document.querySelector(\"#beats tr[data-beat='{other}'] td.name\")"
        ".textContent === '他人改名'"
    )
    assert row_text(page, new, "name") == "河东警格"
    assert api(planning_url, planner, "GET", f"/api/v1/plans/{code}").json()["version"] == 10
    # the refused removal's 409 is the one console line a refused request leaves
    assert not visit.outside, visit.outside
    assert not [e for e in visit.errors if "409" not in e], visit.errors
    page.close()

    # --- the same page in English: the beat, its officer, the weights in words
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit(page, planning_url)
    sign_in(page, planning_url, planner, f"/plans/{code}/edit?lang=en")
    page.wait_for_selector(READY, timeout=30_000)
    assert row_text(page, new, "officer") == officer["name"]
    assert row_text(page, new, "name") == "河东警格"
    page.click(f"#beat-picker button[data-beat='{new}']")
    assert "Remove this beat" in page.inner_text("#beat-tools")
    if has_workload:
        weights_in_words(page, "en")
    assert not_blank(shoot(page, "plan_edit_beats_en"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
