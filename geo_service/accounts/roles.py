"""The roles of the station's users, and the groups of them the rules speak of."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user is at the station; the same names as app_user.role in PostgreSQL."""

    leader = "leader"  # 所领导
    command_room = "command_room"  # 指挥室
    planner = "planner"
    community_officer = "community_officer"  # 社区民警
    grid_worker = "grid_worker"  # 网格员 (not police)
    volunteer = "volunteer"  # 义警 (not police)
    department = "department"  # 部门: answers the reports routed to its department (部门报到)
    auditor = "auditor"
    admin = "admin"


# Roles whose users must be tied to a person: their areas come from the person's assignments.
PERSON_ROLES = frozenset({Role.community_officer, Role.grid_worker, Role.volunteer})
# Roles that sign in with a one-time code whatever the settings say.
SECOND_FACTOR_ROLES = frozenset({Role.admin, Role.auditor})
# Roles whose users must be tied to a department: they answer its reports (issue 14, 5).
DEPARTMENT_ROLES = frozenset({Role.department})
