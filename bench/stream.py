"""Benchmark: the live stream. With 200 clients connected to `GET /api/v1/stream` (the command
room's Server-Sent Events, each client signed in with the benchmark's command-room token), calls
are taken one after another with `POST /api/v1/incidents`; for each call, the time from the POST's
answer to the call's event arriving at every client. p50 and p99 over every (call, client);
goal p99 <= 250 ms on loopback.

Baseline, in the same run: a bare `LISTEN command_event` on a psycopg connection of its own,
timed the same way (from the POST's answer to the NOTIFY arriving): the floor under any stream
fed by LISTEN/NOTIFY. Until the desk's `POST /api/v1/incidents` is on the service, the call is
stored as that request stores it (one transaction, as the operator) and timed from its commit.

Run with `python -m bench --only stream [--workers 2] [--clients 200] [--calls 40]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psycopg

from bench.harness import (
    BASE,
    bearer,
    bench_token,
    machine_line,
    parser,
    print_ratio,
    sample_database,
    start_service,
    stop,
)
from geo_service.cells import incident_cells

GOAL_P99_MS = 250.0
CALL_NO = re.compile(rb'"call_no":"(BS[0-9]+)"')


async def client(
    token: str, arrivals: dict[str, list[float]], opened: asyncio.Event, count: list[int], n: int
) -> None:
    """One SSE client on a raw socket: the time each call's first event arrives."""
    parts = urlsplit(BASE)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        (
            f"GET /api/v1/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"the stream answered {head[:200]!r}")
    count[0] += 1
    if count[0] == n:
        opened.set()
    seen: set[str] = set()
    tail = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            text = tail + chunk
            for match in CALL_NO.finditer(text):
                call = match.group(1).decode()
                if call not in seen:
                    seen.add(call)
                    arrivals.setdefault(call, []).append(now)
            tail = text[-64:]
    finally:
        writer.close()


async def bare_listener(url: str, arrivals: dict[int, float], ready: asyncio.Event) -> None:
    """The baseline: LISTEN on a connection of its own; the time each event's NOTIFY arrives
    (by event id: the calls they carry are read after the run)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("LISTEN command_event")
        ready.set()
        async for notice in conn.notifies():
            arrivals.setdefault(int(notice.payload), time.perf_counter())


def calls_of(url: str, ids: list[int]) -> dict[int, str]:
    """The call numbers of these events of the log."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, payload ->> 'call_no' FROM command_event WHERE id = ANY (%s)", (ids,)
        ).fetchall()
    return {int(i): c for i, c in rows if c}


