"""HTTP caching of tiles, decided in one place: Cache-Control, ETag, If-None-Match → 304."""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

# Tiles may be kept by the user's own browser for a minute, then revalidated by ETag; never by
# a shared cache: what a tile holds depends on who asks (a grid worker sees only their grids).
CACHE_CONTROL = "private, max-age=60, must-revalidate"


def etag_of(body: bytes) -> str:
    """A strong entity tag for these bytes (a hash: the same tile gives the same tag)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this tag (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def cached(request: Request, body: bytes, *, media_type: str, status_code: int = 200) -> Response:
    """The answer with Cache-Control and ETag; 304 Not Modified when the client holds it."""
    etag = etag_of(body)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if status_code == 204:
        return Response(status_code=204, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)
