"""Inspections recorded on the spot: stored once per client id, photos checked by content and
stripped of their position, the thing's status moved at once (the lookup's working rescue
markers, the water map), history kept, and refusals outside one's areas naming them. Who may
inspect what is checked against shapely over the sample's layers (geopandas), many things."""

from __future__ import annotations

import io
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from PIL import Image
from shapely.geometry.base import BaseGeometry

from geo_service.moments import STATION_TZ
from geo_service.services.photos import clean_photo
from tests import field_fixtures
from tests.field_fixtures import (
    ORIENTATION,
    FieldStage,
    has_gps,
    inspection,
    jpeg_with_gps,
    png_with_gps,
    post_inspection,
)

field_stage = field_fixtures.field_stage  # the fixture


def _jpeg_scan(data: bytes) -> bytes:
    """The entropy-coded image data of a baseline JPEG: from its start of scan to the end."""
    start = data.index(b"\xff\xda")
    return data[start : data.rindex(b"\xff\xd9") + 2]


def _count(stage: FieldStage, client_id: str) -> int:
    return stage.sql("SELECT count(*) FROM inspection WHERE client_id = %s", (client_id,))[0][0]


def _inside(shape: BaseGeometry, areas: BaseGeometry) -> bool:
    return bool(shape.intersects(areas))


def _grids_of(stage: FieldStage, who: str) -> BaseGeometry:
    grids = stage.layers["grid"].set_index("code")
    return grids.loc[stage.users[who].grids].union_all()


def _villages_of(stage: FieldStage, who: str) -> BaseGeometry:
    villages = stage.layers["village"].set_index("code")
    return villages.loc[stage.users[who].villages].union_all()


def _marker_in(stage: FieldStage, area: BaseGeometry, kind: str = "rescue_pole") -> str:
    markers = stage.layers["water_marker"]
    inside = markers[(markers.kind == kind) & markers.within(area.buffer(-1e-6))]
    assert len(inside), f"no {kind} inside the area"
    return str(inside.sort_values("code").iloc[0]["code"])


# --------------------------------------------------------------------------- storing once


