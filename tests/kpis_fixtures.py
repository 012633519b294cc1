"""Timelines for the station's numbers: the small sample's incidents given caller phones and a
year of generated steps (dispatch, arrival reported and automatic, diversion and the team's
acceptance, cancellation, close, callbacks), stored the ways the service stores them (a bulk
COPY, single steps, calls taken out of order, an incident moved), and everything read back as
the owner for the independent recomputation with pandas (tests/test_kpis.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import psycopg
import pytest

from geo_service.db import connect
from tests.conftest import loaded_database

ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
MINUTE = timedelta(minutes=1)


@dataclass
class Timelines:
    """The database with timelines, and what the recomputation reads (as the owner)."""

    url: str
    incidents: pd.DataFrame  # id, received_at, category, caller_phone, lon, lat, village_id,
    #                          village_code, village_kind, grid_id, beat_id, beat_code
    steps: pd.DataFrame  # id, incident_id, kind, at, result


def _minutes(rng: np.random.Generator, low: float, high: float) -> timedelta:
    return timedelta(minutes=float(rng.uniform(low, high)))


def timeline(rng: np.random.Generator, received: pd.Timestamp, category: str) -> list[tuple]:
    """One incident's steps (kind, at, source, call_sign, result): a station's usual handling
    with its odd cases (no dispatch, cancelled, late arrival, two arrivals, two callbacks)."""
    steps: list[tuple] = []
    t = received.to_pydatetime()
    unit = f"U{int(rng.integers(1, 40)):02d}"
    if category == "non_police" and rng.random() < 0.42:
        divert = t + _minutes(rng, 0.5, 4)
        steps.append(("divert", divert, "reported", None, None))
        if rng.random() < 0.9:
            accept = divert + timedelta(minutes=float(rng.exponential(18)))
            steps.append(("accept", accept, "reported", None, None))
            steps.append(("close", accept + _minutes(rng, 5, 90), "reported", None, "handled"))
        return steps + _callbacks(rng, t + timedelta(days=1))
    if rng.random() < 0.03:
        return steps  # never dispatched (still open)
    dispatch = t + _minutes(rng, 0.3, 4)
    steps.append(("dispatch", dispatch, "reported", unit, None))
    if rng.random() < 0.05:
        steps.append(("cancel", dispatch + _minutes(rng, 0.5, 5), "reported", None, "false call"))
        return steps
    if rng.random() < 0.04:
        return steps  # dispatched, no arrival yet
    arrive = dispatch + timedelta(minutes=float(rng.gamma(2.0, 2.6)))
    steps.append(("arrive", arrive, "reported", unit, None))
    if rng.random() < 0.3:  # the unit's fix came within reach: an automatic arrival too
        auto = arrive + timedelta(minutes=float(rng.normal(0, 1.2)))
        steps.append(("arrive", max(auto, dispatch + MINUTE / 6), "automatic", unit, None))
    close = arrive + _minutes(rng, 5, 120)
    steps.append(("close", close, "reported", None, "handled"))
    if rng.random() < 0.82:
        steps += _callbacks(rng, close)
    return steps


def _callbacks(rng: np.random.Generator, after) -> list[tuple]:
    """One callback (sometimes two: the last one counts) with mostly satisfied answers."""
    out = []
    at = after + timedelta(hours=float(rng.uniform(2, 72)))
    for _ in range(2 if rng.random() < 0.05 else 1):
        answer = ANSWERS[int(rng.choice(3, p=[0.86, 0.11, 0.03]))]
        out.append(("callback", at, "reported", None, answer))
        at += timedelta(hours=float(rng.uniform(1, 48)))
    return out


def _copy_steps(conn: psycopg.Connection, rows: list[tuple]) -> None:
    """Steps stored in one COPY statement (one firing of the statement triggers)."""
    with conn.cursor().copy(
        "COPY incident_step (incident_id, kind, at, actor, source, call_sign, result) FROM STDIN"
    ) as copy:
        for incident_id, kind, at, source, call_sign, result in rows:
            copy.write_row((incident_id, kind, at, "sample", source, call_sign, result))


def _phones(conn: psycopg.Connection, rng: np.random.Generator, ids: np.ndarray) -> None:
    """Caller phones for 45 % of the incidents from a pool small enough to give repeat callers,
    set in one UPDATE (the bulk path of the update trigger)."""
    chosen = ids[rng.random(len(ids)) < 0.45]
    pool = [f"13{n:09d}" for n in rng.integers(0, 10**9, size=max(len(chosen) // 3, 1))]
    phones = [pool[int(i)] for i in rng.integers(0, len(pool), size=len(chosen))]
    conn.execute("CREATE TEMP TABLE phone_of (id bigint, phone text) ON COMMIT DROP")
    with conn.cursor().copy("COPY phone_of FROM STDIN") as copy:
        for incident_id, phone in zip(chosen.tolist(), phones, strict=True):
            copy.write_row((incident_id, phone))
    conn.execute("UPDATE incident i SET caller_phone = p.phone FROM phone_of p WHERE p.id = i.id")


def _late_calls(conn: psycopg.Connection, rng: np.random.Generator, n: int) -> list[int]:
    """Calls stored after newer ones (history loaded late): each near an existing incident of
    the same category (10-150 m away) or from an existing caller's phone, received earlier than
    many incidents already stored; one INSERT each, stamped as the loader stamps."""
    ids = [r[0] for r in conn.execute("SELECT id FROM incident ORDER BY id").fetchall()]
    chosen = [int(i) for i in rng.choice(ids, size=n, replace=False)]  # the seed decides
    rows = conn.execute(
        """SELECT id, received_at, category, caller_phone, ST_X(geom), ST_Y(geom)
           FROM incident JOIN unnest(%s::bigint[]) WITH ORDINALITY c(id, k) USING (id)
           ORDER BY c.k""",
        (chosen,),
    ).fetchall()
    made = []
    for k, (_, received, category, phone, lon, lat) in enumerate(rows):
        metres = float(rng.uniform(10, 150))
        angle = float(rng.uniform(0, 2 * np.pi))
        lon2 = lon + metres * np.cos(angle) / (111_320 * np.cos(np.radians(lat)))
        lat2 = lat + metres * np.sin(angle) / 110_574
        at = received - timedelta(hours=float(rng.uniform(1, 24 * 9)))
        cells = [h3.str_to_int(h3.latlng_to_cell(lat2, lon2, r)) for r in (10, 9, 8, 7)]
        (incident_id,) = conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, caller_phone,
                                     village_id, grid_id, beat_id, h3, h3_r9, h3_r8, h3_r7)
               SELECT %(call_no)s, %(at)s, %(category)s, 'received',
                      ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(phone)s,
                      a.village_id, a.grid_id, a.beat_id, %(h10)s, %(h9)s, %(h8)s, %(h7)s
               FROM (SELECT 1) one
               LEFT JOIN LATERAL areas_at(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                                          %(at)s) a ON true
               RETURNING id""",
            {
                "call_no": f"LATE{k:05d}",
                "at": at,
                "category": category,
                "lon": lon2,
                "lat": lat2,
                "phone": phone if rng.random() < 0.5 else None,
                "h10": cells[0],
                "h9": cells[1],
                "h8": cells[2],
                "h7": cells[3],
            },
        ).fetchone()
        made.append(incident_id)
    return made


