"""The report form (网格吹哨) and the dusk patrol check-in form (傍晚巡河) of the phone page /me,
end to end in headless Chromium at 360×740 with every outside host unreachable: filled in by
clicking and typing, sent online, and recorded offline, kept across a reload, sent when the
network returns and stored exactly once with its photo. The stored rows are read back from the
tables; the page then shows the report in "my reports" with its status, and the water map the
water patrolled that evening. Screenshots in var/screenshots/forms_*.png."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
import shapely
from playwright.sync_api import Browser, Page

from geo_service.accounts.roles import Role
from tests.browser import not_blank, shoot, sign_in
from tests.cast import Member, areas_of
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
STATION = ZoneInfo("Asia/Shanghai")


def _rows(world: MeWorld, query: str, params: tuple) -> list[tuple]:
    with psycopg.connect(world.url) as conn:
        return conn.execute(query, params).fetchall()


def _open_me(phone: Phone, base: str, member: Member, path: str) -> Page:
    """Sign in and wait until the page is drawn, kept for use offline and under its worker."""
    page = phone.page
    sign_in(page, base, member, path)
    page.wait_for_selector("body[data-kept='1']", timeout=30_000)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    return page


def _attach(page: Page, photo: bytes, name: str) -> None:
    page.set_input_files(
        "#record-form input[name=photos]",
        files=[{"name": name, "mimeType": "image/jpeg", "buffer": photo}],
    )


def _buttons_fit(page: Page) -> None:
    """The form's buttons lie within the 360 px wide screen (reachable without scrolling
    sideways), and the form does not scroll sideways."""
    for selector in ("#form-save", "#form-cancel"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
    assert page.evaluate(
        "document.querySelector('#form-dialog').scrollWidth"
        " <= document.querySelector('#form-dialog').clientWidth"
    )


# ---------------------------------------------------------------------- reports (网格吹哨)


def _stored_report(world: MeWorld, client_id: str) -> list[tuple]:
    """The report stored under a client id, one row per photo, with its department (by the
    category's routing table) and its steps."""
    return _rows(
        world,
        """SELECT r.category, d.code, (d.id = c.department_id), r.status, r.note, r.reporter,
                  ST_X(r.geom), ST_Y(r.geom), g.code, r.photos, p.media_type, p.width,
                  p.height, length(p.bytes),
                  (SELECT array_agg(s.kind ORDER BY s.at, s.id) FROM report_step s
                   WHERE s.report_id = r.id), r.id
           FROM report r JOIN department d ON d.id = r.department_id
           JOIN report_category c ON c.code = r.category
           LEFT JOIN grid g ON g.id = r.grid_id
           JOIN report_photo p ON p.report_id = r.id
           WHERE r.client_id = %s ORDER BY p.n""",
        (client_id,),
    )


def _fill_report(page: Page, category: str, note: str, photo: bytes) -> None:
    """Open the report form from its button and fill it in as a person does."""
    page.click("#open-report")
    page.wait_for_selector("dialog#form-dialog[open]")
    page.select_option("#record-form select[name=category]", label=category)
    page.click("#record-form textarea[name=note]")
    page.keyboard.type(note)
    _attach(page, photo, "report.jpg")
    page.wait_for_function("document.querySelector('#form-position').textContent.includes('.')")


def _check_report(
    world: MeWorld,
    page: Page,
    client_id: str,
    *,
    category: str,
    note: str,
    member: Member,
    where: shapely.Point,
    grid: str,
    photo: bytes,
    shown: tuple[str, str, str],
) -> None:
    """The report is stored once with its photo, at the phone's position, in the grid there,
    routed to its category's department; "my reports" lists it as waiting to be accepted."""
    rows = _stored_report(world, client_id)
    assert len(rows) == 1, rows
    (got,) = rows
    assert got[:6] == (category, got[1], True, "open", note, member.name)
    assert got[6:8] == (pytest.approx(where.x), pytest.approx(where.y))
    assert got[8:14] == (grid, 1, "image/jpeg", 640, 480, pytest.approx(len(photo), rel=0.2))
    assert got[14] == ["route"]
    selector = f"#list-reports_mine li[data-code='{got[15]}']"
    page.wait_for_selector(selector, state="attached", timeout=30_000)  # the lists drawn again
    if not page.locator("#list-reports_mine[open]").count():
        page.click("#list-reports_mine summary")
    row = page.locator(selector)
    assert row.count() == 1 and row.is_visible()
    text = row.inner_text()
    department = _rows(
        world,
        "SELECT d.name, d.name_en FROM department d WHERE d.code = %s",
        (got[1],),
    )[0]
    label, status, lang = shown
    assert label in text and status in text, text
    assert department[0 if lang == "zh" else 1] in text, text


def test_a_grid_worker_blows_the_whistle_online_and_offline(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    """A grid worker reports a fire hazard from /me (in Chinese) with a photo: stored at once,
    listed under "my reports" as 待受理; then, in English and with no network, a water hazard:
    it waits in the outbox across a reload and lands once, photo and all, when the network
    returns (and once again when sent twice)."""
    member = me_world.users[Role.grid_worker][2]
    _, grids = areas_expected(me_world, member)
    grid = sorted(grids)[0]
    inside = me_world.reference.grids.set_index("code").geometry[grid].representative_point()
    phone = Phone(browser, me_url, inside.x, inside.y)
    page = _open_me(phone, me_url, member, "/me")
    assert page.inner_text("#open-report") == "网格吹哨"
    photo = photo_jpeg()

    # with no position the report has no place: the form says so and keeps nothing
    phone.context.clear_permissions()
    page.click("#open-report")
    page.wait_for_selector("dialog#form-dialog[open]")
    page.click("#record-form textarea[name=note]")
    page.keyboard.type("无定位")
    page.click("#form-save")
    assert "定位" in page.inner_text("#form-error")
    assert page.locator("dialog#form-dialog[open]").count() == 1
    assert outbox_entries(page) == []
    assert not_blank(shoot(page, "forms_report_no_position"))
    page.click("#form-cancel")
    phone.context.grant_permissions(["geolocation"])

    note = "楼道堆放杂物，堵塞消防通道"
    _fill_report(page, "消防隐患", note, photo)
    assert page.inner_text("#form-title") == "网格吹哨（上报问题）"
    _buttons_fit(page)
    assert not_blank(shoot(page, "forms_report_filled"))
    assert sends(page, "/api/v1/reports", lambda: page.click("#form-save")) == 201
    page.wait_for_selector("#updated[data-sent='1']", timeout=30_000)
    assert page.inner_text("#updated").startswith("已发送 1 · 更新于")
    (entry_id,) = [
        r[0]
        for r in _rows(
            me_world,
            "SELECT client_id::text FROM report WHERE note = %s",
            (note,),
        )
    ]
    _check_report(
        me_world,
        page,
        entry_id,
        category="fire_hazard",
        note=note,
        member=member,
        where=inside,
        grid=grid,
        photo=photo,
        shown=("消防隐患", "待受理", "zh"),
    )
    page.locator("#list-reports_mine").scroll_into_view_if_needed()
    assert not_blank(shoot(page, "forms_report_sent"))

    # in English, with no network
    page.goto(f"{me_url}/me?lang=en")
    page.wait_for_selector("body[data-kept='1']", timeout=30_000)
    assert page.inner_text("#open-report") == "Report a problem"
    phone.context.set_offline(True)
    note = "Broken railing by the pond"
    _fill_report(page, "Water hazard", note, photo)
    assert page.inner_text("#form-title") == "Report a problem (blow the whistle)"
    page.click("#form-save")
    page.wait_for_selector("#outbox[data-count='1']")
    assert not_blank(shoot(page, "forms_report_offline"))
    page.reload()
    page.wait_for_selector("body[data-loaded='kept']", timeout=30_000)
    page.wait_for_selector("#outbox[data-count='1']")
    (entry,) = outbox_entries(page)
    assert entry["type"] == "report" and entry["photos"] == [len(photo)]
    assert entry["body"]["note"] == note and entry["body"]["category"] == "water_hazard"
    assert _rows(me_world, "SELECT 1 FROM report WHERE note = %s", (note,)) == []
    page.evaluate(KEEP_A_COPY)
    assert sends(page, "/api/v1/reports", lambda: phone.context.set_offline(False)) == 201
    page.wait_for_selector("#updated[data-sent='1']", timeout=30_000)
    assert page.inner_text("#updated").startswith("Sent 1 · Updated")
    page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
    _check_report(
        me_world,
        page,
        entry["id"],
        category="water_hazard",
        note=note,
        member=member,
        where=inside,
        grid=grid,
        photo=photo,
        shown=("Water hazard", "waiting to be accepted", "en"),
    )
    page.locator("#list-reports_mine").scroll_into_view_if_needed()
    assert not_blank(shoot(page, "forms_report_offline_sent"))
    page.evaluate(PUT_THE_COPY_BACK)
    again = lambda: page.evaluate("window.dispatchEvent(new Event('online'))")  # noqa: E731
    assert sends(page, "/api/v1/reports", again) == 200  # sent before: as stored
    assert len(_stored_report(me_world, entry["id"])) == 1

    phone.close()
    assert not phone.outside, phone.outside
    assert not phone.errors, phone.errors


# ------------------------------------------------------------- dusk patrol check-ins (傍晚巡河)


def _villages(world: MeWorld, member: Member) -> shapely.Geometry:
    """The volunteer's villages in force, as one shape."""
    codes = areas_of(world.url, member.person or "", "village")
    return shapely.union_all(
        [
            shapely.from_wkb(g)
            for (g,) in _rows(
                world, "SELECT ST_AsBinary(geom) FROM village WHERE code = ANY (%s)", (codes,)
            )
        ]
    )


def _water_with_poles(world: MeWorld, member: Member) -> tuple[str, str, list[str], shapely.Point]:
    """A water body of the volunteer's villages with rescue poles in them (shapely on the
    tables' geometries): its code, name, the codes of its markers in the villages, and a pole's
    place (where the volunteer stands)."""
    villages = _villages(world, member)
    markers = _rows(
        world,
        """SELECT w.code, w.name, m.code, m.kind, ST_AsBinary(m.geom)
           FROM water_marker m JOIN water_body w ON w.id = m.water_body_id
           ORDER BY w.code, m.code""",
        (),
    )
    theirs: dict[tuple[str, str], list[tuple[str, str, shapely.Point]]] = {}
    for water, name, code, kind, geom in markers:
        point = shapely.from_wkb(geom)
        if villages.covers(point):
            theirs.setdefault((water, name), []).append((code, kind, point))
    (water, name), poles = next(
        (w, ms) for w, ms in sorted(theirs.items()) if any(k == "rescue_pole" for _, k, _ in ms)
    )
    pole = next(p for _, k, p in poles if k == "rescue_pole")
    return water, name, [c for c, _, _ in poles], pole


def _waters_of(world: MeWorld, member: Member) -> set[str]:
    """Codes of the water bodies touching the volunteer's villages (shapely)."""
    villages = _villages(world, member)
    return {
        code
        for code, geom in _rows(world, "SELECT code, ST_AsBinary(geom) FROM water_body", ())
        if villages.intersects(shapely.from_wkb(geom))
    }


def _evening(hours: float) -> datetime:
    """Yesterday evening, station time, ``hours`` after 16:00 (a moment of the past every day:
    the test does not hang on the hour it runs at)."""
    today = datetime.now(STATION).date()
    start = datetime.combine(today - timedelta(days=1), datetime.min.time(), STATION)
    return start + timedelta(hours=16 + hours)


def _fill_check_in(page: Page, water: str, pole: str, pole_result: str, photo: bytes) -> None:
    """Open the check-in form from its button, choose the water, say how a pole was found,
    attach a photo."""
    page.click("#open-checkin")
    page.wait_for_selector("dialog#form-dialog[open]")
    page.select_option("#record-form select[name=water_body]", value=water)
    page.wait_for_selector(f"#record-form select[name='pole_{pole}']")
    page.select_option(f"#record-form select[name='pole_{pole}']", label=pole_result)
    page.click("#record-form textarea[name=note]")
    page.keyboard.type("岸边正常")
    _attach(page, photo, "shore.jpg")
    page.wait_for_function("document.querySelector('#form-position').textContent.includes('.')")


def _stored_check_in(world: MeWorld, client_id: str) -> list[tuple]:
    """The check-in stored under a client id, one row per photo, with the poles recorded with
    it (their inspections, by check_in_id)."""
    return _rows(
        world,
        """SELECT i.kind, i.code, i.result, i.inspector, i.inspected_at, i.photos,
                  p.media_type, p.width, p.height, ST_X(i.position), ST_Y(i.position),
                  (SELECT array_agg(c.code || ':' || c.result ORDER BY c.code)
                   FROM inspection c WHERE c.check_in_id = i.id)
           FROM inspection i JOIN inspection_photo p ON p.inspection_id = i.id
           WHERE i.client_id = %s ORDER BY p.n""",
        (client_id,),
    )


PATROL_LAYER = """(code) => {
    const out = [];
    for (const name of Object.keys(window).filter((k) => k.startsWith("geo_json_")
                                                 && typeof window[k].eachLayer === "function")) {
        window[name].eachLayer((layer) => {
            const p = layer.feature && layer.feature.properties;
            if (p && p.code === code && "patrolled" in p) {
                out.push({patrolled: p.patrolled, check_ins: p.check_ins,
                          stroke: layer._path ? layer._path.getAttribute("stroke") : null});
            }
        });
    }
    return out;
}"""


def _water_map_shows(page: Page, base: str, water: str, at: datetime) -> list[dict]:
    """What the water map at ``at`` draws for the water's dusk patrol."""
    page.goto(f"{base}/maps/water?at={at.isoformat().replace('+', '%2B')}")
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=30_000)
    shown: list[dict] = page.evaluate(PATROL_LAYER, water)
    # at 360 px the title, the legend and the shore table lie side by side, none over another
    boxes = {s: page.locator(s).bounding_box() for s in (".gs-title", ".gs-legend", "#shore-table")}
    for name, box in boxes.items():
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (name, box)
    for a, b in itertools.combinations(boxes.values(), 2):
        assert a and b
        apart_x = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
        apart_y = a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
        assert apart_x or apart_y, boxes
    return shown


def _check_ins_between(world: MeWorld, water: str, start: datetime, end: datetime) -> int:
    return int(
        _rows(
            world,
            """SELECT count(*) FROM inspection WHERE kind = 'water_body' AND code = %s
               AND inspected_at >= %s AND inspected_at <= %s""",
            (water, start, end),
        )[0][0]
    )


def test_a_volunteer_checks_in_at_dusk_online_and_offline(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    """A volunteer checks in at a water of their villages with a pole found damaged and a
    photo: stored with the pole's inspection, and the water map shows the water patrolled that
    evening; a second check-in made with no network waits across a reload and lands once."""
    member = me_world.users[Role.volunteer][0]
    water, name, markers, pole_at = _water_with_poles(me_world, member)
    pole = next(
        c
        for (c,) in _rows(
            me_world,
            "SELECT code FROM water_marker WHERE code = ANY (%s) AND kind = 'rescue_pole' "
            "ORDER BY code",
            (markers,),
        )
    )
    phone = Phone(browser, me_url, pole_at.x, pole_at.y)
    first = _evening(3)  # 19:00 station time, yesterday
    phone.context.clock.set_fixed_time(first)
    page = _open_me(phone, me_url, member, "/me")
    assert page.inner_text("#open-checkin") == "傍晚巡河签到"
    photo = photo_jpeg()
    _fill_check_in(page, water, pole, "损坏", photo)
    assert page.inner_text("#form-title") == "傍晚巡河签到"
    assert name in page.inner_text("#record-form select[name=water_body]")
    # every marker of the water in the volunteer's villages is offered, and only those
    offered = page.eval_on_selector_all(
        "#record-form select[name^=pole_]", "(s) => s.map((x) => x.name.slice(5))"
    )
    assert sorted(offered) == sorted(markers)
    # only waters the volunteer may check in at (in their villages) are offered
    waters = page.eval_on_selector_all(
        "#record-form select[name=water_body] option", "(o) => o.map((x) => x.value)"
    )
    assert water in waters and set(waters) <= _waters_of(me_world, member), waters
    _buttons_fit(page)
    assert not_blank(shoot(page, "forms_checkin_filled"))
    assert sends(page, "/api/v1/inspections", lambda: page.click("#form-save")) == 201
    page.wait_for_selector("#updated[data-sent='1']", timeout=30_000)
    assert page.inner_text("#updated").startswith("已发送 1")
    (client_id,) = [
        r[0]
        for r in _rows(
            me_world,
            "SELECT client_id::text FROM inspection WHERE kind = 'water_body' AND code = %s "
            "AND inspector = %s AND inspected_at = %s",
            (water, member.name, first),
        )
    ]
    assert _stored_check_in(me_world, client_id) == [
        (
            "water_body",
            water,
            "patrolled",
            member.name,
            first,
            1,
            "image/jpeg",
            640,
            480,
            pytest.approx(pole_at.x),
            pytest.approx(pole_at.y),
            [f"{pole}:damaged"],
        )
    ]
    evening_from = _evening(0)
    shown = _water_map_shows(page, me_url, water, first + timedelta(minutes=10))
    walked = _check_ins_between(me_world, water, evening_from, first + timedelta(minutes=10))
    assert shown == [{"patrolled": True, "check_ins": walked, "stroke": "#1565c0"}]
    assert not_blank(shoot(page, "forms_checkin_water_map"))

    # twenty minutes on, with no network, in English
    later = _evening(3.5)
    phone.context.clock.set_fixed_time(later)
    page.goto(f"{me_url}/me?lang=en")
    page.wait_for_selector("body[data-kept='1']", timeout=30_000)
    phone.context.set_offline(True)
    _fill_check_in(page, water, pole, "OK", photo)
    assert page.inner_text("#form-title") == "Dusk shore check-in"
    page.click("#form-save")
    page.wait_for_selector("#outbox[data-count='1']")
    page.reload()
    page.wait_for_selector("body[data-loaded='kept']", timeout=30_000)
    page.wait_for_selector("#outbox[data-count='1']")
    (entry,) = outbox_entries(page)
    assert entry["type"] == "inspection" and entry["photos"] == [len(photo)]
    assert entry["body"]["kind"] == "water_body" and entry["body"]["code"] == water
    assert entry["body"]["poles"] == [{"code": pole, "result": "ok"}]
    assert not_blank(shoot(page, "forms_checkin_offline"))
    page.evaluate(KEEP_A_COPY)
    assert sends(page, "/api/v1/inspections", lambda: phone.context.set_offline(False)) == 201
    page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
    stored = _stored_check_in(me_world, entry["id"])
    assert [row[:6] + row[11:] for row in stored] == [
        ("water_body", water, "patrolled", member.name, later, 1, [f"{pole}:ok"])
    ]
    page.evaluate(PUT_THE_COPY_BACK)
    again = lambda: page.evaluate("window.dispatchEvent(new Event('online'))")  # noqa: E731
    assert sends(page, "/api/v1/inspections", again) == 200  # sent before: as stored
    assert len(_stored_check_in(me_world, entry["id"])) == 1
    shown = _water_map_shows(page, me_url, water, later + timedelta(minutes=10))
    assert shown == [{"patrolled": True, "check_ins": walked + 1, "stroke": "#1565c0"}]

    phone.close()
    assert not phone.outside, phone.outside
    assert not phone.errors, phone.errors
