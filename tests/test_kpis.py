"""The station's numbers (GET /api/v1/kpis, its CSV, station_kpis) recomputed with pandas from
the incidents and timelines read back from the database: every figure of every area (station,
village, beat) and both periods, over random periods, scopes (village, beat, a grid worker's
row-level security) and rules (limits, target, repeat days and radius)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod, Transformer
from scipy.spatial import cKDTree

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests import kpis_fixtures
from tests.accounts import bearer, make_user
from tests.kpis_fixtures import Timelines, csv_frame
from tests.test_rls import Context, service

timelines = kpis_fixtures.timelines  # the module's fixture
GEOD = Geod(ellps="WGS84")
TO_METRES = Transformer.from_crs(4326, 4549, always_xy=True)
STATION = Context(role="leader", scope="station")
COUNTS = (
    "incidents",
    "police",
    "on_scene",
    "repeats",
    "non_police",
    "diverted",
    "on_time",
    "callbacks",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
)
SHARES = (
    "on_scene_share",
    "dispatch_median_min",
    "arrival_median_min",
    "repeat_rate",
    "diverted_share",
    "on_time_share",
    "satisfied_share",
)


@dataclass(frozen=True)
class Rules:
    community: int = 5
    village: int = 10
    diversion: int = 30
    repeat_days: int = 7
    repeat_metres: float = 100.0


# ------------------------------------------------------------------ the independent side


def _facts(t: Timelines) -> pd.DataFrame:
    """Per incident: first dispatch, arrival, diversion, acceptance; last callback; cancelled."""
    s = t.steps
    first = s.groupby(["incident_id", "kind"])["at"].min().unstack()
    callbacks = s[s["kind"] == "callback"].sort_values(["at", "id"])
    last = callbacks.groupby("incident_id")["result"].last().rename("callback")
    cancelled = s[s["kind"] == "cancel"].groupby("incident_id").size().rename("n_cancel")
    f = t.incidents.set_index("id")
    for kind in ("dispatch", "arrive", "divert", "accept"):
        f[kind] = first.get(kind, pd.NaT)
    f = f.join(last).join(cancelled)
    f["cancelled"] = f["n_cancel"].fillna(0) > 0
    return f


def _repeat_gaps(t: Timelines, targets: pd.Index, metres: float) -> pd.Series:
    """Time since the latest earlier call (at most 365 days back) from the same caller phone or
    of the same category within `metres` (geodesic, WGS 84), over every incident."""
    inc = t.incidents.set_index("id")
    at = inc["received_at"]
    year = pd.Timedelta(days=365)
    latest = pd.Series(pd.NaT, index=targets, dtype="datetime64[ns, UTC]")
    # same phone: the latest strictly earlier call of the phone
    phoned = inc[inc["caller_phone"].notna()].sort_values("received_at")
    left = phoned.loc[phoned.index.intersection(targets)].reset_index().sort_values("received_at")
    right = phoned.reset_index()[["caller_phone", "received_at"]].rename(
        columns={"received_at": "earlier"}
    )
    right["received_at"] = right["earlier"]
    found = pd.merge_asof(
        left,
        right.sort_values("received_at"),
        on="received_at",
        by="caller_phone",
        allow_exact_matches=False,
        direction="backward",
    ).set_index("id")["earlier"]
    found = found[found >= at.loc[found.index] - year]
    latest.loc[found.index] = found
    # same category nearby: candidate pairs from a KD-tree in metres, then the geodesic
    x, y = TO_METRES.transform(inc["lon"].to_numpy(), inc["lat"].to_numpy())
    tree = cKDTree(np.column_stack([x, y]))
    pos = {i: k for k, i in enumerate(inc.index)}
    tx = np.column_stack([x, y])[[pos[i] for i in targets]]
    near = tree.query_ball_point(tx, r=metres * 1.01 + 0.05)
    k = np.repeat([pos[i] for i in targets], [len(c) for c in near])
    c = np.fromiter((j for cs in near for j in cs), dtype=int, count=len(k))
    cat = inc["category"].to_numpy()
    when = at.dt.tz_convert(None).to_numpy()
    keep = (c != k) & (cat[c] == cat[k]) & (when[c] < when[k])
    keep &= when[c] >= when[k] - year.to_numpy()
    k, c = k[keep], c[keep]
    lon, lat = inc["lon"].to_numpy(), inc["lat"].to_numpy()
    _, _, dist = GEOD.inv(lon[k], lat[k], lon[c], lat[c])
    k, c = k[dist <= metres], c[dist <= metres]
    nearby = pd.Series(when[c], index=inc.index[k]).groupby(level=0).max().dt.tz_localize("UTC")
    latest = pd.concat([latest, nearby], axis=1).max(axis=1).reindex(targets)
    return at.loc[targets] - latest


def _figures(f: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    """One area's figures for one period, as KpiFigures names them."""
    police = (f["category"] != "non_police") & ~f["cancelled"]
    limit = np.where(f["village_kind"] == "community", rules.community, rules.village)
    to_arrive = f["arrive"] - f["received_at"]
    in_time = to_arrive <= pd.to_timedelta(limit, unit="min")
    non_police = f["category"] == "non_police"
    diverted = non_police & f["divert"].notna()
    on_time = diverted & (f["accept"] <= f["divert"] + pd.Timedelta(minutes=rules.diversion))
    repeat = f["repeat_gap"] <= pd.Timedelta(days=rules.repeat_days)
    answers = f["callback"].value_counts()
    hours = f["received_at"].dt.tz_convert("Asia/Shanghai").dt.hour.value_counts()
    counts = [int(hours.get(h, 0)) for h in range(24)]

    def median(col: str) -> float | None:
        secs = (f.loc[police, col] - f.loc[police, "received_at"]).dt.total_seconds().dropna()
        return float(secs.median()) / 60 if len(secs) else None

    def share(a: int, b: int) -> float | None:
        return a / b if b else None

    sat, basic, unsat = (int(answers.get(a, 0)) for a in ANSWERS)
    out = {
        "incidents": len(f),
        "police": int(police.sum()),
        "on_scene": int((police & in_time).sum()),
        "dispatch_median_min": median("dispatch"),
        "arrival_median_min": median("arrive"),
        "repeats": int(repeat.sum()),
        "non_police": int(non_police.sum()),
        "diverted": int(diverted.sum()),
        "on_time": int(on_time.sum()),
        "callbacks": sat + basic + unsat,
        "satisfied": sat,
        "basically_satisfied": basic,
        "unsatisfied": unsat,
        "hours": counts,
        "busiest_hours": sorted((h for h in range(24) if counts[h]), key=lambda h: (-counts[h], h))[
            :3
        ],
    }
    out["on_scene_share"] = share(out["on_scene"], out["police"])
    out["repeat_rate"] = share(out["repeats"], out["incidents"])
    out["diverted_share"] = share(out["diverted"], out["non_police"])
    out["on_time_share"] = share(out["on_time"], out["diverted"])
    out["satisfied_share"] = share(sat + basic, out["callbacks"])
    return out


ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")


