"""The field's history (issue 14): inspections of water markers and rental houses, a summer of
dusk shore patrol check-ins with the rescue poles seen on the way, a finished and an open sweep,
and reports routed to departments. The markers' status and last inspection and the rental
houses' last fire-safety check follow the history (as sql/functions/78_field.sql moves them).

Generated, with these rules (see data/boundaries/PROVENANCE.md):

- each marker or rental house with a last inspection drawn by the water and rentals stages has
  its latest inspection then, with the marker's status as result (one ok rescue pole in eight
  was found missing 3-20 days before and replaced: its latest result is ``replaced``), and
  often an earlier one about a quarter (markers) or half a year (rentals) before;
- a rental house's check has four items (extinguisher, escape route, wiring, e-bikes charged
  indoors), each a problem one time in sixteen; a problem fails the check, with what to fix
  within 2-4 weeks;
- the waters marked for dusk patrols are rivers and ponds meeting villages that have
  volunteers; from June to September each is walked on 60 % of evenings (16:30-20:30) by a
  volunteer of such a village then assigned, who reports up to three of its rescue poles seen;
- a finished sweep (September) and an open one (from 20 October to the end of the year) over
  rental houses and markers of a twentieth of the grids: 88 % of the finished sweep's targets
  and half of the open one's (so far) are inspected within its period;
- inspections are made by the grid worker assigned to the thing's grid at the time (the
  grid by the boundary rule: the lowest code of the grids whose outline holds it), standing a
  few metres from it; a later inspection than the drawn last one keeps the marker's status;
- reports by grid workers (70 %) and volunteers in their areas over the last half year, routed
  to their category's department a minute later, mostly accepted within hours and closed
  within days (the steps after the sample's moment have not happened).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from geo_service.sample.world import DAY, END_OF_DATA, TZ, Points, World, epoch, iso

# report_category -> department code, as sql/migrations/018_field.sql inserts them
CATEGORY_DEPARTMENT = {
    "fire_hazard": "town_safety",
    "water_hazard": "town_water",
    "road_hazard": "town_urban",
    "environment": "town_urban",
    "dispute": "town_mediation",
    "public_order": "station",
    "help": "response_team",
    "other": "response_team",
}
CATEGORY_P = (0.2, 0.15, 0.15, 0.15, 0.12, 0.08, 0.1, 0.05)
REPORT_NOTES = {
    "fire_hazard": ("楼道堆放杂物", "电瓶车室内充电", "私拉电线", "灭火器过期"),
    "water_hazard": ("救援竹竿缺失", "河岸护栏损坏", "有儿童在塘边玩水", "警示牌倒伏"),
    "road_hazard": ("路面塌陷", "路灯不亮", "井盖缺失"),
    "environment": ("垃圾乱倒", "河面漂浮物多", "污水外排"),
    "dispute": ("邻里宅基地纠纷", "租户与房东欠租纠纷", "噪音扰民"),
    "public_order": ("可疑人员出没", "夜间聚众喝酒", "电动车被盗"),
    "help": ("独居老人需要帮助", "走失老人", "门锁被锁"),
    "other": ("群众反映问题", "其他情况"),
}
CLOSE_NOTES = ("已处理", "已整改到位", "已调解", "已移交相关部门", "已清理")
ITEMS = ("extinguisher", "escape_route", "wiring", "ebike_indoor_charging")
ITEM_FIX = {
    "extinguisher": "更换过期灭火器",
    "escape_route": "清理楼道杂物,保持逃生通道畅通",
    "wiring": "整改私拉乱接电线",
    "ebike_indoor_charging": "电动自行车不得室内充电,移至集中充电点",
}
ITEM_PROBLEM_P = 1 / 16
REPLACED_SHARE = 0.125  # of ok rescue poles: found missing, then replaced
SUMMER = (datetime(2026, 6, 1, tzinfo=TZ), datetime(2026, 10, 1, tzinfo=TZ))
WALKED_SHARE = 0.6
SWEEPS = (
    # name, starts, ends, share of grids, share of targets done in the period (so far)
    (
        "2026年9月出租房消防与防溺水梳网清格",
        datetime(2026, 9, 1, tzinfo=TZ),
        datetime(2026, 10, 1, tzinfo=TZ),
        0.88,
    ),
    (
        "2026年冬季出租房消防与防溺水梳网清格",
        datetime(2026, 10, 20, tzinfo=TZ),
        datetime(2027, 1, 1, tzinfo=TZ),
        0.5,
    ),
)
SWEEP_GRID_SHARE = 0.05
HISTORY_FROM = epoch(datetime(2025, 1, 2, tzinfo=TZ))  # grid workers are assigned from 2025
# (a drawn last inspection before then is moved to 10:00 that day)


@dataclass
class Field:
    """The field's layers, as attribute tables (lon/lat where a place is)."""

    patrol_water: pd.DataFrame
    inspection: pd.DataFrame
    sweep: pd.DataFrame
    sweep_grid: pd.DataFrame
    report: pd.DataFrame
    report_step: pd.DataFrame

    def layers(self) -> dict[str, tuple[pd.DataFrame, np.ndarray | None]]:
        """The layers in the order they load."""
        return {
            "patrol_water": (self.patrol_water, None),
            "inspection": (self.inspection, None),
            "sweep": (self.sweep, None),
            "sweep_grid": (self.sweep_grid, None),
            "report": (self.report, None),
            "report_step": (self.report_step, None),
        }


