"""Benchmark: an inspection with a 3 MB photo stored through the service (POST
/api/v1/inspections over HTTP: the multipart form parsed, the photo checked and stripped of its
location, the inspection, the photo and the marker's new status stored, the audit event
appended) against the baseline: the same photo bytes written to a bare table (one bytea column,
no row-level security) with one INSERT through a pool the service's own make_pool builds for the
service's own role, in the same run. Both one request at a time, as a phone sends them.

The baseline table's photo column is stored like inspection_photo's (STORAGE EXTERNAL: no
attempt to compress what JPEG has compressed); the same INSERT into a column of default storage
(pglz tried on every photo) is shown for reference. Goal: the inspection's rate at least 0.5 of
the baseline's (EXTERNAL).

Run with `python -m bench --only inspection` (or `python -m bench.inspection`). The database is
geo_bench_inspection (the sample of --scale); the benchmark's inspections and its bare table are
removed after the run.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
import uuid
from datetime import UTC, datetime

import httpx
import numpy as np
import orjson
from PIL import Image
from psycopg import sql

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
from geo_service.accounts.roles import Role
from geo_service.db import connect, make_pool
from geo_service.settings import load_settings

GOAL = 0.5
PHOTO_BYTES = 3 * 1024 * 1024
BARE_TABLES = {"external": "bench_bare_photo_external", "default": "bench_bare_photo_default"}


def three_megabyte_jpeg(seed: int = 14) -> bytes:
    """A phone-like JPEG of about 3 MB (noise over a gradient, 2400×1800 at quality 92) with an
    Exif block holding a GPS position, as phones write them."""
    rng = np.random.default_rng(seed)
    height, width = 1800, 2400
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1)
    noise = rng.integers(-60, 60, (height, width, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (29.0, 42.0, 10.5), 3: "E", 4: (120.0, 14.0, 3.25)})
    for quality in (92, 90, 88, 85, 80, 75):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=quality, exif=exif)
        if len(out.getvalue()) <= PHOTO_BYTES:
            break
    data = out.getvalue()
    return data


def prepare(url: str) -> str:
    """A rescue pole the leader inspects, the bare tables made anew; the pole's code."""
    with connect(url) as conn:
        for storage, table in BARE_TABLES.items():
            name = sql.Identifier(table)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
            conn.execute(
                sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, bytes bytea NOT NULL)").format(
                    name
                )
            )
            if storage == "external":
                conn.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN bytes SET STORAGE EXTERNAL").format(name)
                )
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO geo_service_app").format(name))
            conn.execute(
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO geo_service_app").format(
                    sql.Identifier(f"{table}_id_seq")
                )
            )
        row = conn.execute(
            "SELECT code FROM water_marker WHERE kind = 'rescue_pole' ORDER BY code LIMIT 1"
        ).fetchone()
        conn.commit()
    assert row
    return str(row[0])


def clean_up(url: str) -> None:
    """Drop the bare tables and the benchmark's inspections (and their photos)."""
    with connect(url) as conn:
        for table in BARE_TABLES.values():
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute("DELETE FROM inspection WHERE note = 'bench'")
        conn.commit()


def post_inspections(token: str, code: str, photo: bytes, n: int) -> list[float]:
    """Seconds of each of n inspections posted one after another, each with its own id."""
    times = []
    with httpx.Client(base_url=BASE, headers=bearer(token), timeout=60) as client:
        for _ in range(n):
            body = {
                "client_id": str(uuid.uuid4()),
                "kind": "water_marker",
                "code": code,
                "inspected_at": datetime.now(UTC).isoformat(),
                "result": "ok",
                "note": "bench",
            }
            start = time.perf_counter()
            reply = client.post(
                "/api/v1/inspections",
                data={"inspection": orjson.dumps(body).decode()},
                files=[("photos", ("pole.jpg", photo, "image/jpeg"))],
            )
            times.append(time.perf_counter() - start)
            if reply.status_code != 201:
                raise RuntimeError(f"inspection refused: {reply.status_code} {reply.text[:300]}")
    return times


async def bare_inserts(url: str, table: str, photo: bytes, n: int) -> list[float]:
    """Seconds of each of n INSERTs of the photo into a bare table, one after another, each on a
    connection of a pool built by the service's make_pool for the service's role."""
    settings = load_settings(database_url=url)
    pool = make_pool(settings.app_database_url, min_size=1, max_size=2)
    await pool.open(wait=True)
    query = sql.SQL("INSERT INTO {} (bytes) VALUES (%s)").format(sql.Identifier(table))
    times = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            async with pool.connection() as conn:
                await conn.execute(query, (photo,))
            times.append(time.perf_counter() - start)
    finally:
        await pool.close()
    return times


def rate(times: list[float]) -> float:
    """Requests per second from the median time of one."""
    return 1.0 / statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Post inspections with a 3 MB photo, then the bare INSERTs, and print the ratio."""
    p = parser(__doc__)
    p.add_argument("--runs", type=int, default=40, help="inspections (and inserts) per round")
    args = p.parse_args(argv)
    url = sample_database(args.scale, name="geo_bench_inspection")
    code = prepare(url)
    photo = three_megabyte_jpeg()
    token = bench_token(url, Role.leader)
    print(machine_line(args.scale))
    print(
        f"photo: {len(photo):,} bytes JPEG (Exif with GPS); {args.runs} requests a round, "
        f"{args.repeat} rounds, one at a time"
    )
    proc = start_service(url)
    results: dict[str, list[float]] = {"inspection": [], "external": [], "default": []}
    try:
        post_inspections(token, code, photo, 3)  # warm-up
        asyncio.run(bare_inserts(url, BARE_TABLES["external"], photo, 3))
        for _ in range(args.repeat):
            results["inspection"] += post_inspections(token, code, photo, args.runs)
            for storage, table in BARE_TABLES.items():
                results[storage] += asyncio.run(bare_inserts(url, table, photo, args.runs))
    finally:
        stop(proc)
        clean_up(url)
    print(f"{'what':<58}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}")
    names = {
        "inspection": "POST /api/v1/inspections, 3 MB photo",
        "external": "bare INSERT, same bytes, STORAGE EXTERNAL (the baseline)",
        "default": "bare INSERT, same bytes, default storage (reference)",
    }
    for key, times in results.items():
        ordered = sorted(times)
        print(
            f"{names[key]:<58}{rate(times):>8.1f}{1000 * statistics.median(times):>9.1f}"
            f"{1000 * ordered[int(0.9 * (len(ordered) - 1))]:>9.1f}"
        )
    ratio = rate(results["inspection"]) / rate(results["external"])
    print_ratio("inspection / bare INSERT (EXTERNAL)", ratio, f">= {GOAL}", ratio >= GOAL)
    print_ratio(
        "inspection / bare INSERT (default storage)",
        rate(results["inspection"]) / rate(results["default"]),
    )


if __name__ == "__main__":
    main()
