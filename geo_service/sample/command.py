"""The command room's year: each incident's timeline (dispatch, arrival, close, callback; diversion
to the response team for some non-police calls), the units' duty shifts of the last month and
the fixes of their trips to the incidents of that month. Incident statuses follow the timelines.

Generated, with these rules (see data/boundaries/PROVENANCE.md):

- units are the beat officers of the last published plan: the community officer by car, the
  auxiliary officers by motorbike and e-bike (on foot in a community's beat);
- dispatch 1-3 minutes after the call (a log-normal around 100 s, within 45 s .. 5 min);
- the unit sets off on patrol about halfway between its beat's police work point and the call
  (give or take 250 m); the way by road is taken as 1.35 times the straight line plus 50 m, at
  the unit kind's speed (car 9 m/s, motorbike 8, e-bike 5.5, on foot 1.4), so arrivals are
  quick near the work points in the town centre and slow at the edges;
- about 40 % of non-police calls are diverted to the response team, who accept them within
  half an hour mostly; 1.5 % of calls are cancelled before dispatch;
- 85 % of closed incidents are called back, 96 % satisfied, 3.5 % basically satisfied;
- in the last month a unit on duty (its shift covers the call) is sent, and its trip is a fix
  every 20 s on the straight line: the automatic arrival is stamped where it comes within 50 m;
- steps after the sample's moment (END_OF_DATA) have not happened: the incidents of the last
  hours are still open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_service.sample.people import PLAN_META, Beats
from geo_service.sample.world import DAY, END_OF_DATA, Points, World, epoch, iso

SHIFT_DAYS = 31  # duty shifts of the last month before END_OF_DATA
SPEED_M_S = {"car": 9.0, "motorbike": 8.0, "ebike": 5.5, "foot": 1.4}
DETOUR = 1.35  # road distance / straight line
ARRIVAL_RADIUS_M = 50.0
TRIP_FIX_S = 20
DIVERTED_SHARE = 0.4
CANCELLED_SHARE = 0.015
CALLBACK_SHARE = 0.85
ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
ANSWER_P = (0.96, 0.035, 0.005)
RESULTS = {
    "theft": ("recorded and filed", "property returned", "suspect identified"),
    "fraud": ("recorded and filed", "payment stopped", "advice given"),
    "dispute": ("mediated on scene", "referred to the village committee", "mediated"),
    "traffic": ("scene cleared", "handed to traffic police", "parties agreed"),
    "public_order": ("dispersed", "warned", "detained"),
    "assistance": ("helped", "escorted home", "handed to family"),
    "drowning": ("rescued", "searched, not found", "false alarm"),
    "non_police": ("advice given", "handled", "referred"),
}
# a day shift 08:00-20:00 and a night shift 20:00-08:00 (station time), in a 4-day turn
CYCLE = ("day", "day", "night", "off")


@dataclass
class Command:
    """What the command room's stage adds: steps, shifts, trip fixes, and new statuses."""

    steps: pd.DataFrame  # call_no, kind, at, actor, source, call_sign, result, note, lon, lat
    shifts: pd.DataFrame  # person_code, call_sign, unit_kind, starts_at, ends_at
    fixes: Points  # person_code, recorded_at (metric points)
    status: list[str]
    trips: list[tuple[str, int, int]]  # person_code, first and last second of each trip


def _units(
    world: World, beats: Beats, people: pd.DataFrame, officers: list[tuple[str, int]]
) -> pd.DataFrame:
    """The units: each beat officer of the last plan under a call sign, with their kind."""
    role = dict(zip(people["code"], people["role"], strict=True))
    work = {name: xy for name, kind, xy in world.places if kind == "police_work_point"}
    rows = []
    seen: dict[int, int] = {}
    for code, b in officers:
        k = seen.get(b, 0)
        seen[b] = k + 1
        home = work.get(f"{beats.names[b]}警务工作点")
        village = world.village_of_points(np.array([home]))[0] if home is not None else -1
        town = village >= 0 and world.village_kind[village] == "community"
        if role[code] == "community_officer":
            kind = "car"
        else:
            kind = ("motorbike", "foot" if town else "ebike")[k % 2]
        rows.append((code, f"{beats.codes[b]}-{k + 1}", kind, b, home))
    return pd.DataFrame(rows, columns=["person_code", "call_sign", "unit_kind", "beat", "home"])


