"""A call answered 201 survives kill -9 of the service right after (issue 12, section 7): the
service runs as `geo-service serve`, clients post calls from several threads, the process group
is killed with SIGKILL right after a 201 arrives (others still in flight); every call answered
201 is stored whole (its content, its audit event, a non-police call's diversion step), and
the calls left without an answer, sent again to a new service, are stored once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import psycopg

from geo_service.accounts.roles import Role
from tests.accounts import bearer, make_user
from tests.browser import serving

if TYPE_CHECKING:
    from tests.desk_fixtures import Desk

pytest_plugins = ["tests.desk_fixtures"]


@contextmanager
def service(database_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`geo-service serve` in a process group of its own (killed with it by the test)."""
    with tempfile.TemporaryFile() as log, serving(database_url, log) as served:
        yield served


def _calls(desk: Desk, n: int) -> list[dict[str, Any]]:
    rng = random.Random(99)
    calls = []
    for _ in range(n):
        lon, lat = desk.inside_point(rng)
        calls.append(
            {
                "call_no": desk.call_no("K"),
                "category": rng.choice(["theft", "non_police", "dispute"]),
                "lon": lon,
                "lat": lat,
                "caller_phone": f"135{rng.randrange(10**8):08d}",
                "address": f"kill -9 test {rng.randrange(1000)}",
            }
        )
    return calls


def test_a_201_survives_kill_9(desk: Desk) -> None:
    token = make_user(desk.database_url, Role.command_room)
    calls = _calls(desk, 400)
    answered: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()
    todo = iter(calls)

    with service(desk.database_url) as (url, proc):

        def client() -> None:
            with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as http:
                while not killed.is_set():
                    with lock:
                        call = next(todo, None)
                    if call is None:
                        return
                    try:
                        reply = http.post("/api/v1/incidents", json=call)
                    except httpx.HTTPError:
                        return  # the service is gone: no answer for this one
                    with lock:
                        answered[call["call_no"]] = reply.status_code
                        # right after the 30th answer: kill -9, the others still in flight
                        if len(answered) == 30 and not killed.is_set():
                            os.killpg(proc.pid, signal.SIGKILL)
                            killed.set()

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert killed.is_set()
        proc.wait(timeout=30)

    assert answered and set(answered.values()) == {201}
    by_no = {c["call_no"]: c for c in calls}
    with psycopg.connect(desk.database_url) as conn:
        stored = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT call_no, category, caller_phone, address, status, "
                "(SELECT count(*) FROM incident_step s WHERE s.incident_id = i.id "
                " AND s.kind = 'divert') FROM incident i WHERE call_no = ANY (%s)",
                (list(by_no),),
            )
        }
        audited = {
            r[0]
            for r in conn.execute(
                "SELECT subject FROM audit_event WHERE action = 'incident_take' "
                "AND subject = ANY (%s)",
                (list(by_no),),
            )
        }
    for number in answered:  # every 201 is there, whole
        call = by_no[number]
        category, phone, address, status, diverts = stored[number]
        assert (category, phone, address) == (
            call["category"],
            call["caller_phone"],
            call["address"],
        )
        assert (status, diverts) == (
            ("diverted", 1) if category == "non_police" else ("received", 0)
        )
        assert number in audited
    assert set(stored) == audited  # nothing stored without its audit event, nor the reverse

    # the calls without an answer, sent again to a new service: each stored once
    rest = [c for c in calls if c["call_no"] not in answered][:40]
    with (
        service(desk.database_url) as (url, _),
        httpx.Client(base_url=url, headers=bearer(token), timeout=30) as http,
    ):
        for call in rest:
            reply = http.post("/api/v1/incidents", json=call)
            expected = 200 if call["call_no"] in stored else 201
            assert reply.status_code == expected, reply.text
    with psycopg.connect(desk.database_url) as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT call_no) FROM incident WHERE call_no = ANY (%s)",
            ([c["call_no"] for c in rest],),
        ).fetchone()
    assert counts == (len(rest), len(rest))
