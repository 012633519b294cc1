"""What the landing page offers, each entry with the access group its route declares
(accounts/access.py), so that a user is shown only what their role may open."""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.accounts import access
from geo_service.accounts.roles import Role


@dataclass(frozen=True)
class Link:
    """An entry of the landing page: a page to open, or an API request to describe."""

    path: str  # the route's path, as the app declares it
    word: str  # its description in web_map/templates/words.json
    roles: frozenset[Role]  # the access group of the route (checked against it by the tests)
    method: str = "GET"
    code: str = ""  # an API entry: the request, shown as code
    page: bool = True  # whether a person opens it as a link


@dataclass(frozen=True)
class Section:
    """A titled list of entries (its title is the word ``<name>_title``)."""

    name: str
    links: tuple[Link, ...]


def _api(
    path: str, word: str, roles: frozenset[Role], *, method: str = "GET", shown: str = ""
) -> Link:
    return Link(path, word, roles, method, f"{method} {shown or path}", page=False)


SECTIONS = (
    Section(
        "work",
        (
            Link("/kpis", "kpis_link", access.KPIS),
            Link("/command", "command_link", access.COMMAND_READ),
            Link("/audit", "audit_link", access.AUDIT),
            Link("/admin/users", "admin_link", access.ADMIN),
            Link("/department", "department_link", access.DEPARTMENT),
        ),
    ),
    Section(
        "maps",
        (
            Link("/maps/overview", "map_overview", access.BUSINESS),
            Link("/maps/heatmap", "map_heatmap", access.INCIDENTS),
            Link("/maps/hexagons", "map_hexagons", access.INCIDENTS),
            Link("/maps/animation", "map_animation", access.INCIDENTS),
            Link("/maps/patrol", "map_patrol", access.PEOPLE),
            Link("/maps/cameras", "map_cameras", access.PEOPLE),
            Link("/maps/water", "map_water", access.WATER),
            Link("/plans", "plans_link", access.PLANNING_READ),
            Link("/me", "me_link", access.MY_AREA),
        ),
    ),
    Section(
        "api",
        (
            _api("/api/v1/lookup", "api_lookup", access.PEOPLE, shown="/api/v1/lookup?lon=&lat="),
            _api("/api/v1/lookup/batch", "api_batch", access.BATCH, method="POST"),
            _api("/api/v1/areas/{kind}/{code}", "api_areas", access.PEOPLE),
            _api("/api/v1/people/{code}/coverage", "api_people", access.PEOPLE),
            _api("/api/v1/imports", "api_imports", access.IMPORT, method="POST"),
            _api(
                "/api/v1/layers/{layer}.{format}",
                "api_layers",
                access.BUSINESS,
                shown="/api/v1/layers/{layer}.{geojson|gpkg|shp|csv|kml}",
            ),
            Link("/ogc", "api_ogc", access.BUSINESS, code="/ogc"),
            _api("/tiles/{layer}/{z}/{x}/{y}.mvt", "api_tiles", access.BUSINESS),
            _api("/api/v1/stream", "api_stream", access.COMMAND_READ),
            _api("/api/v1/tokens", "api_tokens", access.SIGNED_IN),
            _api("/api/v1/users", "api_users", access.ADMIN),
        ),
    ),
)


def sections_for(role: Role) -> list[Section]:
    """The landing page's sections with only the entries this role may open (empty ones left
    out)."""
    shown = [Section(s.name, tuple(x for x in s.links if role in x.roles)) for s in SECTIONS]
    return [s for s in shown if s.links]