def reference(
    t: Timelines,
    facts: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    rules: Rules,
    *,
    village: str | None = None,
    beat: str | None = None,
    grids: set[int] | None = None,
) -> dict[tuple[str, str | None], dict[str, Any]]:
    """{(level, code): {"current", "previous", "repeat_rate_change"}} for the period."""
    prev = start - (end - start)
    f = facts[(facts["received_at"] >= prev) & (facts["received_at"] < end)]
    if village is not None:
        f = f[f["village_code"] == village]
    if beat is not None:
        f = f[f["beat_code"] == beat]
    if grids is not None:
        f = f[f["grid_id"].isin(grids)]
    f = f.copy()
    f["repeat_gap"] = _repeat_gaps(t, f.index, rules.repeat_metres) if len(f) else []
    cur = f["received_at"] >= start
    areas: dict[tuple[str, str | None], pd.DataFrame] = {("station", None): f}
    for code, part in f.groupby("village_code"):
        areas[("village", str(code))] = part
    for code, part in f.groupby("beat_code"):
        areas[("beat", str(code))] = part
    out = {}
    for key, part in areas.items():
        now, before = (
            _figures(part[cur.loc[part.index]], rules),
            _figures(part[~cur.loc[part.index]], rules),
        )
        change = None
        if before["repeat_rate"] and now["repeat_rate"] is not None:
            change = (now["repeat_rate"] - before["repeat_rate"]) / before["repeat_rate"]
        out[key] = {"current": now, "previous": before, "repeat_rate_change": change}
    return out