def _seconds(text: list) -> np.ndarray:
    """ISO texts (None allowed) as epoch seconds (-1 for None)."""
    t = pd.to_datetime(pd.Series(text, dtype=object), utc=True)
    out = ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(
        dtype=float, na_value=np.nan
    )
    return np.where(np.isnan(out), -1, out).astype(np.int64)


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n deterministic version-4 UUIDs drawn from rng, as text."""
    raw = rng.bytes(16 * n)
    return np.array(
        [str(uuid.UUID(bytes=raw[16 * k : 16 * k + 16], version=4)) for k in range(n)],
        dtype=object,
    )


def _grid_of(world: World, xy_m: np.ndarray) -> np.ndarray:
    """Each metric point's grid by the boundary rule (the lowest code among the grids whose
    closed outline holds it), -1 outside every grid."""
    pts = shapely.points(world.frame.to_ll(xy_m))
    hit_pt, hit_grid = shapely.STRtree(world.grid_ll).query(pts, predicate="intersects")
    rank = np.argsort(np.argsort(np.array(world.grid_code, dtype=object)))
    out = np.full(len(pts), -1)
    if len(hit_pt):
        order = np.lexsort((rank[hit_grid], hit_pt))
        first = np.unique(hit_pt[order], return_index=True)[1]
        out[hit_pt[order][first]] = hit_grid[order][first]
    return out


def _in_force(assignments: pd.DataFrame, role: str, area_kind: str) -> pd.DataFrame:
    """Assignments of a role to areas of a kind: person, area code, from and to (seconds)."""
    rows = assignments[(assignments["role"] == role) & (assignments["area_kind"] == area_kind)]
    to = _seconds(rows["valid_to"].tolist())
    return pd.DataFrame(
        {
            "person": rows["person_code"].to_numpy(),
            "area": rows["area_code"].to_numpy(),
            "since": _seconds(rows["valid_from"].tolist()),
            "until": np.where(to < 0, np.iinfo(np.int64).max, to),
        }
    )


def _who(
    rng: np.random.Generator, areas: np.ndarray, t: np.ndarray, staff: pd.DataFrame
) -> np.ndarray:
    """For each (area code, moment), a person assigned to that area then (None if nobody)."""
    asked = pd.DataFrame({"k": np.arange(len(t)), "area": areas, "t": t})
    pairs = asked.merge(staff, on="area")
    pairs = pairs[(pairs["since"] <= pairs["t"]) & (pairs["t"] < pairs["until"])]
    pairs = pairs.assign(draw=rng.random(len(pairs))).sort_values(["k", "draw"])
    first = pairs.drop_duplicates("k")
    out = np.full(len(t), None, dtype=object)
    out[first["k"].to_numpy()] = first["person"].to_numpy()
    return out


def _daytime(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A moment between 08:30 and 17:30 station time on the day of each t."""
    midnight = (t + 8 * 3600) // DAY * DAY - 8 * 3600
    return midnight + rng.integers(int(8.5 * 3600), int(17.5 * 3600), len(t))


