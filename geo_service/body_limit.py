"""The one limit on request bodies, enforced before any body is parsed (pure ASGI middleware)."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.errors import PayloadTooLarge, problem
from geo_service.logs import log
from geo_service.schemas.problem import PROBLEM_MEDIA_TYPE
from geo_service.settings import Settings

# Routes that take files larger than a form with photos, and the setting that bounds each
IMPORTS = "/api/v1/imports"
LOOKUP_BATCH = "/api/v1/lookup/batch"
# An import's form fields besides the file itself
IMPORT_FORM_BYTES = 64 * 1024


def body_limit(settings: Settings, path: str) -> int:
    """The most bytes a request body to ``path`` may have: an import's file and its form, a
    batch of points, or else REQUEST_MAX_BYTES (three photos and a form)."""
    if path == IMPORTS:
        return settings.import_max_bytes + IMPORT_FORM_BYTES
    if path == LOOKUP_BATCH:
        return settings.batch_max_bytes
    return settings.request_max_bytes


def too_large(detail: str, limit: int) -> JSONResponse:
    """The 413 problem+json naming the limit."""
    body = problem(PayloadTooLarge(detail, limit_bytes=limit))
    return JSONResponse(body, status_code=413, media_type=PROBLEM_MEDIA_TYPE)


class BodyLimit:
    """Pure ASGI middleware: a body declared (Content-Length) over the limit is refused with 413
    before the app sees the request; a body sent without a length (chunked) is counted as it
    arrives and cut off with 413 the moment it passes the limit. The app then sees the client
    gone (``http.disconnect``), so nothing it began is committed, and whatever it still answers
    is dropped."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request within the limit of its path (other ASGI scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            detail = (
                f"The request body is {int(declared)} bytes; at most {limit} bytes are accepted "
                "here: send less (smaller or fewer photos, a smaller file)"
            )
            await too_large(detail, limit)(scope, receive, send)
            return
        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused, started
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        started = True
                        detail = (
                            f"The request body passed {limit} bytes, the most accepted here: "
                            "send less (smaller or fewer photos, a smaller file)"
                        )
                        await too_large(detail, limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 is out: whatever the app answers after is dropped
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise
            # the app saw the client go (ClientDisconnect) and gave up: expected, not a failure
            log.info("request body cut off at %d bytes (limit %d)", received, limit)
