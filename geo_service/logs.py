"""One logger for the service: JSON lines on stderr, each with the request id it was made for."""

from __future__ import annotations

import logging
import logging.config
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.errors import InternalError, problem
from geo_service.schemas.problem import PROBLEM_MEDIA_TYPE

log = logging.getLogger("geo_service")

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept when it is short and plain (it goes into every log line);
# anything else is replaced by a new one.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has: whatever else a record carries came in through `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, request id, extras and
    the traceback of an error."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The logging set-up as a dictConfig: one JSON handler on stderr; uvicorn's own loggers
    pass their lines to it, and its access log is off (RequestLog writes the request lines).

    uvicorn applies it in every worker process (``uvicorn.run(log_config=...)``).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Send every log line of this process to stderr as JSON (the command line does this)."""
    logging.config.dictConfig(logging_config(level))


def incoming_request_id(value: str | None) -> str:
    """The caller's request id when it is sane, otherwise a new one (uuid4, hex)."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestLog:
    """Pure ASGI middleware: a request id for every request (in the context, so every log line
    made meanwhile carries it, and in the ``X-Request-ID`` response header), one log line per
    request, and a logged 500 problem for any exception nothing else handled.

    The line holds the path only, never the query string (it may one day carry a token).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (other ASGI scopes pass straight through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = REQUEST_ID_HEADER.lower().encode()
        given = next((v for k, v in scope.get("headers", ()) if k == header), None)
        rid = incoming_request_id(given.decode("latin-1") if given else None)
        token = request_id.set(rid)
        status = 500
        started = False
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unexpected error: %s", type(exc).__name__)
            if started:  # the answer is half sent: nothing to do but drop the connection
                raise
            error = InternalError(
                f"The service failed unexpectedly ({type(exc).__name__}); it is logged under "
                f"request id {rid}."
            )
            body = {**problem(error), "request_id": rid}
            await JSONResponse(body, status_code=500, media_type=PROBLEM_MEDIA_TYPE)(
                scope, receive, send_with_id
            )
        finally:
            client = scope.get("client")
            user = scope.get("state", {}).get("user")
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "ms": round((time.perf_counter() - t0) * 1000, 1),
                    "client": client[0] if client else None,
                    "user": user.name if user is not None else None,
                },
            )
            request_id.reset(token)
