"""The phone page /me in headless Chromium at 360×740, every outside host unreachable: it shows
the user's areas, lists and map; once opened it opens again with no network (service worker);
an inspection with a photo recorded offline waits in the outbox (IndexedDB) across a reload and
is sent when the network returns, and lands once with its photo, even sent twice.
Screenshots in var/screenshots/me_*.png."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser

from geo_service.accounts.roles import Role
from tests.browser import not_blank, shoot, sign_in
from tests.fieldpage_fixtures import MeWorld, areas_expected
from tests.phone import (
    KEEP_A_COPY,
    PUT_THE_COPY_BACK,
    Phone,
    outbox_entries,
    photo_jpeg,
    sends,
)

pytest_plugins = ["tests.fieldpage_fixtures", "tests.phone"]


def _stored(world: MeWorld, client_id: str) -> list[tuple]:
    """The inspection stored under a client id, with its photos (one row per photo)."""
    with psycopg.connect(world.url) as conn:
        return conn.execute(
            """SELECT i.code, i.result, i.inspector, i.photos, p.media_type, p.width, p.height,
                      ST_X(i.position), ST_Y(i.position)
               FROM inspection i JOIN inspection_photo p ON p.inspection_id = i.id
               WHERE i.client_id = %s ORDER BY p.n""",
            (client_id,),
        ).fetchall()


def test_the_page_opens_again_offline_and_keeps_an_inspection_until_online(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    member = me_world.users[Role.grid_worker][1]
    _, grids = areas_expected(me_world, member)
    ref = me_world.reference.grids.set_index("code")
    inside = ref.geometry[sorted(grids)[0]].representative_point()
    phone = Phone(browser, me_url, inside.x, inside.y)
    page = phone.page
    sign_in(page, me_url, member, "/me")
    page.wait_for_selector("body[data-kept='1']", timeout=30_000)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    assert page.evaluate("document.body.dataset.loaded") == "fresh"
    # the areas, the lists with their counts and the map with the area drawn
    for code in grids:
        assert ref.name[code] in page.inner_text("#area-list")
    counts = {
        name: int(page.get_attribute(f"#list-{name} .badge", "data-count") or -1)
        for name in ("rentals_due", "markers_due", "markers_broken", "cameras_out")
    }
    body = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")
    assert counts == {name: body["lists"][name]["count"] for name in counts}
    assert page.locator("#me-map .leaflet-overlay-pane path").count() > 1
    assert not_blank(shoot(page, "me_online"))

    # no network: record an inspection of the first item with a photo
    phone.context.set_offline(True)
    item = page.locator("ul.items li button").first
    code = item.get_attribute("data-code")
    assert code
    item.click()
    page.wait_for_selector("dialog#form-dialog[open]")
    if code.startswith("RH"):
        page.check("#form-fields input[name=result][value=fail]")
        page.check("#form-fields input[name=item_wiring][value=problem]")
        page.fill("#form-fields input[name=fix_what]", "更换老化电线")
        page.fill("#form-fields input[name=fix_by]", "2026-12-31")
    else:
        page.check("#form-fields input[name=result][value=damaged]")
    page.fill("textarea[name=note]", "现场检查")
    photo = photo_jpeg()
    page.set_input_files(
        "input[name=photos]",
        files=[{"name": "bank.jpg", "mimeType": "image/jpeg", "buffer": photo}],
    )
    page.wait_for_function("document.querySelector('#form-position').textContent.includes('.')")
    page.click("#form-save")
    page.wait_for_selector("#outbox[data-count='1']")
    assert not_blank(shoot(page, "me_offline_recorded"))

    # reload with no network: the page, its lists and map come from what was kept
    page.reload()
    page.wait_for_selector("body[data-loaded='kept']", timeout=30_000)
    page.wait_for_selector("#outbox[data-count='1']")
    assert page.locator("ul.items li").count() > 0
    assert page.locator("#me-map .leaflet-overlay-pane path").count() > 1
    entries = outbox_entries(page)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["body"]["code"] == code and entry["photos"] == [len(photo)]
    assert entry["body"]["lon"] == pytest.approx(inside.x) and entry["body"][
        "lat"
    ] == pytest.approx(inside.y)
    assert not_blank(shoot(page, "me_offline_reloaded"))
    page.evaluate(KEEP_A_COPY)  # to send it again below, as after an answer lost on the way

    # the network returns: the outbox is sent and the inspection lands, once, with its photo
    phone.context.set_offline(False)
    page.wait_for_selector("#outbox[data-count='0']", state="attached", timeout=30_000)
    page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
    assert _stored(me_world, entry["id"]) == [
        (
            code,
            "fail" if code.startswith("RH") else "damaged",
            member.name,
            1,
            "image/jpeg",
            640,
            480,
            pytest.approx(inside.x),
            pytest.approx(inside.y),
        )
    ]
    if code.startswith("RH"):  # checked now: no longer due
        assert page.locator(f"#list-rentals_due li[data-code='{code}']").count() == 0
    assert not_blank(shoot(page, "me_online_sent"))
    # the same record sent again is stored once
    page.evaluate(PUT_THE_COPY_BACK)
    again = lambda: page.evaluate("window.dispatchEvent(new Event('online'))")  # noqa: E731
    assert sends(page, "/api/v1/inspections", again) == 200  # sent before: as stored
    assert len(_stored(me_world, entry["id"])) == 1

    phone.close()
    assert not phone.outside, phone.outside
    assert not phone.errors, phone.errors


def test_the_open_sweeps_and_my_reports_show_with_their_counts(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    """At 360×740, in Chinese: the open sweeps' targets and the user's own open reports are
    lists of their own, their counts and urgent counts those of /api/v1/me, each item with its
    sweep and end, or its status and department; a target opens the form of its kind, a report
    has no form."""
    members = me_world.users[Role.grid_worker] + me_world.users[Role.community_officer]
    answers = {}
    for member in members:
        reply = httpx.get(f"{me_url}/api/v1/me", headers=member.headers, timeout=30)
        assert reply.status_code == 200, reply.text[:300]
        answers[member.name] = reply.json()["lists"]
    member = max(members, key=lambda m: answers[m.name]["sweep_targets_open"]["count"])
    lists = answers[member.name]
    assert lists["sweep_targets_open"]["count"] > 0 and lists["reports_mine"]["count"] > 0
    _, grids = areas_expected(me_world, member)
    inside = me_world.reference.grids.set_index("code").geometry[sorted(grids)[0]]
    point = inside.representative_point()
    phone = Phone(browser, me_url, point.x, point.y)
    page = phone.page
    sign_in(page, me_url, member, "/me")
    page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
    for name, title in (("sweep_targets_open", "梳网清格待查"), ("reports_mine", "我的吹哨")):
        block = f"#list-{name}"
        assert title in page.inner_text(f"{block} summary")
        count = int(page.get_attribute(f"{block} .badge", "data-count") or -1)
        assert count == lists[name]["count"], name
        urgent = lists[name]["urgent"]
        badges = page.locator(f"{block} .badge.urgent")
        if urgent:
            assert badges.inner_text().endswith(f" {urgent}"), name
        else:
            assert badges.count() == 0
        page.click(f"{block} summary")
        rows = page.locator(f"{block} ul.items li")
        assert rows.count() == len(lists[name]["items"]) == min(count, 50)
        first = lists[name]["items"][0]
        text = rows.first.inner_text()
        if name == "sweep_targets_open":
            assert first["code"] in text and first["sweep_name"] in text
            assert rows.first.locator("button").count() == 1
        else:
            assert first["department_name"] in text
            assert rows.first.locator("button").count() == 0
    page.locator("#list-sweep_targets_open").scroll_into_view_if_needed()
    assert not_blank(shoot(page, "me_sweeps_reports"))
    # a target opens the inspection form of its kind
    target = lists["sweep_targets_open"]["items"][0]
    page.click("#list-sweep_targets_open ul.items li button >> nth=0")
    page.wait_for_selector("dialog#form-dialog[open]")
    assert target["code"] in page.inner_text("#form-subject")
    results = {
        "rental_house": "pass",
        "water_marker": "ok",
        "camera": "working",
    }
    assert page.locator(f"#form-fields input[name=result][value={results[target['kind']]}]").count()
    page.click("#form-cancel")
    phone.close()
    assert not phone.outside, phone.outside
    assert not phone.errors, phone.errors
