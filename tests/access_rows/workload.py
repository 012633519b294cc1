"""Access rows of beat workloads and the rebalance (issue 13): the planning roles read the
workload; planners and leaders ask for a rebalance (it changes nothing)."""

from __future__ import annotations

from collections.abc import Callable

from tests.access_calls import Ask, Call

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/plans/{code}/workload             y   y   y   y   -   -   -   -   -
POST   /api/v1/plans/{code}/workload             y   y   y   y   -   -   -   -   -
POST   /api/v1/plans/{code}/balance              y   -   y   -   -   -   -   -   -
"""

CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/plans/{code}/workload": lambda a: Call(
        "GET", f"/api/v1/plans/{a.place.plan}/workload"
    ),
    "POST /api/v1/plans/{code}/workload": lambda a: Call(
        "POST", f"/api/v1/plans/{a.place.plan}/workload", json={"weights": {"incidents": 1}}
    ),
    "POST /api/v1/plans/{code}/balance": lambda a: Call(
        "POST",
        f"/api/v1/plans/{a.place.plan}/balance",
        json={"tolerance": 0.2, "seconds": 2},
    ),
}