# ------------------------------------------------------------------ comparing


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def check(got: list[dict[str, Any]], want: dict[tuple[str, str | None], dict[str, Any]]) -> None:
    """Every area of the answer against the recomputation, figure by figure."""
    keyed = {(a["level"], None if a["level"] == "station" else a["code"]): a for a in got}
    assert set(keyed) == set(want)
    for key, area in keyed.items():
        for period in ("current", "previous"):
            for name in (*COUNTS, *SHARES, "hours", "busiest_hours"):
                assert _same(area[period][name], want[key][period][name]), (
                    key,
                    period,
                    name,
                    area[period][name],
                    want[key][period][name],
                )
        assert _same(area["repeat_rate_change"], want[key]["repeat_rate_change"]), key


def sql_kpis(
    url: str,
    context: Context,
    start: pd.Timestamp,
    end: pd.Timestamp,
    rules: Rules,
    *,
    village: str | None = None,
    beat: str | None = None,
) -> list[dict[str, Any]]:
    """station_kpis called as the service's role in a user's context (one call)."""
    with service(url, context) as conn:
        rows = conn.execute(
            """SELECT k.level, k.code, k.current, k.previous, k.repeat_rate_change
               FROM incident_filter_ids(%s, %s) f,
                    station_kpis(%s, %s, %s, %s, %s, %s, %s, f.village_id, f.beat_ids) k""",
            (
                beat,
                village,
                start.to_pydatetime(),
                end.to_pydatetime(),
                rules.community,
                rules.village,
                rules.diversion,
                rules.repeat_days,
                rules.repeat_metres,
            ),
        ).fetchall()
    return [
        {"level": lv, "code": code, "current": cur, "previous": prev, "repeat_rate_change": ch}
        for lv, code, cur, prev, ch in rows
    ]


# ------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def facts(timelines: Timelines) -> pd.DataFrame:
    return _facts(timelines)


def test_timelines_are_varied(timelines: Timelines, facts: pd.DataFrame) -> None:
    """The fixture has what every figure needs: arrivals both ways, diversions on time and
    late, callbacks of every answer, repeat callers and cancellations."""
    s = timelines.steps
    assert {"dispatch", "arrive", "divert", "accept", "callback", "cancel", "close"} <= set(
        s["kind"]
    )
    assert set(s.loc[s["kind"] == "callback", "result"]) == set(ANSWERS)
    late = facts["accept"] > facts["divert"] + pd.Timedelta(minutes=30)
    assert late.sum() > 10 and (facts["accept"].notna() & ~late).sum() > 10
    assert facts["caller_phone"].duplicated().sum() > 100
    assert facts["cancelled"].sum() > 10
    assert set(facts["village_kind"].dropna()) == {"village", "community"}


def test_random_periods_and_scopes(timelines: Timelines, facts: pd.DataFrame) -> None:
    """Every figure of every area over random periods, scopes and rules, as a leader sees."""
    rng = np.random.default_rng(5)
    first, last = facts["received_at"].min(), facts["received_at"].max()
    villages = sorted(facts["village_code"].dropna().unique())
    beats = sorted(facts["beat_code"].dropna().unique())
    for case in range(10):
        days = float(rng.choice([1, 7, 30, 45, 90]) + rng.uniform(0, 1))
        start = first + (last - first - pd.Timedelta(days=days)) * float(rng.uniform(0.1, 1.0))
        start = start.floor("us")
        end = start + pd.Timedelta(days=days)
        rules = Rules(
            community=int(rng.integers(3, 8)),
            village=int(rng.integers(6, 15)),
            diversion=int(rng.integers(10, 45)),
            repeat_days=int(rng.integers(1, 30)),
            repeat_metres=100.0 if case % 3 else float(rng.uniform(50, 400)),  # stored or not
        )
        scope: dict[str, str | None] = {}
        if case % 4 == 1:
            scope["village"] = str(rng.choice(villages))
        elif case % 4 == 2:
            scope["beat"] = str(rng.choice(beats))
        got = sql_kpis(timelines.url, STATION, start, end, rules, **scope)
        want = reference(timelines, facts, start, end, rules, **scope)
        assert want[("station", None)]["current"]["incidents"] > 0 or days < 2
        check(got, want)