def _read(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Incidents (with their village's code and kind, and their beat's code) and steps."""
    with connect(url) as conn:
        inc = pd.DataFrame(
            conn.execute(
                """SELECT i.id, i.received_at, i.category, i.caller_phone, ST_X(i.geom) AS lon,
                          ST_Y(i.geom) AS lat, i.village_id, v.code AS village_code,
                          v.kind AS village_kind, i.grid_id, i.beat_id, b.code AS beat_code
                   FROM incident i LEFT JOIN village v ON v.id = i.village_id
                   LEFT JOIN beat b ON b.id = i.beat_id"""
            ).fetchall(),
            columns=[
                "id",
                "received_at",
                "category",
                "caller_phone",
                "lon",
                "lat",
                "village_id",
                "village_code",
                "village_kind",
                "grid_id",
                "beat_id",
                "beat_code",
            ],
        )
        steps = pd.DataFrame(
            conn.execute("SELECT id, incident_id, kind, at, result FROM incident_step").fetchall(),
            columns=["id", "incident_id", "kind", "at", "result"],
        )
    inc["received_at"] = pd.to_datetime(inc["received_at"], utc=True)
    steps["at"] = pd.to_datetime(steps["at"], utc=True)
    return inc, steps


def make_timelines(url: str, seed: int = 12) -> None:
    """Phones, steps in bulk, late calls with single steps, a moved incident: every way the
    numbers' rows are kept current."""
    rng = np.random.default_rng(seed)
    with connect(url) as conn:
        conn.execute("SET LOCAL geo.bulk_load = 'on'")  # history: not the live map's news
        found = conn.execute("SELECT id, received_at, category FROM incident ORDER BY id")
        incidents = found.fetchall()
        _phones(conn, rng, np.array([r[0] for r in incidents]))
        rows = [
            (incident_id, *step)
            for incident_id, received, category in incidents
            for step in timeline(rng, pd.Timestamp(received), category)
        ]
        _copy_steps(conn, rows)
        conn.commit()
    with connect(url) as conn:  # calls stored out of order, then their steps one by one
        late = _late_calls(conn, rng, 60)
        received = dict(
            conn.execute(
                "SELECT id, received_at FROM incident WHERE id = ANY (%s)", (late,)
            ).fetchall()
        )
        for incident_id in late:
            for kind, at, source, call_sign, result in timeline(
                rng, pd.Timestamp(received[incident_id]), "theft"
            ):
                conn.execute(
                    """INSERT INTO incident_step (incident_id, kind, at, actor, source, call_sign,
                                                  result)
                       VALUES (%s, %s, %s, 'sample', %s, %s, %s)""",
                    (incident_id, kind, at, source, call_sign, result),
                )
        # an incident moved onto another one of the same category, and a category corrected
        a, b = conn.execute(
            """SELECT x.id, y.id FROM incident x JOIN incident y
               ON y.category = x.category AND y.received_at > x.received_at + interval '1 hour'
                  AND y.received_at < x.received_at + interval '3 days' AND y.id <> x.id
               ORDER BY x.id LIMIT 1"""
        ).fetchone()
        conn.execute(
            "UPDATE incident SET geom = ST_Translate((SELECT geom FROM incident WHERE id = %s),"
            " 0.0002, 0) WHERE id = %s",
            (a, b),
        )
        conn.execute(
            "UPDATE incident SET category = 'fraud' WHERE id = (SELECT min(id) FROM incident"
            " WHERE category = 'theft')"
        )
        conn.commit()


@pytest.fixture(scope="session")
def timelines(sample_path: Path) -> Iterator[Timelines]:
    """The small sample with a year of timelines, read back for the recomputation (one per
    session: the numbers' tests and page tests only read it, or roll back)."""
    with loaded_database("geo_kpis", sample_path) as url:
        make_timelines(url)
        incidents, steps = _read(url)
        yield Timelines(url, incidents, steps)


def csv_frame(text: str) -> pd.DataFrame:
    """A CSV answer read with pandas (codes as text)."""
    return pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype={"code": str})
