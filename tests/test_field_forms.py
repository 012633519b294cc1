"""The report form (网格吹哨) and the dusk patrol check-in form (傍晚巡河) of the phone page /me,
end to end in headless Chromium at 360×740 with every outside host unreachable: filled in by
clicking and typing, sent online, and recorded offline, kept across a reload, sent when the
network returns and stored exactly once with its photo. The stored rows are read back from the
tables; the page then shows the report in "my reports" with its status, and the water map the
water patrolled that evening. Screenshots in var/screenshots/forms_*.png."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pandas as pd
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
    assert page.is_hidden("#form-pick")  # a check-in is where the phone is
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
    # the volunteer's own map, as of ten minutes later: the water patrolled this evening
    after = first + timedelta(minutes=10)
    mine = _me_map_shows(page, me_url, water, after)
    expected = _patrol_expected(me_world, [water], after)[water]
    assert expected[:2] == (True, mine["check_ins"]) and mine["patrolled"] is True
    assert mine["stroke"] == "#1565c0" and water in mine["legend"]["walked"]
    page.locator("#map-section").scroll_into_view_if_needed()
    assert not_blank(shoot(page, "forms_checkin_me_map"))
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


# ----------------------------------------------- the dusk patrols on the /me map (傍晚巡河)


def _patrol_expected(
    world: MeWorld, codes: list[str], at: datetime
) -> dict[str, tuple[bool, int, bool]]:
    """Per water code, recomputed with pandas from the check-ins and the patrol marks as the
    operator reads them: (patrolled this evening, its check-ins, marked for patrol at ``at``).
    This evening: from 16:00 station time of the day of ``at`` until ``at``."""
    local = at.astimezone(STATION)
    start = datetime.combine(local.date(), datetime.min.time(), STATION) + timedelta(hours=16)
    check_ins = pd.DataFrame(
        _rows(
            world,
            "SELECT code, inspected_at FROM inspection WHERE kind = 'water_body' "
            "AND code = ANY (%s)",
            (codes,),
        ),
        columns=["code", "at"],
    )
    marks = pd.DataFrame(
        _rows(
            world,
            """SELECT w.code, p.marked_at, p.unmarked_at FROM patrol_water p
               JOIN water_body w ON w.id = p.water_body_id WHERE w.code = ANY (%s)""",
            (codes,),
        ),
        columns=["code", "marked_at", "unmarked_at"],
    )
    check_ins["at"] = pd.to_datetime(check_ins["at"], utc=True)
    for column in ("marked_at", "unmarked_at"):
        marks[column] = pd.to_datetime(marks[column], utc=True)
    evening = check_ins[(check_ins["at"] >= start) & (check_ins["at"] <= at)]
    counts = evening.groupby("code").size()
    held = marks[
        (marks["marked_at"] <= at) & (marks["unmarked_at"].isna() | (marks["unmarked_at"] > at))
    ]
    marked = set(held["code"])
    return {
        code: (int(counts.get(code, 0)) > 0, int(counts.get(code, 0)), code in marked)
        for code in codes
    }


def test_the_me_map_says_which_waters_were_patrolled_this_evening(
    me_url: str, me_world: MeWorld
) -> None:
    """For several users and random moments around the sample's evening check-ins (and
    afternoons before the evening starts), every water of /api/v1/me/map carries patrolled,
    check_ins and marked as recomputed from the check-ins and the patrol marks."""
    rng = np.random.default_rng(1414)
    walks = [
        r[0]
        for r in _rows(
            me_world,
            "SELECT inspected_at FROM inspection WHERE kind = 'water_body' ORDER BY 1",
            (),
        )
    ]
    assert walks, "the sample has dusk patrol check-ins"
    members = me_world.users[Role.volunteer] + me_world.users[Role.grid_worker][:2]
    seen = {"walked": 0, "not_yet": 0, "other": 0}
    for member in members:
        for _ in range(4):
            walk = walks[int(rng.integers(0, len(walks)))].astimezone(STATION)
            if rng.random() < 0.25:  # that day's afternoon: the evening has not begun
                at = datetime.combine(walk.date(), datetime.min.time(), STATION) + timedelta(
                    hours=float(rng.uniform(9, 15.9))
                )
            else:
                at = walk + timedelta(minutes=float(rng.uniform(0, 150)))
            reply = httpx.get(
                f"{me_url}/api/v1/me/map",
                params={"at": at.isoformat()},
                headers=member.headers,
                timeout=60,
            )
            assert reply.status_code == 200, reply.text[:300]
            waters = {
                f["properties"]["code"]: f["properties"]
                for f in reply.json()["features"]
                if f["properties"]["layer"] == "basemap_water"
            }
            expected = _patrol_expected(me_world, sorted(waters), at)
            got = {
                code: (p["patrolled"], p["check_ins"], p["marked"]) for code, p in waters.items()
            }
            assert got == expected, (member.name, at)
            for walked, _, marked in got.values():
                seen["walked" if walked else "not_yet" if marked else "other"] += 1
    assert all(seen.values()), seen  # each case met: walked, marked not yet, neither


ME_MAP_WATER = """(code) => {
    const out = [];
    window.meMap.eachLayer((layer) => {
        const p = layer.feature && layer.feature.properties;
        if (p && p.layer === "basemap_water" && p.code === code) {
            out.push({patrolled: p.patrolled, check_ins: p.check_ins, marked: p.marked,
                      stroke: layer._path ? layer._path.getAttribute("stroke") : null});
        }
    });
    return out;
}"""


def _me_map_shows(page: Page, base: str, water: str, at: datetime) -> dict:
    """What /me?at= draws for a water on its map, and the waters its legend lists as walked
    this evening and as marked but not yet walked."""
    moment = at.isoformat().replace("+", "%2B")
    page.goto(f"{base}/me?at={moment}")
    page.wait_for_selector("body[data-loaded='fresh']", timeout=30_000)
    page.wait_for_selector("#map-legend li[data-patrol]", state="attached")
    (drawn,) = page.evaluate(ME_MAP_WATER, water)
    legend = {
        patrol: set(
            (
                page.get_attribute(f"#map-legend li[data-patrol={patrol}]", "data-waters") or ""
            ).split()
        )
        for patrol in ("walked", "not_yet")
    }
    # the legend lists the waters as the answer of /api/v1/me/map has them
    answer = page.evaluate("(a) => fetch(a).then((r) => r.json())", f"/api/v1/me/map?at={moment}")
    waters = [f["properties"] for f in answer["features"]]
    waters = [p for p in waters if p["layer"] == "basemap_water"]
    assert legend == {
        "walked": {p["code"] for p in waters if p["patrolled"]},
        "not_yet": {p["code"] for p in waters if p["marked"] and not p["patrolled"]},
    }
    return {**drawn, "legend": legend}


# ----------------------------------------------------- a report's place picked on the map


def _screen_point(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Where a place is on the screen, by the /me map's own projection."""
    x, y = page.evaluate(
        "([lon, lat]) => { const p = window.meMap.latLngToContainerPoint("
        "[lat, lon]); return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator("#me-map").bounding_box()
    assert box
    return box["x"] + x, box["y"] + y


def _metres_a_pixel(page: Page, lat: float) -> float:
    """The size of a pixel of the /me map at its zoom (Web Mercator), in metres."""
    zoom = page.evaluate("window.meMap.getZoom()")
    return 40_075_016.686 * math.cos(math.radians(lat)) / 2 ** (zoom + 8)


def _metres(a: tuple[float, float], b: shapely.Point) -> float:
    """Distance in metres between two nearby lon/lat points (local flat approximation)."""
    dx = (a[0] - b.x) * 111_320 * math.cos(math.radians(b.y))
    dy = (a[1] - b.y) * 110_540
    return math.hypot(dx, dy)


def _pick(page: Page, lon: float, lat: float) -> None:
    """Tap the /me map at a place while picking (a click: Leaflet 1.9 takes no click from
    Chromium's emulated touch, though a phone's tap is a click to it)."""
    x, y = _screen_point(page, lon, lat)
    page.mouse.click(x, y)


def _outside_place(page: Page, areas: shapely.Geometry) -> tuple[float, float]:
    """A place shown on the /me map at least 30 m outside the user's areas (shapely), away
    from the zoom buttons in its top left corner."""
    box = page.locator("#me-map").bounding_box()
    assert box
    for fx, fy in itertools.product((0.3, 0.5, 0.7, 0.9), (0.1, 0.3, 0.5, 0.7, 0.9)):
        lon, lat = page.evaluate(
            "([x, y]) => { const p = window.meMap.containerPointToLatLng([x, y]);"
            " return [p.lng, p.lat]; }",
            [box["width"] * fx, box["height"] * fy],
        )
        if areas.distance(shapely.Point(lon, lat)) > 0.0003:
            return lon, lat
    raise AssertionError("the map shows no place outside the areas")


def test_a_report_placed_on_the_map_lands_there(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    """A grid worker of two grids, standing in one, reports a hazard they see in the other by
    tapping it on the /me map: a tap outside their grids is not taken (said in the page's
    language), the tapped place is; the report lands at the tapped place (within a pixel), in
    that grid, not at the phone's position. With no network (in English) the report waits in
    the outbox with the picked place and lands there; one placed outside the grids is refused
    by the server and the outbox says so in the page's language."""
    member = me_world.two_grid_worker
    _, grids = areas_expected(me_world, member)
    ref = me_world.reference.grids.set_index("code").geometry
    stand, seen = sorted(grids)[:2]
    areas = shapely.union_all([ref[g] for g in grids])
    phone_at = ref[stand].representative_point()
    inner = ref[seen].buffer(-0.0004)
    target = (inner if not inner.is_empty else ref[seen]).representative_point()
    phone = Phone(browser, me_url, phone_at.x, phone_at.y)
    page = _open_me(phone, me_url, member, "/me")
    photo = photo_jpeg()

    assert page.is_hidden("#pick-bar")
    note = "对岸堤坝有裂缝"
    _fill_report(page, "水域隐患", note, photo)
    assert page.is_visible("#form-pick") and page.is_hidden("#form-phone-place")
    assert "已定位" in page.inner_text("#form-position")  # the phone's position by default
    page.click("#form-pick")
    page.wait_for_selector("#pick-bar:not([hidden])")
    assert page.locator("dialog#form-dialog[open]").count() == 0
    outside = _outside_place(page, areas)
    _pick(page, *outside)
    page.wait_for_selector("#pick-text[data-inside='false']")
    assert page.inner_text("#pick-text") == "此处不在您的区域内，请在您的区域内选点"
    assert page.is_disabled("#pick-use")
    _pick(page, target.x, target.y)
    page.wait_for_selector("#pick-use:not([disabled])")
    assert page.inner_text("#pick-text").startswith("已选 ")
    assert not_blank(shoot(page, "forms_report_pick"))
    page.click("#pick-use")
    page.wait_for_selector("dialog#form-dialog[open]")
    assert page.is_hidden("#pick-bar") and page.is_visible("#form-phone-place")
    assert page.inner_text("#form-position").startswith("地点: 地图选点 ")
    # what was filled in before picking is still there
    assert page.input_value("#record-form textarea[name=note]") == note
    _buttons_fit(page)
    assert not_blank(shoot(page, "forms_report_picked"))
    assert sends(page, "/api/v1/reports", lambda: page.click("#form-save")) == 201
    ((client_id,),) = _rows(me_world, "SELECT client_id::text FROM report WHERE note = %s", (note,))
    (got,) = _stored_report(me_world, client_id)
    place = (got[6], got[7])
    assert got[0] == "water_hazard" and got[8] == seen  # in the grid tapped, by grid_at
    assert ref[seen].covers(shapely.Point(place))
    assert _metres(place, target) <= 1.5 * _metres_a_pixel(page, target.y)
    assert _metres(place, phone_at) > 50  # not where the phone is

    # with no network, in English: queued with the place picked, sent when the network returns
    page.goto(f"{me_url}/me?lang=en")
    page.wait_for_selector("body[data-kept='1']", timeout=30_000)
    phone.context.set_offline(True)
    note = "Fallen tree across the lane"
    _fill_report(page, "Road hazard", note, photo)
    page.click("#form-pick")
    page.wait_for_selector("#pick-bar:not([hidden])")
    _pick(page, target.x, target.y)
    # the report made above is drawn there: a tap on it picks its place too
    page.wait_for_selector("#pick-use:not([disabled])")
    page.wait_for_selector(".leaflet-popup", state="detached")  # not opened, or closed again
    page.click("#pick-use")
    page.wait_for_selector("dialog#form-dialog[open]")
    assert page.inner_text("#form-position").startswith("Place: picked on the map ")
    page.click("#form-save")
    page.wait_for_selector("#outbox[data-count='1']")
    page.reload()
    page.wait_for_selector("body[data-loaded='kept']", timeout=30_000)
    (entry,) = outbox_entries(page)
    queued = (entry["body"]["lon"], entry["body"]["lat"])
    assert _metres(queued, target) <= 1.5 * _metres_a_pixel(page, target.y)
    assert _metres(queued, phone_at) > 50
    page.evaluate(KEEP_A_COPY)
    assert sends(page, "/api/v1/reports", lambda: phone.context.set_offline(False)) == 201
    (got,) = _stored_report(me_world, entry["id"])
    assert (got[4], got[6], got[7], got[8]) == (
        note,
        pytest.approx(queued[0]),
        pytest.approx(queued[1]),
        seen,
    )

    # a report whose place lies outside the grids (as a stale page might send): refused by
    # the server, and the outbox says so in the page's language, naming the grids
    page.evaluate(
        "([lon, lat]) => { const c = window.sentCopy; c.id = c.body.client_id = "
        "crypto.randomUUID(); c.body.lon = lon; c.body.lat = lat; }",
        list(outside),
    )
    refused = page.evaluate("window.sentCopy.id")
    page.evaluate(PUT_THE_COPY_BACK)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#outbox.failed", timeout=30_000)
    said = page.inner_text("#outbox")
    assert "The place is outside your areas and was not accepted. Your areas: " in said, said
    names = me_world.reference.grids.set_index("code")["name"]
    assert all(names[g] in said for g in grids), said
    assert _rows(me_world, "SELECT 1 FROM report WHERE client_id = %s", (refused,)) == []
    page.locator("#me-status").scroll_into_view_if_needed()
    assert not_blank(shoot(page, "forms_report_refused"))

    phone.close()
    assert not phone.outside, phone.outside
    # the browser logs the refusal's status; nothing else went wrong
    assert [e for e in phone.errors if "status of 403" not in e] == [], phone.errors


# ------------------------------------------------------- the water map opens on one's areas

WATER_MAP_BOUNDS = """() => {
    for (const name of Object.keys(window).filter((k) => k.startsWith("map_"))) {
        const m = window[name];
        if (m && typeof m.getBounds === "function") {
            const b = m.getBounds();
            return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
        }
    }
    return null;
}"""


def _water_map_bounds(browser: Browser, base: str, member: Member) -> shapely.Polygon:
    """The box the water map opens on for a member, on a phone."""
    phone = Phone(browser, base, 120.3, 29.8)
    page = phone.page
    sign_in(page, base, member, "/maps/water")
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=30_000)
    bounds = page.evaluate(WATER_MAP_BOUNDS)
    assert bounds
    assert not_blank(shoot(page, f"forms_water_map_{member.role}"))
    phone.close()
    assert not phone.outside, phone.outside
    assert not phone.errors, phone.errors
    return shapely.box(*bounds)


def test_the_water_map_opens_on_a_grid_workers_grid(
    browser: Browser, me_url: str, me_world: MeWorld
) -> None:
    """On a phone, the water map opens on a grid worker's own grids (the whole of them in view,
    not much more), and on the whole station for a community officer (station scope)."""
    ref = me_world.reference.grids.set_index("code").geometry
    station = shapely.union_all(list(ref)).envelope
    member = me_world.users[Role.grid_worker][1]
    _, grids = areas_expected(me_world, member)
    mine = shapely.union_all([ref[g] for g in grids]).envelope
    shown = _water_map_bounds(browser, me_url, member)
    assert shown.buffer(1e-6).covers(mine), (shown.bounds, mine.bounds)
    assert shown.area <= 8 * mine.area, (shown.bounds, mine.bounds)
    assert shown.area < station.area / 4
    officer = _water_map_bounds(browser, me_url, me_world.users[Role.community_officer][0])
    assert officer.buffer(1e-6).covers(station.centroid)
    assert officer.area > 4 * shown.area
