"""The live map's rows of the access table: the event stream (asked to replay and end, so that
a cell's request finishes), the board at a moment, the /command page."""

from __future__ import annotations

from collections.abc import Callable

from tests.access_calls import Ask, Call, get

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/stream                            y   y   y   y   y   -   -   -   -
GET    /api/v1/command/board                     y   y   y   y   y   -   -   -   -
GET    /command                                  y   y   y   y   y   -   -   -   -
"""

CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/stream": get("/api/v1/stream", after=0, live="false"),
    "GET /api/v1/command/board": get("/api/v1/command/board"),
    "GET /command": get("/command"),
}