def test_grid_worker_sees_their_grids(timelines: Timelines, facts: pd.DataFrame) -> None:
    """Row-level security holds inside the one call: a grid worker's context counts only the
    incidents of their grids (repeats still judged against every earlier call)."""
    rng = np.random.default_rng(9)
    grid_ids = sorted(facts["grid_id"].dropna().astype(int).unique())
    grids = {int(g) for g in rng.choice(grid_ids, size=4, replace=False)}
    villages = set(facts.loc[facts["grid_id"].isin(grids), "village_id"].astype(int))
    worker = Context(
        role="grid_worker", scope="areas", grids=tuple(sorted(grids)), villages=tuple(villages)
    )
    end = facts["received_at"].max()
    start = end - pd.Timedelta(days=120)
    got = sql_kpis(timelines.url, worker, start, end, Rules())
    want = reference(timelines, facts, start, end, Rules(), grids=grids)
    check(got, want)
    assert got[0]["current"]["incidents"] < len(facts) / 10
    nobody = Context(role="volunteer", scope="areas", villages=(1,))
    assert sql_kpis(timelines.url, nobody, start, end, Rules()) == []


@pytest.fixture(scope="module")
def kpi_client(timelines: Timelines) -> Iterator[TestClient]:
    """The app on the timelines' database, signed in as a leader."""
    token = make_user(timelines.url, Role.leader)
    app = create_app(Settings(database_url=timelines.url))
    with TestClient(app, headers=bearer(token)) as client:
        yield client


def test_api_and_csv(
    timelines: Timelines,
    facts: pd.DataFrame,
    kpi_client: TestClient,
) -> None:
    """GET /api/v1/kpis (the settings' rules) against the recomputation, station time without
    an offset; the CSV has the same figures, a line per area and period."""
    end = facts["received_at"].max().tz_convert("Asia/Shanghai").normalize()
    start = end - pd.Timedelta(days=30)
    params = {"from": start.strftime("%Y-%m-%dT%H:%M"), "to": end.strftime("%Y-%m-%dT%H:%M")}
    reply = kpi_client.get("/api/v1/kpis", params=params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert pd.Timestamp(body["from"]) == start and pd.Timestamp(body["previous_to"]) == start
    assert pd.Timestamp(body["previous_from"]) == start - pd.Timedelta(days=30)
    assert body["rules"]["on_scene_minutes_community"] == 5
    want = reference(timelines, facts, start, end, Rules())
    check(body["areas"], want)
    reply = kpi_client.get("/api/v1/kpis.csv", params=params)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    table = csv_frame(reply.text)
    assert len(table) == 2 * len(body["areas"])
    for area in body["areas"]:
        for period in ("current", "previous"):
            code = area["code"]
            row = table[(table["level"] == area["level"]) & (table["period"] == period)]
            row = row[row["code"] == code] if area["level"] != "station" else row
            assert len(row) == 1
            row = row.iloc[0]
            for name in COUNTS:
                assert row[name] == area[period][name]
            for name in SHARES:
                value = area[period][name]
                assert (pd.isna(row[name]) and value is None) or math.isclose(row[name], value)
            assert [row[f"h{h:02d}"] for h in range(24)] == area[period]["hours"]


def test_default_period_and_filters(kpi_client: TestClient, facts: pd.DataFrame) -> None:
    """Without from/to: the last 30 station days up to the latest incident; a village and a
    beat narrow the areas to theirs."""
    body = kpi_client.get("/api/v1/kpis").json()
    latest = facts["received_at"].max().tz_convert("Asia/Shanghai")
    assert pd.Timestamp(body["to"]) == latest.normalize() + pd.Timedelta(days=1)
    assert pd.Timestamp(body["to"]) - pd.Timestamp(body["from"]) == pd.Timedelta(days=30)
    village = str(facts["village_code"].dropna().iloc[0])
    areas = kpi_client.get("/api/v1/kpis", params={"village": village, "days": 90}).json()
    assert {a["code"] for a in areas["areas"] if a["level"] == "village"} == {village}


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"from": "2026-05-01", "to": "2026-04-01"}, 422, "from"),
        ({"from": "yesterday"}, 422, "from"),
        ({"to": "2026-13-01"}, 422, "to"),
        ({"days": 0}, 422, "days"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422, "from"),
        ({"village": "999999999999"}, 404, "village"),
        ({"beat": "no-such-beat"}, 404, "beat"),
    ],
)
def test_bad_input(kpi_client: TestClient, params: dict, status: int, parameter: str) -> None:
    """A bad period or an unknown code: problem+json naming the parameter to fix."""
    reply = kpi_client.get("/api/v1/kpis", params=params)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body.get("parameter") == parameter or parameter in body.get("detail", ""), body


