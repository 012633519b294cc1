"""The one limit on request bodies (geo_service/body_limit.py): a body declared over it is 413 at
once, a chunked body is cut off with 413 as soon as it passes it, the database is left as it was,
and three photos just under the photo limit still go through with the default settings."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient
from PIL import Image

from geo_service.main import create_app
from geo_service.settings import Settings
from tests import field_fixtures
from tests.field_fixtures import FieldStage, inspection, post_inspection

field_stage = field_fixtures.field_stage  # the fixture

SMALL_LIMIT = 64 * 1024
PROBLEM = "application/problem+json"


def _noise_jpeg(width: int, height: int, seed: int) -> bytes:
    """A JPEG of random pixels (it hardly compresses: its size follows its pixel count)."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, "JPEG", quality=97)
    return out.getvalue()


def _photo_just_under(limit: int, seed: int) -> bytes:
    """A real JPEG between 80 % and 100 % of ``limit`` bytes."""
    width, height = 400, 300
    while True:
        data = _noise_jpeg(width, height, seed)
        if 0.8 * limit <= len(data) < limit:
            return data
        scale = (0.9 * limit / len(data)) ** 0.5
        width, height = max(16, int(width * scale)), max(16, int(height * scale))


def _a_marker(stage: FieldStage) -> str:
    """A water marker the grid worker may inspect (the first in their grids)."""
    rows = stage.sql(
        """SELECT m.code FROM water_marker m JOIN grid g ON ST_Within(m.geom, g.geom)
           WHERE g.code = ANY(%s) ORDER BY m.code LIMIT 1""",
        (stage.users["worker"].grids,),
    )
    assert rows, "the worker's grids hold no water marker"
    return str(rows[0][0])


def _state(stage: FieldStage, code: str) -> list[tuple[Any, ...]]:
    """What a refused inspection must not change: the marker, and the counts of inspections
    and photos."""
    return stage.sql(
        """SELECT m.status, m.last_inspected_at, (SELECT count(*) FROM inspection),
                  (SELECT count(*) FROM inspection_photo)
           FROM water_marker m WHERE m.code = %s""",
        (code,),
    )


def _multipart(body: dict[str, Any], photos: list[bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body (the JSON part and the photos) and its content type."""
    request = httpx.Request(
        "POST",
        "http://test/",
        data={"inspection": orjson.dumps(body).decode()},
        files=[("photos", (f"{i}.jpg", photo, "image/jpeg")) for i, photo in enumerate(photos)],
    )
    return request.read(), request.headers["content-type"]


def test_a_body_declared_over_the_limit_is_413_naming_it(field_stage: FieldStage) -> None:
    code = _a_marker(field_stage)
    before = _state(field_stage, code)
    body = inspection("water_marker", code, "missing")
    photos = [_noise_jpeg(200, 150, seed) for seed in range(3)]
    content, content_type = _multipart(body, photos)
    assert len(content) > SMALL_LIMIT  # (the independent side: the body really is over)
    settings = Settings(database_url=field_stage.database_url, request_max_bytes=SMALL_LIMIT)
    with TestClient(create_app(settings)) as client:
        reply = client.post(
            "/api/v1/inspections",
            content=content,
            headers={**field_stage.as_("worker"), "content-type": content_type},
        )
        assert reply.status_code == 413, reply.text
        assert reply.headers["content-type"].startswith(PROBLEM)
        problem = reply.json()
        assert problem["limit_bytes"] == SMALL_LIMIT
        assert str(SMALL_LIMIT) in problem["detail"] and str(len(content)) in problem["detail"]
        assert reply.headers["x-request-id"]  # answered inside the request log
    assert _state(field_stage, code) == before
    assert field_stage.sql(
        "SELECT count(*) FROM inspection WHERE client_id = %s", (body["client_id"],)
    ) == [(0,)]


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(field_stage: FieldStage) -> None:
    code = _a_marker(field_stage)
    before = _state(field_stage, code)
    body = inspection("water_marker", code, "missing")
    content, content_type = _multipart(body, [_noise_jpeg(400, 300, seed) for seed in range(3)])
    chunk = 4096
    pieces = [content[i : i + chunk] for i in range(0, len(content), chunk)]
    assert len(content) > 2 * SMALL_LIMIT
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for piece in pieces:
            sent += len(piece)
            yield piece

    async def post() -> httpx.Response:
        settings = Settings(database_url=field_stage.database_url, request_max_bytes=SMALL_LIMIT)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(
                    "/api/v1/inspections",
                    content=stream(),
                    headers={**field_stage.as_("worker"), "content-type": content_type},
                )

    reply = asyncio.run(post())
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    assert reply.json()["limit_bytes"] == SMALL_LIMIT and str(SMALL_LIMIT) in reply.json()["detail"]
    # no length was declared, and the stream was read no further than the chunk that passed it
    assert SMALL_LIMIT < sent <= SMALL_LIMIT + chunk < len(content)
    assert _state(field_stage, code) == before
    assert field_stage.sql(
        "SELECT count(*) FROM inspection WHERE client_id = %s", (body["client_id"],)
    ) == [(0,)]


def test_three_photos_just_under_the_photo_limit_are_stored(field_stage: FieldStage) -> None:
    settings = field_stage.client.app.state.settings  # the defaults
    photos = [_photo_just_under(settings.photo_max_bytes, seed) for seed in range(3)]
    assert sum(map(len, photos)) > 2 * settings.photo_max_bytes
    code = _a_marker(field_stage)
    body = inspection("water_marker", code, "ok")
    reply = post_inspection(
        field_stage, "worker", body, [(f"{i}.jpg", p, "image/jpeg") for i, p in enumerate(photos)]
    )
    assert reply.status_code == 201, reply.text
    stored = reply.json()["photos"]
    assert len(stored) == 3
    sizes = field_stage.sql(
        """SELECT octet_length(p.bytes) FROM inspection_photo p
           JOIN inspection i ON i.id = p.inspection_id WHERE i.client_id = %s ORDER BY p.n""",
        (body["client_id"],),
    )
    # stripped of nothing but metadata: each stored photo is about as large as the one sent
    assert [round(size / len(p), 1) for (size,), p in zip(sizes, photos, strict=True)] == [1.0] * 3