def _shifts(units: pd.DataFrame) -> pd.DataFrame:
    """Each unit's shifts over the last month in its turn of CYCLE."""
    end = epoch(END_OF_DATA)
    first_day = end - SHIFT_DAYS * DAY  # a station midnight
    rows = []
    for u, unit in enumerate(units.itertuples()):
        for d in range(SHIFT_DAYS):
            turn = CYCLE[(d + u) % len(CYCLE)]
            if turn == "off":
                continue
            start = first_day + d * DAY + (8 if turn == "day" else 20) * 3600
            rows.append((unit.person_code, unit.call_sign, unit.unit_kind, start, start + DAY // 2))
    frame = pd.DataFrame(
        rows, columns=["person_code", "call_sign", "unit_kind", "starts_at", "ends_at"]
    )
    return frame


def build_command(
    rng: np.random.Generator,
    world: World,
    beats: Beats,
    people: pd.DataFrame,
    officers: list[tuple[str, int]],
    incidents: Points,
) -> Command:
    """Timelines of every incident, the last month's duty shifts and trip fixes (see above)."""
    end = epoch(END_OF_DATA)
    cols = incidents.columns
    n = len(cols["call_no"])
    received = pd.to_datetime(pd.Series(cols["received_at"]), utc=True)
    t = ((received - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
    category = np.array(cols["category"], dtype=object)
    xy = incidents.xy_m
    units = _units(world, beats, people, officers)
    shifts = _shifts(units)

    # the beat of each incident in the last published plan, and its units
    last = [p for p in beats.plans if PLAN_META[p][1] == "published"][-1]
    tree = shapely.STRtree(world.grid_ll)
    hit_in, hit_grid = tree.query(shapely.points(world.frame.to_ll(xy)), predicate="within")
    grid = np.full(n, -1)
    grid[hit_in] = hit_grid
    beat = np.where(grid >= 0, beats.plans[last][np.maximum(grid, 0)], 0)
    by_beat = {b: g.index.to_numpy() for b, g in units.groupby("beat")}
    all_units = units.index.to_numpy()

    # what happens to each call
    draw = rng.random(n)
    diverted = (category == "non_police") & (draw < DIVERTED_SHARE)
    cancelled = ~diverted & (rng.random(n) < CANCELLED_SHARE)
    dispatched = ~diverted & ~cancelled

    # the unit of each dispatched call: its beat's (in the last month, one on duty then)
    unit = np.full(n, -1)
    month = t >= end - SHIFT_DAYS * DAY
    # shifts are 12-hour slots from 08:00 of the month's first day: the units on duty by slot
    s_unit = shifts["call_sign"].map(dict(zip(units["call_sign"], units.index, strict=True)))
    first_slot = end - SHIFT_DAYS * DAY + 8 * 3600
    s_slot = (shifts["starts_at"].to_numpy() - first_slot) // (DAY // 2)
    on_duty = {
        int(slot): np.sort(part.to_numpy())
        for slot, part in pd.Series(s_unit.to_numpy()).groupby(s_slot)
    }
    no_unit = np.empty(0, dtype=np.int64)
    homes = np.vstack([h if h is not None else xy[0] for h in units["home"]])
    for j in np.flatnonzero(dispatched).tolist():
        own = by_beat.get(int(beat[j]), all_units)
        if month[j]:
            on = on_duty.get(int((t[j] - first_slot) // (DAY // 2)), no_unit)
            mine = np.intersect1d(on, own)
            if len(mine):
                own = mine
            elif len(on):  # the nearest unit on duty elsewhere
                own = on[[np.argmin(np.hypot(*(homes[on] - xy[j]).T))]]
        unit[j] = own[rng.integers(len(own))]

    # times
    dispatch_at = t + np.clip(rng.lognormal(np.log(100), 0.35, n), 45, 300).astype(np.int64)
    # on patrol: about halfway between the work point and the call, give or take 250 m
    home_xy = np.where(unit[:, None] >= 0, homes[np.maximum(unit, 0)], xy)
    start_xy = home_xy + 0.5 * (xy - home_xy) + rng.normal(0, 250, (n, 2))
    bad = ~world.accept_points(start_xy, None)
    start_xy[bad] = home_xy[bad]
    straight = np.hypot(*(xy - start_xy).T)
    kinds = units["unit_kind"].to_numpy()[np.maximum(unit, 0)]
    speed = np.array([SPEED_M_S[k] for k in kinds])
    travel = (DETOUR * straight + 50.0) / speed + rng.uniform(15, 45, n)
    arrive_at = dispatch_at + travel.astype(np.int64) + rng.integers(0, 30, n)
    close_at = arrive_at + rng.integers(10 * 60, 120 * 60, n)
    divert_at = t + rng.integers(20, 90, n)
    accept_at = divert_at + np.clip(rng.lognormal(np.log(12 * 60), 0.6, n), 60, 3 * 3600).astype(
        np.int64
    )
    team_close_at = accept_at + rng.integers(30 * 60, 240 * 60, n)
    cancel_at = t + rng.integers(30, 240, n)
    called_back = rng.random(n) < CALLBACK_SHARE
    callback_at = np.where(diverted, team_close_at, close_at) + rng.integers(2 * 3600, 72 * 3600, n)
    answer = np.array(ANSWERS, dtype=object)[rng.choice(3, n, p=ANSWER_P)]
    result_pick = rng.integers(0, 3, n)

    rows: list[tuple] = []
    trip_xy: list[np.ndarray] = []
    trip_t: list[np.ndarray] = []
    trip_who: list[np.ndarray] = []
    call_signs = units["call_sign"].to_numpy()
    persons = units["person_code"].to_numpy()
    status = []
    busy_until: dict[str, int] = {}
    trips: list[tuple[str, int, int]] = []
    for i in range(n):
        no = cols["call_no"][i]
        steps: list[tuple] = []
        if cancelled[i]:
            steps.append((cancel_at[i], "cancel", "reported", None, None, "caller cancelled", None))
        elif diverted[i]:
            steps.append((divert_at[i], "divert", "reported", None, None, None, None))
            steps.append((accept_at[i], "accept", "reported", None, None, None, None))
            result = RESULTS["non_police"][result_pick[i]]
            steps.append((team_close_at[i], "close", "reported", None, result, None, None))
        else:
            sign = call_signs[unit[i]]
            steps.append((dispatch_at[i], "dispatch", "reported", sign, None, None, None))
            who = persons[unit[i]]
            # the trip's fixes, and the automatic arrival they give (a unit already on a trip
            # then, sent twice in the sample, leaves no fixes for the second)
            if month[i] and dispatch_at[i] > busy_until.get(who, 0):
                secs = np.arange(0, max(int(travel[i]), 1) + TRIP_FIX_S, TRIP_FIX_S)
                frac = np.minimum(secs / travel[i], 1.0)[:, None]
                path = start_xy[i] + frac * (xy[i] - start_xy[i])
                at = dispatch_at[i] + secs
                keep = at <= end
                trip_xy.append(path[keep])
                trip_t.append(at[keep])
                trip_who.append(np.full(int(keep.sum()), who, dtype=object))
                busy_until[who] = int(at[-1])
                trips.append((who, int(dispatch_at[i]), int(at[-1])))
                near = np.flatnonzero(np.hypot(*(path - xy[i]).T) <= ARRIVAL_RADIUS_M)
                if len(near):
                    k = near[0]
                    auto = (at[k], "arrive", "automatic", sign, None, None, path[k])
                    steps.append(auto)
            steps.append((arrive_at[i], "arrive", "reported", sign, None, None, xy[i]))
            result = RESULTS[category[i]][result_pick[i]]
            steps.append((close_at[i], "close", "reported", None, result, None, None))
        if called_back[i] and not cancelled[i]:
            steps.append((callback_at[i], "callback", "reported", None, answer[i], None, None))
        state = "received"
        for when, kind, source, sign, result, note, where in sorted(steps, key=lambda s: s[0]):
            if when > end:
                break
            x, y = (float(where[0]), float(where[1])) if where is not None else (np.nan, np.nan)
            actor = "auto" if source == "automatic" else "sample"
            rows.append((no, kind, int(when), actor, source, sign, result, note, x, y))
            state = {
                "dispatch": "arrived" if state == "arrived" else "dispatched",
                "arrive": "arrived",
                "close": "closed",
                "divert": "diverted",
                "accept": "accepted",
                "cancel": "cancelled",
            }.get(kind, state)
        status.append(state)
    table = pd.DataFrame(
        rows,
        columns=[
            "call_no",
            "kind",
            "at",
            "actor",
            "source",
            "call_sign",
            "result",
            "note",
            "x",
            "y",
        ],
    )
    table["at"] = iso(table["at"].to_numpy())
    placed = table["x"].notna().to_numpy()
    lonlat = np.full((len(table), 2), np.nan)
    if placed.any():
        lonlat[placed] = world.frame.to_ll(table.loc[placed, ["x", "y"]].to_numpy())
    table = table.drop(columns=["x", "y"]).assign(lon=lonlat[:, 0], lat=lonlat[:, 1])
    shifts = shifts.assign(
        starts_at=iso(shifts["starts_at"].to_numpy()), ends_at=iso(shifts["ends_at"].to_numpy())
    )
    if trip_xy:
        fxy, ft, fwho = np.vstack(trip_xy), np.concatenate(trip_t), np.concatenate(trip_who)
    else:
        fxy, ft, fwho = np.empty((0, 2)), np.empty(0, np.int64), np.empty(0, object)
    ok = world.accept_points(fxy, None)
    fixes = Points(fxy[ok], {"person_code": fwho[ok].tolist(), "recorded_at": list(iso(ft[ok]))})
    return Command(steps=table, shifts=shifts, fixes=fixes, status=status, trips=trips)


def command_layers(
    world: World, command: Command, patrol: Points
) -> dict[str, tuple[pd.DataFrame, np.ndarray | None]]:
    """The layers the command room's stage writes: duty_shift, incident_step (an attribute
    table: lon and lat where an arrival was, empty for the other steps) and position_fix with
    the trips' fixes added to the patrols' (by person, then time)."""
    # a unit on its way to a call is not on patrol: its patrol fixes in a trip's time go
    patrol_who = np.array(patrol.columns["person_code"], dtype=object)
    patrol_t = pd.to_datetime(pd.Series(patrol.columns["recorded_at"]), utc=True)
    seconds = ((patrol_t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    off = np.zeros(len(patrol_who), dtype=bool)
    fixes_of = pd.Series(np.arange(len(patrol_who))).groupby(patrol_who).indices
    trips = pd.DataFrame(command.trips, columns=["who", "first", "last"])
    for person, own in trips.groupby("who"):  # a unit's trips never overlap
        idx = fixes_of.get(person)
        if idx is None:
            continue
        first, last = own["first"].to_numpy(), own["last"].to_numpy()
        order = np.argsort(first)
        first, last = first[order], last[order]
        k = np.searchsorted(first, seconds[idx], side="right") - 1
        off[idx] = (k >= 0) & (seconds[idx] <= last[np.maximum(k, 0)])
    kept = np.flatnonzero(~off)
    xy = np.vstack([patrol.xy_m[kept], command.fixes.xy_m])
    who = np.concatenate([patrol_who[kept], np.array(command.fixes.columns["person_code"], object)])
    at = np.concatenate(
        [
            np.array(patrol.columns["recorded_at"], dtype=object)[kept],
            np.array(command.fixes.columns["recorded_at"], dtype=object),
        ]
    )
    order = np.lexsort((at, who))
    fixes = pd.DataFrame({"person_code": who[order], "recorded_at": at[order]})
    return {
        "duty_shift": (command.shifts, None),
        "incident_step": (command.steps, None),
        "position_fix": (fixes, shapely.points(world.frame.to_ll(xy[order]))),
    }
