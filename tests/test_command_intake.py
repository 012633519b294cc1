"""The command room's call-intake form (110接警) in Chromium: a call typed into /command is
stored as typed; a non-police call goes to the response team unless the call-taker unticks
"divert", and the tick is offered for non-police calls only; each call starts on an empty
form."""

from __future__ import annotations

import random

import geopandas as gpd
import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import Visit, not_blank, shoot, sign_in
from tests.cast import Member
from tests.live_fixtures import random_point_in

pytest_plugins = ("tests.live_fixtures",)


def type_call(page: Page, grids: gpd.GeoDataFrame, rng: random.Random, category: str) -> str:
    """Type a call at a random point of a random grid into the intake form (its call number
    as the form made it); the category chosen, nothing sent yet."""
    at = random_point_in(grids.geometry.iloc[rng.randrange(len(grids))], rng)
    page.fill("#intake [name=lon]", f"{at.x:.6f}")
    page.fill("#intake [name=lat]", f"{at.y:.6f}")
    page.select_option("#intake [name=category]", category)
    page.fill("#intake [name=address]", f"地址 {rng.randrange(1000)}")
    return page.input_value("#intake [name=call_no]")


def send(page: Page, call_no: str) -> None:
    """Submit the form and wait for its answer naming the call."""
    page.click("#intake button[type=submit]")
    page.wait_for_function(
        "(c) => document.getElementById('intake-answer').textContent.includes(c)",
        arg=call_no,
        timeout=20_000,
    )
    answer = page.locator("#intake-answer")
    assert "error" not in (answer.get_attribute("class") or ""), answer.inner_text()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_intake_form_diverts_a_non_police_call_unless_kept(
    browser: Browser,
    live_service: str,
    leader: Member,
    sample_grids: gpd.GeoDataFrame,
    lang: str,
) -> None:
    rng = random.Random(f"intake-{lang}")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    visit = Visit(page, live_service)
    sign_in(page, live_service, leader, "/command" + ("?lang=en" if lang == "en" else ""))
    page.wait_for_selector("#stream-state.ok", timeout=20_000)
    api = httpx.Client(base_url=live_service, headers=leader.headers, timeout=30)
    words = "Divert to the response team" if lang == "en" else "分流至民情110"

    stored = {}
    for category, keep in (("non_police", True), ("non_police", False), ("theft", None)):
        call_no = type_call(page, sample_grids, rng, category)
        if keep is None:
            assert page.is_hidden("#divert-row")  # a police call is not offered the tick
        else:
            assert page.is_visible("#divert-row") and words in page.inner_text("#divert-row")
            assert page.is_checked("#intake [name=divert]")  # diverted unless kept
            if keep:
                page.uncheck("#intake [name=divert]")
                assert not_blank(shoot(page, f"command_intake_{lang}"))
        send(page, call_no)
        assert page.input_value("#intake [name=address]") == ""  # the next call starts empty
        page.wait_for_selector(f'#incident-list li[data-call="{call_no}"]', timeout=20_000)
        stored[(category, keep)] = api.get(f"/api/v1/incidents/{call_no}").json()

    kept = stored[("non_police", True)]
    assert kept["status"] == "received" and kept["timeline"] == []
    assert kept["address"].startswith("地址 ")
    diverted = stored[("non_police", False)]
    assert diverted["status"] == "diverted" and diverted["diversion_due_at"] is not None
    assert [s["kind"] for s in diverted["timeline"]] == ["divert"]
    assert stored[("theft", None)]["status"] == "received"
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
