"""Pages as a person sees them: real headless Chromium, no outside host, no console error."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser import Visit, not_blank, shoot


def test_landing_page_answers_a_linked_point(browser: Browser, live_url: str, grids) -> None:
    point = grids.geometry.iloc[0].representative_point()
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    visit = Visit(page, live_url)
    page.goto(f"{live_url}/?lon={point.x:.7f}&lat={point.y:.7f}")
    page.wait_for_selector("#answer dl", timeout=15_000)
    text = page.inner_text("#answer")
    assert grids["code"].iloc[0] in text
    assert "社区民警" in text  # Chinese by default
    assert not_blank(shoot(page, "landing_zh"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()


def test_landing_page_in_english_reports_errors_plainly(browser: Browser, live_url: str) -> None:
    page = browser.new_page()
    visit = Visit(page, live_url)
    page.goto(f"{live_url}/?lang=en&lon=120.0&lat=29.5")
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
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/lookup" in p for p in paths)
    assert not_blank(shoot(page, "docs"))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