def points(url: str, n: int, seed: int) -> list[tuple[float, float]]:
    """n points inside grids of the sample (a grid's point on its surface, jittered inside)."""
    rng = random.Random(seed)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid) g"""
        ).fetchall()
    return [rows[rng.randrange(len(rows))] for _ in range(n)]


def store_directly(url: str, call_no: str, lon: float, lat: float) -> None:
    """A call stored as one intake request stores it (one transaction), by the operator."""
    cells = incident_cells(np.array([lon]), np.array([lat]))
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO incident (call_no, received_at, category, status, geom, village_id,
                                     grid_id, h3, h3_r7, h3_r8, h3_r9)
               SELECT %s, now(), 'theft', 'received', p, g.village_id, g.id, %s, %s, %s, %s
               FROM (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS p) x
               LEFT JOIN grid g ON ST_Intersects(g.geom, x.p)
               LIMIT 1""",
            (
                call_no,
                *(int(cells[k][0]) for k in ("h3", "h3_r7", "h3_r8", "h3_r9")),
                lon,
                lat,
            ),
        )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def measure(url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Connect the clients and the bare listener, take the calls, gather the latencies."""
    arrivals: dict[str, list[float]] = {}
    bare_by_id: dict[int, float] = {}
    opened = asyncio.Event()
    count = [0]
    clients = [
        asyncio.create_task(client(token, arrivals, opened, count, args.clients))
        for _ in range(args.clients)
    ]
    ready = asyncio.Event()
    baseline = asyncio.create_task(bare_listener(url, bare_by_id, ready))
    await asyncio.wait_for(opened.wait(), 120)
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(1.0)
    async with httpx.AsyncClient(base_url=BASE, headers=bearer(token), timeout=30) as http:
        document = (await http.get("/openapi.json")).json()
        by_post = "post" in document["paths"].get("/api/v1/incidents", {})
        answered: dict[str, float] = {}
        stamp = int(time.time())
        for k, (lon, lat) in enumerate(points(url, args.calls, seed=stamp)):
            call_no = f"BS{stamp}{k:04d}"
            if by_post:
                r = await http.post(
                    "/api/v1/incidents",
                    json={"call_no": call_no, "lon": lon, "lat": lat, "category": "theft"},
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"POST /api/v1/incidents answered {r.status_code}: {r.text}")
            else:
                await asyncio.to_thread(store_directly, url, call_no, lon, lat)
            answered[call_no] = time.perf_counter()
            await asyncio.sleep(args.gap)
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and any(
        len(arrivals.get(c, ())) < args.clients for c in answered
    ):
        await asyncio.sleep(0.1)
    for task in [*clients, baseline]:
        task.cancel()
    await asyncio.gather(*clients, baseline, return_exceptions=True)
    stream_ms = [(t - answered[c]) * 1000 for c in answered for t in arrivals.get(c, [])]
    bare: dict[str, float] = {}
    for event_id, call in sorted(calls_of(url, list(bare_by_id)).items()):
        bare.setdefault(call, bare_by_id[event_id])
    bare_ms = [(bare[c] - answered[c]) * 1000 for c in answered if c in bare]
    first_ms = [(min(arrivals[c]) - answered[c]) * 1000 for c in answered if arrivals.get(c)]
    missing = sum(args.clients - len(arrivals.get(c, ())) for c in answered)
    return {
        "stream": stream_ms,
        "first": first_ms,
        "bare": bare_ms,
        "missing": missing,
        "by_post": by_post,
    }


def main(argv: list[str] | None = None) -> None:
    """Serve the sample, connect the clients, take the calls, print p50/p99 and the ratio."""
    p = parser(__doc__)
    p.add_argument("--clients", type=int, default=200, help="connected SSE clients")
    p.add_argument("--calls", type=int, default=40, help="calls taken, one after another")
    p.add_argument("--gap", type=float, default=0.25, help="seconds between calls")
    args = p.parse_args(argv)
    workers = args.workers if args.workers and args.workers > 1 else 2
    url = sample_database(args.scale, name=f"geo_bench_stream_{args.scale}")  # it writes calls
    token = bench_token(url)
    proc = start_service(url, workers=workers)
    try:
        result = asyncio.run(measure(url, token, args))
    finally:
        stop(proc)
    print(machine_line(args.scale))
    how = "POST /api/v1/incidents" if result["by_post"] else "a stored call (no POST route yet)"
    print(
        f"{args.clients} SSE clients, {workers} workers, {args.calls} calls {args.gap}s apart, "
        f"timed from the answer of {how}"
    )
    stream, bare = result["stream"], result["bare"]
    print(
        f"stream: p50 {percentile(stream, 50):.1f} ms, p99 {percentile(stream, 99):.1f} ms, "
        f"max {max(stream, default=float('nan')):.1f} ms over {len(stream)} arrivals "
        f"({result['missing']} missing)"
    )
    first = result["first"]
    print(
        f"first client of each call: p50 {percentile(first, 50):.1f} ms, "
        f"p99 {percentile(first, 99):.1f} ms (the rest is the fan-out to {args.clients})"
    )
    print(
        f"bare LISTEN (baseline): p50 {percentile(bare, 50):.1f} ms, "
        f"p99 {percentile(bare, 99):.1f} ms over {len(bare)} calls"
    )
    p99 = percentile(stream, 99)
    # the bare NOTIFY arrives about when the POST's answer does (before it, at times): the
    # stream's own cost is its time over the bare listener's
    print_ratio("stream p99 over bare LISTEN p99 (ms)", p99 - percentile(bare, 99) if bare else p99)
    print_ratio(
        "stream p99 / 250 ms",
        p99 / GOAL_P99_MS,
        goal="<= 1",
        met=p99 <= GOAL_P99_MS and result["missing"] == 0,
    )


if __name__ == "__main__":
    main()
