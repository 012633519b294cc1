"""Browser-test harness: the served app, headless Chromium, a recorder that blocks outside hosts,
and signing in through the login form."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urlparse

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from geo_service.accounts.roles import Role
from geo_service.settings import REPO_ROOT
from tests.cast import CAST_PASSWORD, Member, make_member

SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serving(
    database_url: str,
    log: IO[bytes],
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`geo-service serve` (with --workers when more than one) on a free loopback port, in a
    process group of its own, its stderr (one JSON line per request) written to ``log``: its
    URL and process; stopped on leaving (its group killed when it does not stop)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(Path(sys.executable).parent / "geo-service"), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, *(["--workers", str(workers)] if workers > 1 else [])],
        env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            log.seek(0)
            pytest.fail(f"the service did not start: {log.read().decode()[-2000:]}")
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"the service stopped: {log.read().decode()[-2000:]}")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


@contextmanager
def served(database_url: str, log: IO[bytes]) -> Iterator[str]:
    """The service started as `geo-service serve` starts it (see serving): its URL."""
    with serving(database_url, log) as (url, _):
        yield url


@pytest.fixture(scope="module")
def live_url(database_url: str) -> Iterator[str]:
    """The served service's URL, for the page tests of a module (its log in a file: a pipe
    nobody reads would fill up and stop the server)."""
    with tempfile.TemporaryFile() as log, served(database_url, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; a missing one fails the test (make test installs it)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (scripts/ensure_browser.sh installs it)"
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def browser_user(database_url: str) -> Member:
    """The user the page tests sign in as: a leader (sees everything, phones in full), with
    the cast's password."""
    return make_member(database_url, Role.leader)


def sign_in(page: Page, base: str, user: Member, path: str = "/") -> Page:
    """Sign in through the login form as a person does (open /login, fill in the name and the
    password, submit) and land on ``path``; the page's context keeps the session cookie."""
    page.goto(f"{base}/login?{urlencode({'next': path})}")
    page.fill("input[name=name]", user.name)
    page.fill("input[name=password]", CAST_PASSWORD)
    with page.expect_navigation(wait_until="networkidle"):
        page.click("form.stacked button[type=submit]")
    landed = urlparse(page.url)
    want = urlparse(path)
    assert (landed.path, landed.query) == (want.path, want.query), page.url
    assert any(c["name"] == "geo_session" for c in page.context.cookies())
    return page


class Visit:
    """What a page did while it loaded: outside requests, console errors, failed requests."""

    def __init__(self, page: Page, base: str) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        host = urlparse(base).netloc

        def route(r):  # every other host is unreachable, as on a police intranet
            if urlparse(r.request.url).netloc == host or r.request.url.startswith("data:"):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))


def sign_in_page(page: Page, name: str, password: str, *, code: str = "") -> None:
    """Sign in on the login page the browser is at (the app sends it there), as a person does;
    the browser then goes on to where it was going."""
    page.wait_for_selector("form.stacked input[name=name]")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    if code:
        page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")


def shoot(page: Page, name: str) -> Image.Image:
    """Save a screenshot as a test artefact and return it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(full_page=True)
    (SCREENSHOTS / f"{name}.png").write_bytes(png)
    return Image.open(io.BytesIO(png)).convert("RGB")


def not_blank(image: Image.Image) -> bool:
    """More than a handful of colours: something was drawn."""
    return len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


@contextmanager
def map_visit(
    browser: Browser, base: str, path: str, *, user: Member, title: str, paths: int, name: str
) -> Iterator[Page]:
    """Sign in and open a map page; check its title and that Leaflet drew more than `paths`
    shapes; yield the page for more checks; then save a screenshot that must not be blank, and
    fail on any outside request or console error (the login page's included)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    visit = Visit(page, base)
    sign_in(page, base, user, path)
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=20_000)
    assert title in page.inner_text(".gs-title")
    assert page.locator(".leaflet-overlay-pane path").count() > paths
    yield page
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # let the fit-to-bounds zoom settle before the screenshot
    assert not_blank(shoot(page, name))
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
