"""The signed-in user of a request, as app_enter answered them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from geo_service.accounts.roles import Role

Via = Literal["session", "token"]


@dataclass(frozen=True)
class Area:
    """An area a user covers: a grid or a village (station-wide roles list none)."""

    kind: str
    code: str
    name: str


@dataclass(frozen=True)
class Principal:
    """Who is asking: their account, role, areas and how they proved it."""

    user_id: int
    name: str
    role: Role
    person: str | None  # the person code whose assignments give the areas
    scope: str  # station, areas or none (see sql/functions/15_accounts.sql)
    areas: tuple[Area, ...]
    via: Via
    second_factor_ok: bool
    totp_enrolled: bool

    @classmethod
    def from_row(cls, row: tuple[Any, ...], via: Via) -> Principal:
        """A principal from one row of app_enter."""
        user_id, name, role, person, scope, areas, ok2, enrolled = row
        return cls(
            user_id=user_id,
            name=name,
            role=Role(role),
            person=person,
            scope=scope,
            areas=tuple(Area(a["kind"], a["code"], a["name"]) for a in areas),
            via=via,
            second_factor_ok=ok2,
            totp_enrolled=enrolled,
        )

    @property
    def maps_open_on_own_areas(self) -> bool:
        """Whether a map page opens on the user's own areas (areas scope: a grid worker's
        grids, a volunteer's villages) rather than on the whole station."""
        return self.scope == "areas"

    def areas_text(self) -> str:
        """The user's areas in words, for a refusal: 'grid G0012 (…), grid G0013 (…)'."""
        if self.scope == "station":
            return "the whole station"
        if not self.areas:
            return "no area (no assignment in force)"
        return ", ".join(f"{a.kind} {a.code} ({a.name})" for a in self.areas)
