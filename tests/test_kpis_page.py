"""The /kpis page in headless Chromium with every outside host unreachable: it renders with its
charts (inline SVG drawn by the service), the station's headline figures are the API's, a row
per village and beat, no request leaves the machine, no console error; in Chinese by default
and in English; a screenshot is kept (var/screenshots/kpis_*.png)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests import kpis_fixtures
from tests.accounts import bearer
from tests.browser import Visit, not_blank, served, shoot, sign_in
from tests.cast import Member, make_member
from tests.kpis_fixtures import Timelines

timelines = kpis_fixtures.timelines  # the session's fixture
CHARTS = ("on_scene", "medians", "repeats", "hours", "callbacks")


@pytest.fixture(scope="module")
def served_kpis(timelines: Timelines) -> Iterator[str]:
    """The service on the timelines' database."""
    with tempfile.TemporaryFile() as log, served(timelines.url, log) as url:
        yield url


@pytest.fixture(scope="module")
def leader(timelines: Timelines) -> Member:
    return make_member(timelines.url, Role.leader)


def _period(timelines: Timelines) -> dict[str, str]:
    end = timelines.incidents["received_at"].max().tz_convert("Asia/Shanghai").normalize()
    start = end - pd.Timedelta(days=30)
    return {"from": start.strftime("%Y-%m-%d"), "to": end.strftime("%Y-%m-%d")}


def _api(timelines: Timelines, leader: Member, params: dict[str, str]) -> dict:
    with TestClient(
        create_app(Settings(database_url=timelines.url)), headers=bearer(leader.token)
    ) as client:
        reply = client.get("/api/v1/kpis", params=params)
        assert reply.status_code == 200, reply.text
        body: dict = reply.json()
        return body


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_kpis_page_offline(
    browser: Browser, served_kpis: str, timelines: Timelines, leader: Member, lang: str
) -> None:
    """Charts drawn, the headline figures the API's, every village and beat in the tables."""
    params = _period(timelines)
    api = _api(timelines, leader, params)
    station = next(a for a in api["areas"] if a["level"] == "station")
    path = f"/kpis?from={params['from']}&to={params['to']}" + ("&lang=en" if lang == "en" else "")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit(page, served_kpis)
    sign_in(page, served_kpis, leader, path)
    page.wait_for_load_state("networkidle")
    title = "本所指标" if lang == "zh" else "The station's numbers"
    assert title in page.inner_text("main h2")
    for name in CHARTS:
        chart = page.locator(f"#chart-{name} svg")
        assert chart.count() == 1, name
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 200, (name, box)
        assert page.locator(f"#chart-{name} svg .series").count() >= 1, name
    # the hour chart's bars carry the API's counts, this period's series then the previous
    series = page.locator("#chart-hours svg .series")
    for k, period in enumerate(("current", "previous")):
        values = series.nth(k).locator("desc.value").all_text_contents()
        assert [int(v.replace(",", "")) for v in values] == station[period]["hours"]
    cards = {
        c.get_attribute("data-field"): c.inner_text().split("\n")[1]
        for c in page.locator(".card").all()
    }
    share = station["current"]["on_scene_share"]
    assert cards["on_scene_share"] == f"{share * 100:.1f}%"
    assert cards["incidents"] == f"{station['current']['incidents']:,}"
    assert cards["dispatch_median_min"] == f"{station['current']['dispatch_median_min']:.1f}"
    villages = [a for a in api["areas"] if a["level"] == "village"]
    beats = [a for a in api["areas"] if a["level"] == "beat"]
    assert page.locator("table.villages tbody tr").count() == len(villages)
    assert page.locator("table.beats tbody tr").count() == len(beats)
    csv = page.locator("p.csv a").get_attribute("href")
    assert csv and csv.startswith("/api/v1/kpis.csv?") and params["from"] in csv
    page.wait_for_timeout(300)
    assert not_blank(shoot(page, f"kpis_{lang}"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_charts_reach_no_other_host(timelines: Timelines, leader: Member) -> None:
    """The page's SVG carries no script and no link to anywhere (pygal's default tooltips
    script comes from a CDN: turned off)."""
    with TestClient(
        create_app(Settings(database_url=timelines.url)), headers=bearer(leader.token)
    ) as client:
        html = client.get("/kpis", params=_period(timelines)).text
    assert html.count("<svg") == len(CHARTS)
    assert "<script" not in html
    assert "kozea.github.io" not in html and "googleapis" not in html
    for attribute in ('href="http', "href='http", 'src="http', "url(http", "@import"):
        assert attribute not in html


def test_kpis_page_refuses_bad_period(timelines: Timelines, leader: Member) -> None:
    """A period written wrong: problem+json naming the parameter (the page's form sends dates)."""
    with TestClient(
        create_app(Settings(database_url=timelines.url)), headers=bearer(leader.token)
    ) as client:
        reply = client.get("/kpis", params={"from": "2026-05-01", "to": "2026-04-01"})
    assert reply.status_code == 422
    assert reply.json()["parameter"] == "from"