def test_an_inspection_is_stored_with_its_photo_and_answered(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    photo = jpeg_with_gps()
    body = inspection("water_marker", code, "damaged", note="bent pole", lon=120.1, lat=30.2)
    reply = post_inspection(field_stage, "worker", body, [("pole.jpg", photo, "image/jpeg")])
    assert reply.status_code == 201, reply.text
    stored = reply.json()
    assert stored["client_id"] == body["client_id"] and stored["result"] == "damaged"
    assert stored["inspector"] == field_stage.users["worker"].name
    assert stored["position"]["lon"] == pytest.approx(120.1)
    assert len(stored["photos"]) == 1 and stored["photos"][0]["media_type"] == "image/jpeg"
    served = field_stage.client.get(stored["photos"][0]["url"], headers=field_stage.as_("leader"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert not has_gps(served.content)  # location gone
    assert has_gps(photo)  # (which it had)
    assert _jpeg_scan(served.content) == _jpeg_scan(photo)  # the image itself not re-encoded
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.getexif().get(ORIENTATION) == 6  # upright as taken
        assert image.size == (64, 48)
    # the audit trail has it
    rows = field_stage.sql(
        "SELECT actor, subject FROM audit_event WHERE action = 'inspection' "
        "AND detail ->> 'id' = %s",
        (str(stored["id"]),),
    )
    assert rows == [(field_stage.users["worker"].name, f"water_marker {code}")]


def test_sending_twice_stores_once(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    body = inspection("water_marker", code, "ok")
    photo = [("a.jpg", jpeg_with_gps(), "image/jpeg")]
    first = post_inspection(field_stage, "worker", body, photo)
    again = post_inspection(field_stage, "worker", body, photo)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert first.json() == again.json()
    assert _count(field_stage, body["client_id"]) == 1
    photos = field_stage.sql(
        "SELECT count(*) FROM inspection_photo p JOIN inspection i ON i.id = p.inspection_id "
        "WHERE i.client_id = %s",
        (body["client_id"],),
    )
    assert photos == [(1,)]


def test_sent_at_once_from_many_threads_stores_once(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    body = inspection("water_marker", code, "ok")
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: post_inspection(field_stage, "worker", body), range(6)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] * 5 + [201], [r.text for r in replies]
    assert len({r.json()["id"] for r in replies}) == 1
    assert _count(field_stage, body["client_id"]) == 1


# ----------------------------------------------------------------------------- photos


def test_a_png_named_jpg_is_taken_as_a_png_and_stripped(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    png = png_with_gps()
    assert has_gps(png)
    body = inspection("water_marker", code, "ok")
    reply = post_inspection(field_stage, "worker", body, [("photo.jpg", png, "image/jpeg")])
    assert reply.status_code == 201, reply.text
    photo = reply.json()["photos"][0]
    assert photo["media_type"] == "image/png" and (photo["width"], photo["height"]) == (40, 30)
    served = field_stage.client.get(photo["url"], headers=field_stage.as_("worker")).content
    assert not has_gps(served) and b"tEXt" not in served and b"iTXt" not in served
    with Image.open(io.BytesIO(served)) as a, Image.open(io.BytesIO(png)) as b:
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("notes.jpg", b"not an image at all, but a text file", 422, "neither a JPEG nor a PNG"),
        ("cut.jpg", jpeg_with_gps()[:-300], 422, "not a whole JPEG"),
        ("cut.png", png_with_gps()[:-20], 422, "not a whole PNG"),
        ("huge.jpg", b"\xff\xd8\xff\xe0" + bytes(5 * 1024 * 1024), 413, "at most"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_stored(
    field_stage: FieldStage, name: str, content: bytes, status: int, words: str
) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    before = field_stage.sql(
        "SELECT status, last_inspected_at FROM water_marker WHERE code = %s", (code,)
    )
    body = inspection("water_marker", code, "missing")
    reply = post_inspection(field_stage, "worker", body, [(name, content, "image/jpeg")])
    assert reply.status_code == status, reply.text
    problem = reply.json()
    assert words in problem["detail"] and problem["parameter"] == "photos"
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert _count(field_stage, body["client_id"]) == 0
    after = field_stage.sql(
        "SELECT status, last_inspected_at FROM water_marker WHERE code = %s", (code,)
    )
    assert after == before


def test_at_most_three_photos(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    photos = [(f"{i}.jpg", jpeg_with_gps(), "image/jpeg") for i in range(4)]
    body = inspection("water_marker", code, "ok")
    reply = post_inspection(field_stage, "worker", body, photos)
    assert reply.status_code == 422 and reply.json()["parameter"] == "photos"
    assert _count(field_stage, body["client_id"]) == 0


def test_random_jpegs_keep_their_scan_and_lose_their_position() -> None:
    """Many sizes and orientations: the scan is byte for byte the same, the pixels decode the
    same, the orientation stays and no GPS remains."""
    rng = random.Random(14)
    for _ in range(40):
        size = (rng.randint(8, 300), rng.randint(8, 300))
        orientation = rng.randint(1, 8)
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        raw = jpeg_with_gps(size, orientation=orientation, color=color)
        photo = clean_photo(raw, max_bytes=5 * 1024 * 1024)
        assert (photo.width, photo.height) == size
        assert not has_gps(photo.data)
        assert _jpeg_scan(photo.data) == _jpeg_scan(raw)
        with Image.open(io.BytesIO(photo.data)) as a, Image.open(io.BytesIO(raw)) as b:
            assert a.tobytes() == b.tobytes()
            assert a.getexif().get(ORIENTATION, 1) == orientation


# ---------------------------------------------------------------- status moves at once


def test_a_missing_pole_is_no_longer_working_then_replaced(field_stage: FieldStage) -> None:
    """The lookup's nearest working rescue markers, the marker layer and the history follow."""
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    markers = field_stage.layers["water_marker"].set_index("code")
    point = markers.geometry[code]
    where = {"lon": point.x, "lat": point.y}
    leader = field_stage.as_("leader")

    def working() -> set[str]:
        answer = field_stage.client.get("/api/v1/lookup", params=where, headers=leader).json()
        return {m["code"] for m in answer["rescue_markers"]}

    def layer_status() -> str:
        fc = field_stage.client.get("/api/v1/water/markers", headers=leader).json()
        return next(f["properties"]["status"] for f in fc["features"] if f["id"] == code)

    ok = post_inspection(field_stage, "worker", inspection("water_marker", code, "ok"))
    assert ok.status_code == 201 and code in working() and layer_status() == "ok"
    gone = post_inspection(field_stage, "worker", inspection("water_marker", code, "missing"))
    assert gone.status_code == 201
    assert code not in working() and layer_status() == "missing"
    # an older inspection, queued offline and sent late, does not undo the newer one
    stale = inspection(
        "water_marker",
        code,
        "ok",
        inspected_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
    )
    assert post_inspection(field_stage, "worker", stale).status_code == 201
    assert code not in working() and layer_status() == "missing"
    back = post_inspection(field_stage, "worker", inspection("water_marker", code, "replaced"))
    assert back.status_code == 201
    assert code in working() and layer_status() == "ok"
    history = field_stage.client.get(
        f"/api/v1/water_marker/{code}/inspections", headers=field_stage.as_("command_room")
    )
    assert history.status_code == 200, history.text
    answer = history.json()
    results = [i["result"] for i in answer["inspections"]]
    assert results[:3] == ["replaced", "missing", "ok"] and results[-1] == "ok"
    stamps = [i["inspected_at"] for i in answer["inspections"]]
    assert stamps == sorted(stamps, reverse=True)
    assert answer["state"]["status"] == "ok"


def test_a_rental_house_check_and_a_camera(field_stage: FieldStage) -> None:
    area = _grids_of(field_stage, "worker")
    houses = field_stage.layers["rental_house"]
    house = str(houses[houses.within(area.buffer(-1e-6))].sort_values("code").iloc[0]["code"])
    failed = post_inspection(field_stage, "worker", inspection("rental_house", house, "fail"))
    assert failed.status_code == 201, failed.text
    stored = failed.json()
    assert stored["items"]["ebike_indoor_charging"] == "problem" and stored["fix_by"]
    history = field_stage.client.get(
        f"/api/v1/rental_house/{house}/inspections", headers=field_stage.as_("worker")
    ).json()
    assert history["state"]["status"] == "fail"
    assert history["state"]["fix_by"] == stored["fix_by"]
    last = field_stage.sql("SELECT last_fire_check_at FROM rental_house WHERE code = %s", (house,))
    assert last[0][0] == datetime.fromisoformat(stored["inspected_at"])
    # a pass with a problem item, or a fail without what to fix, is refused
    bad = inspection("rental_house", house, "pass")
    bad["items"]["wiring"] = "problem"
    reply = post_inspection(field_stage, "worker", bad)
    assert reply.status_code == 422 and "wiring" in reply.json()["detail"]
    bad = inspection("rental_house", house, "fail")
    del bad["fix_by"]
    assert post_inspection(field_stage, "worker", bad).status_code == 422

    cameras = field_stage.layers["camera"]
    camera = str(cameras[cameras.within(area.buffer(-1e-6))].sort_values("code").iloc[0]["code"])
    reply = post_inspection(field_stage, "worker", inspection("camera", camera, "faulty"))
    assert reply.status_code == 201, reply.text
    assert field_stage.sql("SELECT status FROM camera WHERE code = %s", (camera,)) == [("faulty",)]
    assert (
        post_inspection(field_stage, "worker", inspection("camera", camera, "ok")).status_code
        == 422
    )


# ------------------------------------------------------------------- one's own areas


def test_who_may_inspect_what_follows_their_areas(field_stage: FieldStage) -> None:
    """A grid worker: things meeting their grids; a volunteer: water markers and water bodies
    meeting their villages; a leader: anything. Shapely decides, over random things of every
    kind; a refusal is a 403 naming the areas and leaves the database as it was."""
    rng = random.Random(1414)
    cases = []
    for kind in ("water_marker", "rental_house", "camera", "water_body"):
        frame = field_stage.layers[kind]
        picks = frame.iloc[rng.sample(range(len(frame)), min(12, len(frame)))]
        cases += [(kind, str(row["code"]), row.geometry) for _, row in picks.iterrows()]
    # and things certainly inside each one's areas
    cases.append(("water_marker", _marker_in(field_stage, _grids_of(field_stage, "worker")), None))
    cases.append(
        ("water_marker", _marker_in(field_stage, _villages_of(field_stage, "volunteer")), None)
    )
    result = {
        "water_marker": "ok",
        "rental_house": "pass",
        "camera": "working",
        "water_body": "patrolled",
    }
    areas = {
        "worker": _grids_of(field_stage, "worker"),
        "volunteer": _villages_of(field_stage, "volunteer"),
    }
    allowed_seen = {"worker": 0, "volunteer": 0}
    refused_seen = {"worker": 0, "volunteer": 0}
    for kind, code, shape in cases:
        if shape is None:
            shape = field_stage.layers[kind].set_index("code").geometry[code]
        for who in ("worker", "volunteer", "leader"):
            if who == "leader":
                expected = True
            elif who == "volunteer" and kind in ("rental_house", "camera"):
                expected = False
            else:
                expected = _inside(shape, areas[who])
            body = inspection(kind, code, result[kind])
            reply = post_inspection(field_stage, who, body)
            if expected:
                assert reply.status_code == 201, (who, kind, code, reply.text)
                if who != "leader":
                    allowed_seen[who] += 1
                continue
            assert reply.status_code == 403, (who, kind, code, reply.text)
            detail = reply.json()["detail"]
            user = field_stage.users[who]
            for area in user.grids or user.villages:
                assert area in detail, detail
            assert _count(field_stage, body["client_id"]) == 0
            refused_seen[who] += 1
    assert min(allowed_seen.values()) > 0 and min(refused_seen.values()) > 0


def test_a_community_officer_inspects_in_their_beats(field_stage: FieldStage) -> None:
    """Their own grids are their beats' grids in the plan in force (read as the owner)."""
    person = field_stage.users["officer"].person
    grids = [
        r[0]
        for r in field_stage.sql(
            """SELECT DISTINCT g.code FROM assignment a
               JOIN beat_grid bg ON bg.beat_id = a.beat_id
                    AND bg.plan_id = plan_in_force(now())
               JOIN grid g ON g.id = bg.grid_id JOIN person p ON p.id = a.person_id
               WHERE p.code = %s AND a.area_kind = 'beat' AND a.validity @> now()""",
            (person,),
        )
    ]
    assert grids
    table = field_stage.layers["grid"].set_index("code")
    own = table.loc[grids].union_all()
    markers = field_stage.layers["water_marker"]
    inside = markers[markers.intersects(own)]
    outside = markers[~markers.intersects(own)]
    assert len(inside) and len(outside)
    ok = post_inspection(
        field_stage, "officer", inspection("water_marker", str(inside.iloc[0]["code"]), "ok")
    )
    assert ok.status_code == 201, ok.text
    refused = post_inspection(
        field_stage, "officer", inspection("water_marker", str(outside.iloc[0]["code"]), "ok")
    )
    assert refused.status_code == 403
    assert all(code in refused.json()["detail"] for code in grids)


def test_history_outside_ones_areas_is_refused_and_unknown_is_404(field_stage: FieldStage) -> None:
    markers = field_stage.layers["water_marker"]
    area = _grids_of(field_stage, "worker")
    outside = str(markers[~markers.intersects(area)].iloc[0]["code"])
    reply = field_stage.client.get(
        f"/api/v1/water_marker/{outside}/inspections", headers=field_stage.as_("worker")
    )
    assert reply.status_code == 403
    assert all(g in reply.json()["detail"] for g in field_stage.users["worker"].grids)
    reply = field_stage.client.get(
        "/api/v1/water_marker/NOPE-1/inspections", headers=field_stage.as_("leader")
    )
    assert reply.status_code == 404 and reply.json()["parameter"] == "code"
    reply = post_inspection(field_stage, "leader", inspection("camera", "NOPE-1", "working"))
    assert reply.status_code == 404 and reply.json()["parameter"] == "code"


def test_bad_bodies_name_what_to_fix(field_stage: FieldStage) -> None:
    code = _marker_in(field_stage, _grids_of(field_stage, "worker"))
    cases = [
        ({**inspection("water_marker", code, "ok"), "client_id": "not-a-uuid"}, "client_id"),
        (inspection("water_marker", code, "broken"), "inspection"),
        (
            {**inspection("water_marker", code, "ok"), "inspected_at": "2026-07-01T18:00"},
            "inspected_at",
        ),
        (inspection("water_marker", code, "ok", lon=120.1), "inspection"),
        (
            inspection(
                "water_marker",
                code,
                "ok",
                inspected_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
            ),
            "inspected_at",
        ),
    ]
    for body, parameter in cases:
        reply = post_inspection(field_stage, "worker", body)
        assert reply.status_code == 422, reply.text
        assert reply.json()["parameter"] == parameter, reply.json()
    reply = field_stage.client.post(
        "/api/v1/inspections",
        data={"inspection": "{not json"},
        headers=field_stage.as_("worker"),
    )
    assert reply.status_code == 422 and reply.json()["parameter"] == "inspection"
    assert field_stage.sql(
        "SELECT count(*) FROM inspection WHERE client_id = %s", (str(uuid.uuid4()),)
    ) == [(0,)]


# --------------------------------------------------------------- dusk shore patrols


def _station_day(moment: pd.Timestamp) -> tuple[object, int]:
    local = moment.tz_convert("Asia/Shanghai")
    return local.date(), local.hour


def test_the_patrol_table_against_pandas(field_stage: FieldStage) -> None:
    """Check-ins of the sample and new ones (an evening one and a morning one, which does not
    count): every day of June to August 2026, each water marked that day (its mark meets the
    day's evening) walked or not as pandas finds from the raw rows."""
    volunteer = field_stage.users["volunteer"]
    villages = field_stage.layers["village"].set_index("code").loc[volunteer.villages].union_all()
    waters = field_stage.layers["water_body"]
    mark = sorted(waters[waters.intersects(villages)].code)[:3] + sorted(waters.code)[:3]
    field_stage.sql(  # marked before the summer (a water marked already keeps its mark)
        "INSERT INTO patrol_water (water_body_id, marked_at) SELECT id, %s FROM water_body "
        "WHERE code = ANY (%s) ON CONFLICT DO NOTHING RETURNING water_body_id",
        (datetime(2026, 5, 31, tzinfo=STATION_TZ), mark),
    )
    periods = pd.DataFrame(
        field_stage.sql(
            "SELECT w.code, p.marked_at, p.unmarked_at FROM patrol_water p "
            "JOIN water_body w ON w.id = p.water_body_id"
        ),
        columns=["code", "marked_at", "unmarked_at"],
    )
    for column in ("marked_at", "unmarked_at"):
        periods[column] = pd.to_datetime(periods[column], utc=True)
    evening = datetime(2026, 7, 14, 19, 30, tzinfo=STATION_TZ)
    held = (periods.marked_at <= pd.Timestamp(evening)) & (
        periods.unmarked_at.isna() | (periods.unmarked_at > pd.Timestamp(evening))
    )
    theirs = sorted(set(waters[waters.intersects(villages)].code) & set(periods[held].code))
    assert theirs
    morning = datetime(2026, 7, 15, 9, 0, tzinfo=STATION_TZ)
    for when in (evening, morning):
        body = inspection("water_body", theirs[0], "patrolled", inspected_at=when.isoformat())
        assert post_inspection(field_stage, "volunteer", body).status_code == 201
    reply = field_stage.client.get(
        "/api/v1/water/patrols", params={"year": 2026}, headers=field_stage.as_("volunteer")
    )
    assert reply.status_code == 200, reply.text
    table = reply.json()
    rows = pd.DataFrame(
        field_stage.sql(
            "SELECT code, inspected_at, inspector FROM inspection WHERE kind = 'water_body'"
        ),
        columns=["code", "inspected_at", "inspector"],
    )
    local = pd.to_datetime(rows["inspected_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    rows["day"] = local.dt.date
    evening_rows = rows[local.dt.hour >= 16]
    # the volunteer sees the waters of their villages only, on the days they were marked
    mine = set(waters[waters.intersects(villages)].code)
    days = pd.date_range("2026-06-01", "2026-08-31", freq="D").date
    assert [d["date"] for d in table["days"]] == [d.isoformat() for d in days]
    water_days = 0
    for day in table["days"]:
        date = pd.Timestamp(day["date"]).date()
        start = pd.Timestamp(date, tz="Asia/Shanghai") + pd.Timedelta(hours=16)
        end = pd.Timestamp(date, tz="Asia/Shanghai") + pd.Timedelta(days=1)
        meets = (periods.marked_at < end) & (
            periods.unmarked_at.isna() | (periods.unmarked_at > start)
        )
        seen = set(periods[meets].code) & mine
        water_days += len(seen)
        walked = evening_rows[(evening_rows.day == date) & evening_rows.code.isin(seen)]
        expected = walked.groupby("code").size().to_dict()
        assert {w["code"]: w["check_ins"] for w in day["walked"]} == expected, day["date"]
        assert sorted(day["not_walked"]) == sorted(seen - set(expected))
    july14 = next(d for d in table["days"] if d["date"] == "2026-07-14")
    assert theirs[0] in {w["code"] for w in july14["walked"]}
    total = sum(len(d["walked"]) for d in table["days"])
    assert table["totals"] == {"water_days": water_days, "walked": total}


def test_a_check_in_with_poles_and_the_water_map(field_stage: FieldStage) -> None:
    """A check-in records the poles seen on the way (their status moves) and the water map
    shows the water patrolled that evening."""
    volunteer = field_stage.users["volunteer"]
    villages = field_stage.layers["village"].set_index("code").loc[volunteer.villages].union_all()
    markers = field_stage.layers["water_marker"]
    poles = markers[(markers.kind == "rescue_pole") & markers.within(villages.buffer(-1e-6))]
    pole = poles.sort_values("code").iloc[-1]
    water = str(pole.water_body_code)
    yesterday = datetime.now(STATION_TZ).date() - timedelta(days=1)
    when = datetime.combine(yesterday, datetime.min.time(), STATION_TZ) + timedelta(hours=19)
    body = inspection(
        "water_body",
        water,
        "patrolled",
        inspected_at=when.isoformat(),
        poles=[{"code": str(pole.code), "result": "damaged"}],
    )
    reply = post_inspection(field_stage, "volunteer", body)
    assert reply.status_code == 201, reply.text
    assert [p["code"] for p in reply.json()["poles"]] == [str(pole.code)]
    # the pole's status follows its latest inspection (this one unless a later one is stored)
    latest = field_stage.sql(
        "SELECT result FROM inspection WHERE kind = 'water_marker' AND code = %s "
        "ORDER BY inspected_at DESC, id DESC LIMIT 1",
        (str(pole.code),),
    )
    status = field_stage.sql("SELECT status FROM water_marker WHERE code = %s", (str(pole.code),))
    assert status == [({"replaced": "ok"}.get(latest[0][0], latest[0][0]),)]
    child = field_stage.sql(
        "SELECT result FROM inspection WHERE check_in_id = %s", (reply.json()["id"],)
    )
    assert child == [("damaged",)]
