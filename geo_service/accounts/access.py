"""Which roles may use which routes: the one table of it. Areas are enforced in PostgreSQL.

Every route declares its access with ``dependencies=[allow(GROUP)]`` (or ``[public]``);
create_app refuses to start when a route declares none, so a new route is denied by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsMarker

from geo_service.accounts.deps import Caller
from geo_service.accounts.roles import Role
from geo_service.errors import Forbidden

R = Role
# Everyone who works with the station's data (auditor and admin see none of it).
BUSINESS = frozenset(
    {R.leader, R.command_room, R.planner, R.community_officer, R.grid_worker, R.volunteer}
)
# People, incidents, patrol and the lookup's answer name people: not for volunteers.
PEOPLE = BUSINESS - {R.volunteer}
INCIDENTS = PEOPLE
# Water bodies, markers and shore gaps: volunteers too, limited to their villages by PostgreSQL.
WATER = BUSINESS
IMPORT = frozenset({R.planner, R.leader})
BATCH = frozenset({R.command_room, R.leader, R.planner})
PHONE_REVEAL = frozenset({R.planner, R.community_officer})
# The command room (issue 12): calls, steps, unit positions and the recommended units are the
# command room's and the leaders'; the live map and the station's numbers are for those who
# read incidents (scoped by PostgreSQL).
DISPATCH = frozenset({R.command_room, R.leader})
COMMAND_READ = INCIDENTS
KPIS = frozenset({R.leader, R.command_room, R.planner, R.community_officer})
# Beat planning (issue 13): planners draft and edit, leaders too; a leader publishes.
PLANNING_READ = frozenset({R.leader, R.command_room, R.planner, R.community_officer})
PLANNING = frozenset({R.planner, R.leader})
PUBLISH = frozenset({R.leader})
# The field (issue 14): inspections and reports by the people of an area (PostgreSQL limits
# them to their own areas); sweeps opened by planners and community officers; reports read
# by those who act on them.
FIELD = frozenset({R.community_officer, R.grid_worker, R.volunteer, R.planner, R.leader})
SWEEP_OPEN = frozenset({R.planner, R.community_officer, R.leader})
SWEEP_READ = PEOPLE
REPORT_MAKE = frozenset({R.grid_worker, R.volunteer, R.community_officer})
REPORT_READ = frozenset({R.command_room, R.leader, R.community_officer, R.planner})
# A department's own users (部门报到): the reports routed to their department (PostgreSQL), their
# photos, and the department's steps; nothing else of the station's data.
DEPARTMENT = frozenset({R.department})
REPORT_ANSWER = REPORT_READ | DEPARTMENT
# Marking waters for dusk patrol (傍晚巡河): planners and leaders anywhere, a community officer
# their beats' waters (PostgreSQL).
PATROL_MARK = frozenset({R.planner, R.community_officer, R.leader})
MY_AREA = frozenset({R.community_officer, R.grid_worker, R.volunteer})
# Inspections' history and photos: those who record them and those who read the sweeps.
FIELD_READ = FIELD | SWEEP_READ
# A report's status: those who read reports, the reporters (PostgreSQL: their own only) and the
# departments (PostgreSQL: the reports routed to them).
REPORT_SEE = REPORT_READ | REPORT_MAKE | DEPARTMENT
AUDIT = frozenset({R.auditor})
ADMIN = frozenset({R.admin})
SIGNED_IN = frozenset(Role)  # their own account, sign-out, the landing page

ACCESS_ATTRIBUTE = "__access__"


def allow(roles: frozenset[Role], *, second_factor_pending: bool = False) -> DependsMarker:
    """A route dependency that lets only these roles through (403 naming the user's role and
    areas otherwise). A user whose role needs a second factor and who has not given one yet
    gets only the routes marked ``second_factor_pending`` (their account page, sign-out)."""

    async def check(request: Request, user: Caller) -> None:
        if user.role not in roles:
            raise Forbidden(
                f"A {user.role} may not use {request.method} {request.url.path}",
                areas=user.areas_text(),
            )
        if not second_factor_pending and needs_second_factor(request, user):
            raise Forbidden(
                "Your role signs in with a one-time code: enrol one on your account page "
                "(/account) and sign in again",
            )

    setattr(check, ACCESS_ATTRIBUTE, roles)
    return Depends(check)


def needs_second_factor(request: Request, user: Any) -> bool:
    """Whether the user's role signs in with a one-time code they have not given in this session
    (they may open only their account page and sign out)."""
    required: frozenset[Role] = request.app.state.second_factor_roles
    return user.role in required and not user.second_factor_ok


async def _public() -> None:
    """Open to anyone: the login page, health, static assets, the OpenAPI document."""


setattr(_public, ACCESS_ATTRIBUTE, "public")
public = Depends(_public)


def declared_access(call: Callable[..., Any]) -> object | None:
    """The roles (or "public") a dependency declares, None when it declares nothing."""
    return getattr(call, ACCESS_ATTRIBUTE, None)
