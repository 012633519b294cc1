"""The access table's rows of the station's numbers (issue 12 §5): leaders, the command room,
planners and community officers (every row of their scope); nobody else."""

from __future__ import annotations

from collections.abc import Callable

from tests.access_calls import Ask, Call, get

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/kpis                              y   y   y   y   -   -   -   -   -
GET    /api/v1/kpis.csv                          y   y   y   y   -   -   -   -   -
GET    /kpis                                     y   y   y   y   -   -   -   -   -
"""

CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/kpis": get("/api/v1/kpis", days=7),
    "GET /api/v1/kpis.csv": get("/api/v1/kpis.csv", days=7),
    "GET /kpis": get("/kpis", days=7),
}