def build_field(
    rng: np.random.Generator,
    world: World,
    assignments: pd.DataFrame,
    markers: Points,
    rentals: Points,
) -> Field:
    """The field's history (see above); moves markers' status and last_inspected_at and rental
    houses' last_fire_check_at to what their latest inspection says."""
    end = epoch(END_OF_DATA)
    workers = _in_force(assignments, "grid_worker", "grid")
    volunteers = _in_force(assignments, "volunteer", "village")
    grid_code = np.array(world.grid_code, dtype=object)

    m = markers.columns
    m_code = np.array(m["code"], dtype=object)
    m_kind = np.array(m["kind"], dtype=object)
    m_body = np.array(m["water_body_code"], dtype=object)
    m_status = np.array(m["status"], dtype=object)
    m_last = _seconds(m["last_inspected_at"])
    m_installed = _seconds(m["installed_at"])
    m_grid = _grid_of(world, markers.xy_m)
    r_code = np.array(rentals.columns["code"], dtype=object)
    r_last = _seconds(rentals.columns["last_fire_check_at"])
    r_grid = _grid_of(world, rentals.xy_m)

    # --- water markers: the latest inspection as drawn, a pole replaced, an earlier one
    has = np.flatnonzero((m_last >= 0) & (m_grid >= 0))
    last_t = np.maximum(m_last[has], HISTORY_FROM + 10 * 3600)
    result = m_status[has].copy()
    replaced = (m_kind[has] == "rescue_pole") & (result == "ok")
    replaced &= rng.random(len(has)) < REPLACED_SHARE
    result[replaced] = "replaced"
    found_t = last_t[replaced] - rng.integers(3 * DAY, 20 * DAY, int(replaced.sum()))
    earlier = rng.random(len(has)) < 0.7
    early_t = last_t[earlier] - rng.integers(80 * DAY, 100 * DAY, int(earlier.sum()))
    early_r = np.where(rng.random(int(earlier.sum())) < 0.9, "ok", "damaged")
    marker_rows = pd.DataFrame(
        {
            "thing": np.concatenate([has, has[replaced], has[earlier]]),
            "t": np.concatenate([last_t, found_t, early_t]),
            "result": np.concatenate([result, np.full(len(found_t), "missing"), early_r]),
        }
    )

    # --- sweeps: their grids, and inspections of their targets within the period
    sweep_rows: list[tuple[str, str, str, str]] = []
    sweep_grid_rows: list[tuple[str, str]] = []
    swept_m: list[tuple[np.ndarray, np.ndarray]] = []
    swept_r: list[tuple[np.ndarray, np.ndarray]] = []
    taken = np.zeros(len(grid_code), dtype=bool)
    n_grids = max(3, round(len(grid_code) * SWEEP_GRID_SHARE))
    for name, starts, ends, share in SWEEPS:
        s0, s1 = epoch(starts), epoch(ends)
        grids = np.sort(rng.choice(np.flatnonzero(~taken), n_grids, replace=False))
        taken[grids] = True
        sweep_rows.append(
            (name, iso(np.array([s0]))[0], iso(np.array([s1]))[0], "rental_house,water_marker")
        )
        sweep_grid_rows += [(name, grid_code[g]) for g in grids]
        upto = min(s1, end) - 2 * 3600
        for grid_of, out in ((m_grid, swept_m), (r_grid, swept_r)):
            things = np.flatnonzero(np.isin(grid_of, grids))
            done = things[rng.random(len(things)) < share]
            out.append((done, _daytime(rng, rng.integers(s0, upto - DAY, len(done)))))
    sm = np.concatenate([d for d, _ in swept_m])
    sm_t = np.concatenate([t for _, t in swept_m])
    # before the drawn latest: mostly ok; after it: the status stays as drawn
    planned = np.where(m_last[sm] >= 0, m_last[sm], np.iinfo(np.int64).max)
    later = sm_t > planned
    sm_result = np.where(rng.random(len(sm)) < 0.92, "ok", "damaged").astype(object)
    sm_result[later | (m_last[sm] < 0)] = m_status[sm][later | (m_last[sm] < 0)]
    marker_rows = pd.concat(
        [marker_rows, pd.DataFrame({"thing": sm, "t": sm_t, "result": sm_result})]
    )
    marker_rows = marker_rows[
        (marker_rows["t"] >= HISTORY_FROM)
        & (marker_rows["t"] > m_installed[marker_rows["thing"].to_numpy()])
    ]

    # --- dusk patrols: the waters, the evenings walked, the poles seen
    patrol, checkins, poles = _patrols(rng, world, volunteers, m_code, m_kind, m_body, m_last)
    poles_result = np.where(rng.random(len(poles)) < 0.94, "ok", "damaged").astype(object)
    pole_thing = poles["thing"].to_numpy()
    after = poles["t"].to_numpy() > m_last[pole_thing]
    poles_result[after] = m_status[pole_thing][after]
    poles = poles.assign(result=poles_result)

    # --- markers' inspections as rows (the grid worker of the marker's grid then)
    k = marker_rows["thing"].to_numpy()
    mt = marker_rows["t"].to_numpy()
    who = _who(rng, grid_code[m_grid[k]], mt, workers)
    keep = who != None  # noqa: E711 (an array of objects)
    k, mt, who = k[keep], mt[keep], who[keep]
    mres = marker_rows["result"].to_numpy()[keep]
    near = markers.xy_m[k] + rng.normal(0, 4.0, (len(k), 2))
    marker_insp = pd.DataFrame(
        {
            "client_id": _uuids(rng, len(k)),
            "kind": "water_marker",
            "code": m_code[k],
            "t": mt,
            "person_code": who,
            "result": mres,
            "items": None,
            "fix_what": None,
            "fix_by": None,
            "note": _or_none(mres == "replaced", "已补设救援竹竿"),
            "check_in_client_id": None,
            "x": near[:, 0],
            "y": near[:, 1],
            "accuracy_m": np.round(rng.uniform(3, 15, len(k)), 1),
        }
    )

    # --- rental houses: the latest check as drawn, an earlier one, the sweeps'
    rh = np.flatnonzero((r_last >= 0) & (r_grid >= 0))
    r_early = rh[rng.random(len(rh)) < 0.6]
    sr = np.concatenate([d for d, _ in swept_r])
    sr_t = np.concatenate([t for _, t in swept_r])
    rk = np.concatenate([rh, r_early, sr])
    rt = np.concatenate(
        [
            np.maximum(r_last[rh], HISTORY_FROM + 10 * 3600),
            r_last[r_early] - rng.integers(150 * DAY, 200 * DAY, len(r_early)),
            sr_t,
        ]
    )
    ok = rt >= HISTORY_FROM
    rk, rt = rk[ok], rt[ok]
    r_who = _who(rng, grid_code[r_grid[rk]], rt, workers)
    keep = r_who != None  # noqa: E711
    rk, rt, r_who = rk[keep], rt[keep], r_who[keep]
    problem = rng.random((len(rk), len(ITEMS))) < ITEM_PROBLEM_P
    failed: np.ndarray = np.asarray(problem.any(axis=1))
    # written as PostgreSQL writes jsonb (keys by length, then bytes), so an export matches
    shown = sorted(range(len(ITEMS)), key=lambda i: (len(ITEMS[i]), ITEMS[i]))
    items = [
        "{" + ", ".join(f'"{ITEMS[i]}": "{"problem" if row[i] else "ok"}"' for i in shown) + "}"
        for row in problem.tolist()
    ]
    fix_what = np.array(
        [
            ";".join(ITEM_FIX[i] for i, p in zip(ITEMS, row, strict=True) if p) or None
            for row in problem
        ],
        dtype=object,
    )
    fix_day = (rt + 8 * 3600 + rng.integers(14, 29, len(rk)) * DAY).astype("datetime64[s]")
    fix_by = _or_none(failed, np.datetime_as_string(fix_day, unit="D"))
    near = rentals.xy_m[rk] + rng.normal(0, 5.0, (len(rk), 2))
    rental_insp = pd.DataFrame(
        {
            "client_id": _uuids(rng, len(rk)),
            "kind": "rental_house",
            "code": r_code[rk],
            "t": rt,
            "person_code": r_who,
            "result": np.where(failed, "fail", "pass"),
            "items": items,
            "fix_what": fix_what,
            "fix_by": fix_by,
            "note": None,
            "check_in_client_id": None,
            "x": near[:, 0],
            "y": near[:, 1],
            "accuracy_m": np.round(rng.uniform(3, 20, len(rk)), 1),
        }
    )

    # --- check-ins and their poles (the poles' client ids as field_inspect makes them)
    checkin_insp = checkins.assign(
        client_id=_uuids(rng, len(checkins)),
        kind="water_body",
        items=None,
        fix_what=None,
        fix_by=None,
        check_in_client_id=None,
        accuracy_m=np.round(rng.uniform(3, 15, len(checkins)), 1),
    )
    hazard = rng.random(len(checkins)) < 0.03
    checkin_insp["result"] = np.where(hazard, "hazard", "patrolled")
    checkin_insp["note"] = _or_none(hazard, "岸边有儿童玩水,已劝离")
    parent = checkin_insp.set_index("n")
    pole_parent = parent.loc[poles["n"].to_numpy()]
    pole_ids = [
        str(uuid.UUID(hashlib.md5(f"{c}/{code}".encode()).hexdigest()))
        for c, code in zip(pole_parent["client_id"], m_code[pole_thing], strict=True)
    ]
    pole_insp = pd.DataFrame(
        {
            "client_id": pole_ids,
            "kind": "water_marker",
            "code": m_code[pole_thing],
            "t": poles["t"].to_numpy(),
            "person_code": pole_parent["person_code"].to_numpy(),
            "result": poles["result"].to_numpy(),
            "items": None,
            "fix_what": None,
            "fix_by": None,
            "note": None,
            "check_in_client_id": pole_parent["client_id"].to_numpy(),
            "x": pole_parent["x"].to_numpy(),
            "y": pole_parent["y"].to_numpy(),
            "accuracy_m": pole_parent["accuracy_m"].to_numpy(),
        }
    )
    checkin_insp = checkin_insp.drop(columns=["n"])

    allinsp = pd.concat(
        [marker_insp, pole_insp, rental_insp, checkin_insp[marker_insp.columns]],
        ignore_index=True,
    )
    allinsp = allinsp[allinsp["t"] <= end]

    # --- the things' fields follow their latest inspection
    latest = allinsp[allinsp["kind"] == "water_marker"].sort_values(["t", "client_id"])
    latest = latest.drop_duplicates("code", keep="last").set_index("code")
    pos = pd.Series(np.arange(len(m_code)), index=m_code)
    idx = pos.loc[latest.index].to_numpy()
    status = m_status.copy()
    status[idx] = np.where(latest["result"] == "replaced", "ok", latest["result"])
    last_text = np.array(m["last_inspected_at"], dtype=object)
    last_text[:] = None
    last_text[idx] = iso(latest["t"].to_numpy())
    m["status"] = status.tolist()
    m["last_inspected_at"] = last_text.tolist()
    latest_r = allinsp[allinsp["kind"] == "rental_house"].groupby("code")["t"].max()
    r_text = np.full(len(r_code), None, dtype=object)
    r_text[pd.Series(np.arange(len(r_code)), index=r_code).loc[latest_r.index].to_numpy()] = iso(
        latest_r.to_numpy()
    )
    rentals.columns["last_fire_check_at"] = r_text.tolist()

    allinsp = allinsp.sort_values(["t", "kind", "code", "client_id"]).reset_index(drop=True)
    ll = world.frame.to_ll(allinsp[["x", "y"]].to_numpy())
    inspection = pd.DataFrame(
        {
            "client_id": allinsp["client_id"],
            "kind": allinsp["kind"],
            "code": allinsp["code"],
            "inspected_at": iso(allinsp["t"].to_numpy()),
            "inspector": "sample",
            "person_code": allinsp["person_code"],
            "result": allinsp["result"],
            "items": allinsp["items"],
            "fix_what": allinsp["fix_what"],
            "fix_by": allinsp["fix_by"],
            "note": allinsp["note"],
            "check_in_client_id": allinsp["check_in_client_id"],
            "lon": ll[:, 0],
            "lat": ll[:, 1],
            "accuracy_m": allinsp["accuracy_m"].astype(float),
        }
    )
    sweep = pd.DataFrame(sweep_rows, columns=["name", "starts_at", "ends_at", "target_kinds"])
    sweep = sweep.assign(
        opened_by="sample",
        opened_at=[iso(np.array([_s - 3 * DAY]))[0] for _s in _seconds(sweep["starts_at"])],
        note="派出所、网格员逐户逐点过一遍",
    )
    sweep_grid = pd.DataFrame(sweep_grid_rows, columns=["sweep_name", "grid_code"])
    report, steps = _reports(rng, world, workers, volunteers)
    return Field(patrol, inspection, sweep, sweep_grid, report, steps)