def test_stamps_follow_new_steps(timelines: Timelines) -> None:
    """A step stored after the numbers were read changes them at once (the stamp follows the
    timeline), and a rolled-back step leaves them as they were."""
    with psycopg.connect(timelines.url) as conn:
        incident_id, received = conn.execute(  # a police call just taken, nobody sent yet
            """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7)
               SELECT 'STAMP1', received_at + interval '1 minute', 'theft', 'received', geom,
                      village_id, grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7
               FROM incident WHERE beat_id IS NOT NULL ORDER BY id LIMIT 1
               RETURNING id, received_at"""
        ).fetchone()
        assert conn.execute(
            "SELECT police, dispatch_at, cancelled FROM incident_kpi WHERE incident_id = %s",
            (incident_id,),
        ).fetchone() == (True, None, False)
        conn.execute("SAVEPOINT before_steps")
        conn.execute(
            """INSERT INTO incident_step (incident_id, kind, at, actor, call_sign)
               VALUES (%s, 'dispatch', %s, 't', 'U01'), (%s, 'arrive', %s, 't', 'U01')""",
            (
                incident_id,
                received + timedelta(minutes=2),
                incident_id,
                received + timedelta(minutes=4),
            ),
        )
        stamped = conn.execute(
            "SELECT dispatch_at - received_at, arrive_at - received_at FROM incident_kpi"
            " WHERE incident_id = %s",
            (incident_id,),
        ).fetchone()
        assert stamped == (timedelta(minutes=2), timedelta(minutes=4))
        conn.execute("ROLLBACK TO SAVEPOINT before_steps")
        after = conn.execute(
            "SELECT dispatch_at FROM incident_kpi WHERE incident_id = %s", (incident_id,)
        ).fetchone()
        assert after == (None,)
        conn.rollback()  # the call too: the session's timelines stay as read


def test_a_call_stored_before_later_ones_restamps_their_repeats(timelines: Timelines) -> None:
    """A call stored with a time before incidents already stored (history arriving late) makes
    the later calls from the same phone repeats at once: their gap becomes the time since it
    when that is shorter than the one stamped before (rolled back afterwards)."""
    rng = np.random.default_rng(12)
    with psycopg.connect(timelines.url) as conn:
        later = conn.execute(
            """SELECT i.id, i.caller_phone, k.repeat_gap FROM incident i
               JOIN incident_kpi k ON k.incident_id = i.id
               WHERE i.caller_phone IS NOT NULL ORDER BY i.id"""
        ).fetchall()
        for n, (incident_id, phone, gap) in enumerate(
            later[i] for i in rng.choice(len(later), size=8, replace=False)
        ):
            before = timedelta(minutes=int(rng.integers(1, 600)))
            conn.execute(
                """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                         grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7, caller_phone)
                   SELECT %s, received_at - %s, category, 'closed', geom, village_id, grid_id,
                          beat_id, h3, h3_r9, h3_r8, h3_r7, caller_phone
                   FROM incident WHERE id = %s""",
                (f"LATE{n}", before, incident_id),
            )
            stamped = conn.execute(
                "SELECT repeat_gap FROM incident_kpi WHERE incident_id = %s", (incident_id,)
            ).fetchone()
            assert stamped == (before if gap is None else min(gap, before),), (phone, gap)
        conn.rollback()
