"""The phone in the /me page tests: a 360×740 browser context with every outside host
unreachable, the served app on the page's database, a photo taken on the spot, and the
outbox (IndexedDB) read, copied and put back from inside the page."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser import served
from tests.fieldpage_fixtures import MeWorld

PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def me_url(me_world: MeWorld) -> Iterator[str]:
    """The service as `geo-service serve` runs it, on the page's database."""
    with tempfile.TemporaryFile() as log, served(me_world.url, log) as url:
        yield url


class Phone:
    """A phone-sized browser context whose requests to any other host fail, recording console
    errors and failed requests of its pages (service worker included)."""

    def __init__(self, browser: Browser, base: str, lon: float, lat: float) -> None:
        self.base = base
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(
            viewport=PHONE,
            device_scale_factor=1,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            permissions=["geolocation"],
            geolocation={"longitude": lon, "latitude": lat, "accuracy": 12},
        )
        host = urlparse(base).netloc

        def route(r):  # a police intranet: nothing but the app answers
            if urlparse(r.request.url).netloc == host:
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page: Page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        self.context.close()


def photo_jpeg() -> bytes:
    """A JPEG of a few colours (a photo taken on the bank)."""
    image = Image.new("RGB", (640, 480), "#6b8f71")
    for i in range(0, 640, 40):
        image.paste("#c9a45a", (i, 300, i + 20, 480))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def outbox_entries(page: Page) -> list[dict]:
    """The outbox entries in IndexedDB, with their photos' sizes (read in the page)."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const req = indexedDB.open("geo-me", 1);
            req.onsuccess = () => {
                const all = req.result.transaction("outbox").objectStore("outbox").getAll();
                all.onsuccess = () => resolve(all.result.map((e) => ({
                    id: e.id, type: e.type, body: e.body,
                    photos: (e.photos || []).map((p) => p.blob.size)})));
                all.onerror = () => reject(all.error);
            };
            req.onerror = () => reject(req.error);
        })"""
    )


KEEP_A_COPY = """() => new Promise((resolve, reject) => {
    const req = indexedDB.open("geo-me", 1);
    req.onsuccess = () => {
        const all = req.result.transaction("outbox").objectStore("outbox").getAll();
        all.onsuccess = () => { window.sentCopy = all.result[0]; resolve(); };
        all.onerror = () => reject(all.error);
    };
})"""
PUT_THE_COPY_BACK = """() => new Promise((resolve, reject) => {
    const req = indexedDB.open("geo-me", 1);
    req.onsuccess = () => {
        const tx = req.result.transaction("outbox", "readwrite");
        tx.objectStore("outbox").put(window.sentCopy);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
    };
})"""


def sends(page: Page, path: str, action: Callable[[], object]) -> int:
    """Do ``action`` and wait until the page has posted to ``path`` and the outbox is empty:
    the answer's status."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(path), timeout=30_000
    ) as answer:
        action()
    page.wait_for_selector("#outbox[data-count='0']", state="attached", timeout=30_000)
    return answer.value.status