def _patrols(
    rng: np.random.Generator,
    world: World,
    volunteers: pd.DataFrame,
    m_code: np.ndarray,
    m_kind: np.ndarray,
    m_body: np.ndarray,
    m_last: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The waters marked for patrol, the evening check-ins (n, water code, t, person_code, x,
    y) and the poles seen (n of the check-in, thing, t)."""
    kinds = np.array([k for _, k, _ in world.water], dtype=object)
    geoms = np.array([g for _, _, g in world.water], dtype=object)
    codes = np.array([f"WB{b + 1:05d}" for b in range(len(geoms))], dtype=object)
    manned = set(volunteers["area"])
    village_code = np.array(world.village_code, dtype=object)
    candidates = np.flatnonzero(np.isin(kinds, ["river", "pond"]))
    hit_w, hit_v = shapely.STRtree(world.village_ll).query(
        world.frame.geom_to_ll(geoms[candidates]), predicate="intersects"
    )
    meets = pd.DataFrame({"w": candidates[hit_w], "village": village_code[hit_v]})
    meets = meets[meets["village"].isin(manned)]
    eligible = np.unique(meets["w"].to_numpy())
    n = min(len(eligible), max(10, int(len(volunteers) * 0.75)))
    chosen = np.sort(rng.choice(eligible, n, replace=False))
    marked_at = iso(epoch(datetime(2026, 5, 20, tzinfo=TZ)) + rng.integers(0, 10, n) * DAY)
    patrol = pd.DataFrame({"water_body_code": codes[chosen], "marked_at": marked_at})

    # each evening of the summer, each water walked or not; by a volunteer in force then
    first, last = epoch(SUMMER[0]), epoch(SUMMER[1])
    days = np.arange(first, last, DAY)
    w = np.repeat(chosen, len(days))
    d = np.tile(days, len(chosen))
    walked = rng.random(len(w)) < WALKED_SHARE
    w, d = w[walked], d[walked]
    t = d + rng.integers(int(16.5 * 3600), int(20.5 * 3600), len(w))
    staff = meets[meets["w"].isin(chosen)].merge(volunteers, left_on="village", right_on="area")
    asked = pd.DataFrame({"n": np.arange(len(w)), "w": w, "t": t})
    pairs = asked.merge(staff[["w", "person", "since", "until"]], on="w")
    pairs = pairs[(pairs["since"] <= pairs["t"]) & (pairs["t"] < pairs["until"])]
    pairs = pairs.assign(draw=rng.random(len(pairs))).sort_values(["n", "draw"])
    pick = pairs.drop_duplicates("n")
    n_idx = pick["n"].to_numpy()
    w, t = w[n_idx], t[n_idx]
    # where: a few metres off the shore, at a random point of it
    shore = shapely.boundary(geoms[w])
    at = shapely.line_interpolate_point(shore, rng.random(len(w)), normalized=True)
    xy = shapely.get_coordinates(at) + rng.normal(0, 3.0, (len(w), 2))
    checkins = pd.DataFrame(
        {
            "n": np.arange(len(w)),
            "code": codes[w],
            "t": t,
            "person_code": pick["person"].to_numpy(),
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    # up to three rescue poles of the water seen on the way (inspected before: a drawn last)
    pole = np.flatnonzero((m_kind == "rescue_pole") & (m_last >= 0))
    of_body = pd.Series(pole).groupby(m_body[pole]).apply(lambda s: s.to_numpy()).to_dict()
    rows_n, rows_thing = [], []
    for c, (code, count) in enumerate(
        zip(checkins["code"], rng.integers(0, 4, len(checkins)), strict=True)
    ):
        mine = of_body.get(code)
        if mine is None or count == 0:
            continue
        seen = rng.choice(mine, min(int(count), len(mine)), replace=False)
        rows_n += [c] * len(seen)
        rows_thing += seen.tolist()
    poles = pd.DataFrame(
        {
            "n": np.array(rows_n, dtype=np.int64),
            "thing": np.array(rows_thing, dtype=np.int64),
            "t": checkins["t"].to_numpy()[np.array(rows_n, dtype=np.int64)],
        }
    )
    return patrol, checkins, poles


def _reports(
    rng: np.random.Generator, world: World, workers: pd.DataFrame, volunteers: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reports in the reporters' areas over the last half year, and their steps."""
    end = epoch(END_OF_DATA)
    n = int(np.clip(len(world.grid_code), 100, 5_000))
    t = _daytime(rng, rng.integers(end - 182 * DAY, end - 3600, n))
    t = np.minimum(t, end - 600)
    by_worker = rng.random(n) < 0.7
    areas = np.array(world.grid_code, dtype=object)[rng.integers(0, len(world.grid_code), n)]
    vol_villages = np.array(sorted(set(volunteers["area"])), dtype=object)
    areas[~by_worker] = vol_villages[rng.integers(0, len(vol_villages), int((~by_worker).sum()))]
    who = np.full(n, None, dtype=object)
    who[by_worker] = _who(rng, areas[by_worker], t[by_worker], workers)
    who[~by_worker] = _who(rng, areas[~by_worker], t[~by_worker], volunteers)
    keep = who != None  # noqa: E711
    t, areas, who, by_worker = t[keep], areas[keep], who[keep], by_worker[keep]
    n = len(t)
    # the place: inside the grid (2 m in) or the village
    grid_pos = {c: k for k, c in enumerate(world.grid_code)}
    village_pos = {c: k for k, c in enumerate(world.village_code)}
    shapes = np.array(
        [
            world.grid_ll[grid_pos[a]] if w else world.village_ll[village_pos[a]]
            for a, w in zip(areas, by_worker, strict=True)
        ],
        dtype=object,
    )
    inner = shapely.intersection(shapely.buffer(world.frame.geom_to_m(shapes), -2.0), world.safe_m)
    xy = np.vstack([_point_in(rng, g) for g in inner])
    ll = world.frame.to_ll(xy)
    categories = np.array(list(CATEGORY_DEPARTMENT), dtype=object)
    category = categories[rng.choice(len(categories), n, p=CATEGORY_P)]
    note = np.array(
        [
            REPORT_NOTES[c][int(k) % len(REPORT_NOTES[c])]
            for c, k in zip(category, rng.integers(0, 4, n), strict=True)
        ],
        dtype=object,
    )
    client = _uuids(rng, n)
    department = np.array([CATEGORY_DEPARTMENT[c] for c in category], dtype=object)
    route_t = t + rng.integers(5, 60, n)
    accept_t = route_t + np.clip(rng.lognormal(np.log(4 * 3600), 0.8, n), 600, 3 * DAY).astype(
        np.int64
    )
    close_t = accept_t + np.clip(rng.lognormal(np.log(2 * DAY), 0.7, n), 3600, 20 * DAY).astype(
        np.int64
    )
    accepted = (rng.random(n) < 0.95) & (accept_t <= end)
    closed = accepted & (rng.random(n) < 0.97) & (close_t <= end)
    status = np.where(closed, "closed", np.where(accepted, "accepted", "open"))
    report = pd.DataFrame(
        {
            "client_id": client,
            "category": category,
            "status": status,
            "note": note,
            "lon": ll[:, 0],
            "lat": ll[:, 1],
            "reporter": "sample",
            "person_code": who,
            "reported_at": iso(t),
        }
    )
    close_note = np.array(CLOSE_NOTES, dtype=object)[rng.integers(0, len(CLOSE_NOTES), n)]
    steps = pd.concat(
        [
            pd.DataFrame(
                {"report_client_id": client, "kind": "route", "t": route_t, "actor": "auto"}
            ),
            pd.DataFrame(
                {
                    "report_client_id": client[accepted],
                    "kind": "accept",
                    "t": accept_t[accepted],
                    "actor": "sample",
                }
            ),
            pd.DataFrame(
                {
                    "report_client_id": client[closed],
                    "kind": "close",
                    "t": close_t[closed],
                    "actor": "sample",
                    "note": close_note[closed],
                }
            ),
        ],
        ignore_index=True,
    )
    dept_of = dict(zip(client, department, strict=True))
    steps = steps.sort_values(["t", "report_client_id", "kind"]).reset_index(drop=True)
    report_step = pd.DataFrame(
        {
            "report_client_id": steps["report_client_id"],
            "kind": steps["kind"],
            "at": iso(steps["t"].to_numpy()),
            "actor": steps["actor"],
            "department": steps["report_client_id"].map(dept_of),
            "note": steps["note"].astype(object).where(steps["note"].notna(), None),
        }
    )
    order = np.argsort(t, kind="stable")
    return report.iloc[order].reset_index(drop=True), report_step


def _or_none(mask: np.ndarray, values: str | np.ndarray) -> np.ndarray:
    """values where mask holds, None elsewhere (an array of objects)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = values if isinstance(values, str) else np.asarray(values, dtype=object)[mask]
    return out


def _point_in(rng: np.random.Generator, poly: shapely.Geometry) -> np.ndarray:
    """One uniform random point inside a (multi)polygon."""
    minx, miny, maxx, maxy = poly.bounds
    while True:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(32, 2))
        inside = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        if len(inside):
            return inside[0]
