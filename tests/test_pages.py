"""Pages as a person sees them: real headless Chromium, no outside host, no console error."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from tests.browser import Visit, not_blank, shoot, sign_in
from tests.cast import Member

AT = "2026-08-01T08:00"
# Every map page with every parameter it takes (repeated ones included), valid on the sample.
MAP_QUERIES: dict[str, list[tuple[str, str]]] = {
    "/maps/overview": [("at", AT)],
    "/maps/heatmap": [
        ("start", "2026-08-01"),
        ("end", "2026-10-01"),
        ("days", "30"),
        ("categories", "theft"),
        ("categories", "fraud"),
        ("beat", "B05"),
        ("hours", "8-17"),
        ("weekdays", "1-5"),
    ],
    "/maps/hexagons": [
        ("start", "2026-08-01"),
        ("end", "2026-10-01"),
        ("village", "330681109002"),
        ("resolution", "9"),
    ],
    "/maps/animation": [("start", "2026-08-01"), ("end", "2026-10-01"), ("by", "weekday")],
    "/maps/patrol": [
        ("from", "2026-09-01"),
        ("to", "2026-10-01"),
        ("plan", "2026"),
        ("beat", "B05"),
    ],
    "/maps/cameras": [("beat", "B05"), ("at", AT), ("plan", "2026")],
    "/maps/water": [("distance_m", "200"), ("at", AT), ("due_days", "60")],
}
OTHER_LANG = re.compile(r'<a class="gs-other-lang" href="([^"]+)">([^<]+)</a>')


def test_every_map_page_is_listed(client: TestClient) -> None:
    """MAP_QUERIES names every HTML page under /maps/ (the tile route is not a page)."""
    paths = client.get("/openapi.json").json()["paths"]
    pages = {p for p in paths if p.startswith("/maps/") and "{" not in p}
    assert pages == set(MAP_QUERIES)
    assert len(pages) == 7


@pytest.mark.parametrize("path", sorted(MAP_QUERIES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_language_link_keeps_every_query_parameter(
    client: TestClient, path: str, lang: str
) -> None:
    query = MAP_QUERIES[path]
    r = client.get(path, params=[*query, ("lang", lang)])
    assert r.status_code == 200, r.text
    links = OTHER_LANG.findall(r.text)
    assert len(links) == 1, links
    href, text = links[0]
    target = urlsplit(html.unescape(href))
    assert target.path == path
    want = [*query, ("lang", "en")] if lang == "zh" else query  # zh is the default
    assert sorted(parse_qsl(target.query, keep_blank_values=True)) == sorted(want)
    assert text == ("English" if lang == "zh" else "中文")
    # and the link leads to the same page in the other language, with the same answer
    other = client.get(f"{target.path}?{target.query}")
    assert other.status_code == 200
    assert f'document.documentElement.lang="{"en" if lang == "zh" else "zh"}"' in other.text


def test_landing_page_answers_a_linked_point(
    browser: Browser, live_url: str, browser_user: Member, grids
) -> None:
    point = grids.geometry.iloc[0].representative_point()
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    visit = Visit(page, live_url)
    sign_in(page, live_url, browser_user, f"/?lon={point.x:.7f}&lat={point.y:.7f}")
    page.wait_for_selector("#answer dl", timeout=15_000)
    text = page.inner_text("#answer")
    assert grids["code"].iloc[0] in text
    assert "社区民警" in text  # Chinese by default
    assert not_blank(shoot(page, "landing_zh"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_landing_page_in_english_reports_errors_plainly(
    browser: Browser, live_url: str, browser_user: Member
) -> None:
    page = browser.new_page()
    visit = Visit(page, live_url)
    sign_in(page, live_url, browser_user, "/?lang=en&lon=120.0&lat=29.5")
    page.wait_for_selector("#answer .error", timeout=15_000)
    assert "outside the station's jurisdiction" in page.inner_text("#answer")
    assert "Who covers this point?" in page.inner_text("h2")
    shoot(page, "landing_en_outside")
    assert not visit.outside, visit.outside
    # the 404 of the lookup shows in the console as a failed resource; nothing else may
    assert all("404" in e for e in visit.errors), visit.errors
    page.close()


def test_openapi_docs_render_without_a_cdn(browser: Browser, live_url: str) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    visit = Visit(page, live_url)
    page.goto(f"{live_url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=60_000)  # a large document
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/lookup" in p for p in paths)
    assert not_blank(shoot(page, "docs"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
