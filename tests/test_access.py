"""Who may use which route: a table written by hand from issue 11's roles (not read from
geo_service/accounts/access.py), checked cell by cell with a real token of each of the nine
roles; every route of the app must be in it. Without credentials a protected route is 401 (a
browser asking for a page is sent to the login page); public routes answer anyone."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pyogrio
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.access_calls import Ask, Call, Place, get, head
from tests.access_rows import SUBJECTS
from tests.cast import (
    CAST_DEPARTMENT,
    CAST_PASSWORD,
    Member,
    areas_of,
    make_cast,
    make_member,
    token_id_of,
)
from tests.conftest import loaded_database
from tests.reference import Reference

R = Role
# The columns of the table, in this order.
COLUMNS = (
    R.leader,
    R.command_room,
    R.planner,
    R.community_officer,
    R.grid_worker,
    R.volunteer,
    R.department,
    R.auditor,
    R.admin,
)
PUBLIC = "public"

# Issue 11, section 1: leader, command room and planner see everything; the community officer
# the whole station; the grid worker only their grids (PostgreSQL limits what they get, the
# routes are theirs); the volunteer water bodies, markers and shore gaps of their villages, no
# people, no incidents (the lookup answer names people: not theirs); a department (issue 14, 5)
# the reports routed to it, their photos and its steps, nothing that names people or calls and
# no map (its users answer reports, they do not survey the station); the auditor the audit
# trail only; the admin users and tokens, no business data. Imports: planner and leader; batch
# lookup: command room, leader, planner; a phone in full: planner and community officer. Every
# signed-in user has their own account, tokens, sign-out and landing page.
#
# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /healthz                                  public
GET    /ping                                     public
GET    /docs                                     public
GET    /openapi.json                             public
GET    /login                                    public
POST   /login                                    public
GET    /ping/db                                  y   y   y   y   y   y   y   y   y
GET    /                                         y   y   y   y   y   y   y   y   y
POST   /logout                                   y   y   y   y   y   y   y   y   y
GET    /account                                  y   y   y   y   y   y   y   y   y
POST   /account/tokens                           y   y   y   y   y   y   y   y   y
POST   /account/tokens/{token_id}/revoke         y   y   y   y   y   y   y   y   y
POST   /account/second-factor                    y   y   y   y   y   y   y   y   y
POST   /account/second-factor/confirm            y   y   y   y   y   y   y   y   y
GET    /department                               -   -   -   -   -   -   y   -   -
GET    /api/v1/tokens                            y   y   y   y   y   y   y   y   y
POST   /api/v1/tokens                            y   y   y   y   y   y   y   y   y
DELETE /api/v1/tokens/{token_id}                 y   y   y   y   y   y   y   y   y
GET    /api/v1/lookup                            y   y   y   y   y   -   -   -   -
POST   /api/v1/lookup/batch                      y   y   y   -   -   -   -   -   -
GET    /api/v1/areas/{kind}/{code}               y   y   y   y   y   -   -   -   -
GET    /api/v1/people/{code}/coverage            y   y   y   y   y   -   -   -   -
POST   /api/v1/people/{code}/phone               -   -   y   y   -   -   -   -   -
GET    /maps/overview                            y   y   y   y   y   y   -   -   -
GET    /maps/heatmap                             y   y   y   y   y   -   -   -   -
GET    /maps/hexagons                            y   y   y   y   y   -   -   -   -
GET    /maps/animation                           y   y   y   y   y   -   -   -   -
GET    /maps/tiles/{z}/{x}/{y}                   y   y   y   y   y   y   -   -   -
GET    /api/v1/incidents/heatmap                 y   y   y   y   y   -   -   -   -
GET    /api/v1/incidents/hexagons                y   y   y   y   y   -   -   -   -
GET    /api/v1/incidents/hourly                  y   y   y   y   y   -   -   -   -
GET    /api/v1/overview/layers                   y   y   y   y   y   y   -   -   -
GET    /api/v1/patrol/coverage                   y   y   y   y   y   -   -   -   -
GET    /api/v1/patrol/cells                      y   y   y   y   y   -   -   -   -
GET    /maps/patrol                              y   y   y   y   y   -   -   -   -
GET    /api/v1/cameras/sectors                   y   y   y   y   y   -   -   -   -
GET    /api/v1/cameras/blind-roads               y   y   y   y   y   -   -   -   -
GET    /maps/cameras                             y   y   y   y   y   -   -   -   -
GET    /api/v1/water/shore-gaps                  y   y   y   y   y   y   -   -   -
GET    /api/v1/water/markers                     y   y   y   y   y   y   -   -   -
GET    /maps/water                               y   y   y   y   y   y   -   -   -
GET    /api/v1/layers/{layer}.{format}           y   y   y   y   y   y   -   -   -
GET    /ogc                                      y   y   y   y   y   y   -   -   -
GET    /ogc/conformance                          y   y   y   y   y   y   -   -   -
GET    /ogc/collections                          y   y   y   y   y   y   -   -   -
GET    /ogc/collections/{collectionId}           y   y   y   y   y   y   -   -   -
GET    /ogc/collections/{collectionId}/items     y   y   y   y   y   y   -   -   -
GET    /ogc/collections/{collectionId}/items/{featureId}  y y y y y y - - -
HEAD   /ogc                                      y   y   y   y   y   y   -   -   -
HEAD   /ogc/conformance                          y   y   y   y   y   y   -   -   -
HEAD   /ogc/collections                          y   y   y   y   y   y   -   -   -
HEAD   /ogc/collections/{collectionId}           y   y   y   y   y   y   -   -   -
HEAD   /ogc/collections/{collectionId}/items     y   y   y   y   y   y   -   -   -
HEAD   /ogc/collections/{collectionId}/items/{featureId}  y y y y y y - - -
GET    /tiles/{layer}/{z}/{x}/{y}.mvt            y   y   y   y   y   y   -   -   -
POST   /api/v1/imports                           y   -   y   -   -   -   -   -   -
GET    /api/v1/audit                             -   -   -   -   -   -   -   y   -
GET    /api/v1/audit.csv                         -   -   -   -   -   -   -   y   -
GET    /audit                                    -   -   -   -   -   -   -   y   -
GET    /admin/users                              -   -   -   -   -   -   -   -   y
POST   /admin/users                              -   -   -   -   -   -   -   -   y
POST   /admin/users/{action}                     -   -   -   -   -   -   -   -   y
POST   /admin/tokens/{token_id}/revoke           -   -   -   -   -   -   -   -   y
GET    /api/v1/users                             -   -   -   -   -   -   -   -   y
POST   /api/v1/users                             -   -   -   -   -   -   -   -   y
POST   /api/v1/users/{name}/lock                 -   -   -   -   -   -   -   -   y
POST   /api/v1/users/{name}/unlock               -   -   -   -   -   -   -   -   y
POST   /api/v1/users/{name}/password             -   -   -   -   -   -   -   -   y
DELETE /api/v1/users/{name}                      -   -   -   -   -   -   -   -   y
GET    /api/v1/users/{name}/tokens               -   -   -   -   -   -   -   -   y
DELETE /api/v1/users/{name}/tokens/{token_id}    -   -   -   -   -   -   -   -   y
"""
# Mounted folders of assets, open to anyone (a new mount must be added here on purpose).
PUBLIC_MOUNTS = {"/static", "/assets/swagger-ui", "/assets/npm", "/assets/folium"}
PUBLIC_FILES = [
    "/static/site.css",
    "/assets/swagger-ui/swagger-ui.css",
    "/assets/npm/leaflet/dist/leaflet.js",
    "/assets/folium/leaflet_heat.min.js",
]


def _parse(table: str) -> dict[str, frozenset[Role] | str]:
    """The table as {"METHOD /path": roles allowed, or "public"} (blank and # lines skipped)."""
    rows: dict[str, frozenset[Role] | str] = {}
    for line in table.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        method, path, *cells = line.split()
        key = f"{method} {path}"
        assert key not in rows, f"{key} twice in the table"
        if cells == [PUBLIC]:
            rows[key] = PUBLIC
            continue
        assert len(cells) == len(COLUMNS) and set(cells) <= {"y", "-"}, line
        rows[key] = frozenset(r for r, c in zip(COLUMNS, cells, strict=True) if c == "y")
    return rows


EXPECTED = _parse(TABLE + "\n" + "\n".join(rows.TABLE for rows in SUBJECTS))
PROTECTED = sorted(k for k, v in EXPECTED.items() if v != PUBLIC)


def route_keys(app: FastAPI) -> tuple[set[str], set[str]]:
    """Every "METHOD /path" the app answers (routes of included routers too) and its mounts."""
    keys: set[str] = set()
    mounts: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, Mount):
            mounts.add(route.path)
            continue
        methods = set(getattr(route, "methods", None) or ())
        if not isinstance(route, APIRoute) and "GET" in methods:
            methods.discard("HEAD")  # Starlette adds HEAD to a plain GET route
        path = getattr(route, "path", "")
        keys |= {f"{m} {path}" for m in methods}
    return keys, mounts


# --------------------------------------------------------------------------- the examples


def _victim_call(method: str, template: str, **kw: Any) -> Callable[[Ask], Call]:
    return lambda a: Call(method, template.format(name=a.victim()), **kw)


def _victim_token(method: str, template: str) -> Callable[[Ask], Call]:
    def build(a: Ask) -> Call:
        name = a.victim()
        return Call(method, template.format(name=name, token_id=a.spare_token(name)))

    return build


def _own_token(method: str, template: str) -> Callable[[Ask], Call]:
    return lambda a: Call(method, template.format(token_id=a.spare_token(a.member.name)))


def _ogc(suffix: str) -> Callable[[Ask], str]:
    return lambda a: "/ogc" + suffix.format(c=a.place.collection, f=a.place.feature)


CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /healthz": get("/healthz"),
    "GET /ping": get("/ping"),
    "GET /docs": get("/docs"),
    "GET /openapi.json": get("/openapi.json"),
    "GET /login": get("/login"),
    "POST /login": lambda a: Call(
        "POST", "/login", data={"name": a.member.name, "password": CAST_PASSWORD, "next": "/"}
    ),
    "GET /ping/db": get("/ping/db"),
    "GET /": get("/"),
    "POST /logout": lambda a: Call("POST", "/logout"),
    "GET /account": get("/account"),
    "POST /account/tokens": lambda a: Call("POST", "/account/tokens", data={"days": "1"}),
    "POST /account/tokens/{token_id}/revoke": _own_token(
        "POST", "/account/tokens/{token_id}/revoke"
    ),
    # enrolling a one-time code is for a browser signed in with a password (not a token)
    "POST /account/second-factor": lambda a: Call("POST", "/account/second-factor", session=True),
    "POST /account/second-factor/confirm": lambda a: Call(
        "POST", "/account/second-factor/confirm", data={"code": "000000"}
    ),
    "GET /department": get("/department"),
    "GET /api/v1/tokens": get("/api/v1/tokens"),
    "POST /api/v1/tokens": lambda a: Call("POST", "/api/v1/tokens", json={"days": 1}),
    "DELETE /api/v1/tokens/{token_id}": _own_token("DELETE", "/api/v1/tokens/{token_id}"),
    "GET /api/v1/lookup": lambda a: Call(
        "GET", "/api/v1/lookup", {"lon": a.place.lon, "lat": a.place.lat}
    ),
    "POST /api/v1/lookup/batch": lambda a: Call(
        "POST",
        "/api/v1/lookup/batch",
        content=f"id,lon,lat\n1,{a.place.lon},{a.place.lat}\n".encode(),
        headers={"Content-Type": "text/csv"},
    ),
    "GET /api/v1/areas/{kind}/{code}": lambda a: Call("GET", f"/api/v1/areas/grid/{a.place.grid}"),
    "GET /api/v1/people/{code}/coverage": lambda a: Call(
        "GET", f"/api/v1/people/{a.place.person}/coverage"
    ),
    "POST /api/v1/people/{code}/phone": lambda a: Call(
        "POST", f"/api/v1/people/{a.place.person}/phone", json={"reason": "call back a caller"}
    ),
    "GET /maps/overview": get("/maps/overview"),
    "GET /maps/heatmap": get("/maps/heatmap"),
    "GET /maps/hexagons": get("/maps/hexagons"),
    "GET /maps/animation": get("/maps/animation"),
    "GET /maps/tiles/{z}/{x}/{y}": get("/maps/tiles/2/1/1"),
    "GET /api/v1/incidents/heatmap": get("/api/v1/incidents/heatmap"),
    "GET /api/v1/incidents/hexagons": get("/api/v1/incidents/hexagons"),
    "GET /api/v1/incidents/hourly": get("/api/v1/incidents/hourly"),
    "GET /api/v1/overview/layers": get("/api/v1/overview/layers"),
    "GET /api/v1/patrol/coverage": get("/api/v1/patrol/coverage"),
    "GET /api/v1/patrol/cells": lambda a: Call(
        "GET", "/api/v1/patrol/cells", {"beat": a.place.beat, "limit": 50}
    ),
    "GET /maps/patrol": get("/maps/patrol"),
    "GET /api/v1/cameras/sectors": get("/api/v1/cameras/sectors"),
    "GET /api/v1/cameras/blind-roads": lambda a: Call(
        "GET", "/api/v1/cameras/blind-roads", {"beat": a.place.beat}
    ),
    "GET /maps/cameras": get("/maps/cameras"),
    "GET /api/v1/water/shore-gaps": get("/api/v1/water/shore-gaps"),
    "GET /api/v1/water/markers": get("/api/v1/water/markers"),
    "GET /maps/water": get("/maps/water"),
    "GET /api/v1/layers/{layer}.{format}": lambda a: Call(
        "GET", f"/api/v1/layers/{a.place.collection}.geojson"
    ),
    "GET /ogc": get("/ogc"),
    "GET /ogc/conformance": get("/ogc/conformance"),
    "GET /ogc/collections": get("/ogc/collections"),
    "GET /ogc/collections/{collectionId}": lambda a: Call("GET", _ogc("/collections/{c}")(a)),
    "GET /ogc/collections/{collectionId}/items": lambda a: Call(
        "GET", _ogc("/collections/{c}/items")(a), {"limit": 5}
    ),
    "GET /ogc/collections/{collectionId}/items/{featureId}": lambda a: Call(
        "GET", _ogc("/collections/{c}/items/{f}")(a)
    ),
    "HEAD /ogc": head("/ogc"),
    "HEAD /ogc/conformance": head("/ogc/conformance"),
    "HEAD /ogc/collections": head("/ogc/collections"),
    "HEAD /ogc/collections/{collectionId}": lambda a: Call("HEAD", _ogc("/collections/{c}")(a)),
    "HEAD /ogc/collections/{collectionId}/items": lambda a: Call(
        "HEAD", _ogc("/collections/{c}/items")(a), {"limit": 5}
    ),
    "HEAD /ogc/collections/{collectionId}/items/{featureId}": lambda a: Call(
        "HEAD", _ogc("/collections/{c}/items/{f}")(a)
    ),
    "GET /tiles/{layer}/{z}/{x}/{y}.mvt": lambda a: Call(
        "GET", "/tiles/{}/{}/{}/{}.mvt".format(a.place.tile_layer, *a.place.tile)
    ),
    "POST /api/v1/imports": lambda a: Call(
        "POST",
        "/api/v1/imports",
        files={"file": ("place.geojson", a.import_file)},
        data={"layer": "place", "dry_run": "true"},
    ),
    "GET /api/v1/audit": get("/api/v1/audit", limit=5),
    "GET /api/v1/audit.csv": get("/api/v1/audit.csv", action="sign_in"),
    "GET /audit": get("/audit"),
    "GET /admin/users": get("/admin/users"),
    "POST /admin/users": lambda a: Call(
        "POST",
        "/admin/users",
        data={"name": f"{a.victim()}_n", "role": "planner", "password": CAST_PASSWORD},
    ),
    "POST /admin/users/{action}": lambda a: Call(
        "POST", "/admin/users/lock", data={"name": a.victim()}
    ),
    "POST /admin/tokens/{token_id}/revoke": _victim_token(
        "POST", "/admin/tokens/{token_id}/revoke"
    ),
    "GET /api/v1/users": get("/api/v1/users"),
    "POST /api/v1/users": lambda a: Call(
        "POST", "/api/v1/users", json={"name": f"{a.victim()}_n", "role": "planner"}
    ),
    "POST /api/v1/users/{name}/lock": _victim_call("POST", "/api/v1/users/{name}/lock"),
    "POST /api/v1/users/{name}/unlock": _victim_call("POST", "/api/v1/users/{name}/unlock"),
    "POST /api/v1/users/{name}/password": _victim_call("POST", "/api/v1/users/{name}/password"),
    "DELETE /api/v1/users/{name}": _victim_call("DELETE", "/api/v1/users/{name}"),
    "GET /api/v1/users/{name}/tokens": _victim_call("GET", "/api/v1/users/{name}/tokens"),
    "DELETE /api/v1/users/{name}/tokens/{token_id}": _victim_token(
        "DELETE", "/api/v1/users/{name}/tokens/{token_id}"
    ),
}
for _subject in SUBJECTS:  # the subjects' own rows (tests/access_rows/)
    assert not set(_subject.CALLS) & set(CALLS), _subject.__name__
    CALLS.update(_subject.CALLS)
# Answers that depend on who asks and that a shared cache must never keep (issue 11, 1).
PRIVATE = ("/tiles/", "/ogc", "/api/v1/layers/", "/api/v1/lookup", "/api/v1/overview/")


# ------------------------------------------------------------------------------- fixtures


@dataclass
class Stage:
    """The app under test, the cast and the places of their examples."""

    client: TestClient
    database_url: str
    cast: dict[Role, Member]
    places: dict[Role, Place]
    import_file: bytes
    shared_victim: str
    routes: set[str]
    mounts: set[str]
    sessions: dict[str, str] = field(default_factory=dict)


def _places(
    database_url: str, cast: dict[Role, Member], sample_path: Path, reference: Reference
) -> dict[Role, Place]:
    """Station roles and the grid worker ask about the grid worker's grid; the volunteer about
    a water marker of their village (from the sample GeoPackage and the assignment table)."""
    grids = reference.grids.set_index("code")
    worker = cast[R.grid_worker]
    assert worker.person
    grid = areas_of(database_url, worker.person, "grid")[0]
    inside = grids.geometry[grid].representative_point()
    plan = reference.plan_at(datetime.now(UTC).isoformat())
    beat = reference.beat_of[(plan, grid)]
    home = Place(
        grid=grid,
        village=str(grids.village_code[grid]),
        beat=beat,
        plan=plan,
        lon=inside.x,
        lat=inside.y,
        person=worker.person,
        collection="grid",
        feature=grid,
        tile_layer="grid",
    )
    volunteer = cast[R.volunteer]
    assert volunteer.person
    village = areas_of(database_url, volunteer.person, "village")[0]
    villages = gpd.read_file(sample_path, layer="village").set_index("code")
    markers = gpd.read_file(sample_path, layer="water_marker").sort_values("code")
    theirs = markers[markers.within(villages.geometry[village].buffer(-1e-6))]
    assert len(theirs), f"no water marker in village {village}"
    marker = theirs.iloc[0]
    shore = Place(
        grid=grid,
        village=village,
        beat=beat,
        plan=plan,
        lon=marker.geometry.x,
        lat=marker.geometry.y,
        person=worker.person,
        collection="water_marker",
        feature=str(marker["code"]),
        tile_layer="village",
    )
    return {role: shore if role == R.volunteer else home for role in Role}


@pytest.fixture(scope="module")
def access_database(sample_path: Path) -> Iterator[str]:
    """The table's own database: its allowed cells write (calls, positions, inspections, plans
    published), which the tests that read the shared sample must never see."""
    with loaded_database("geo_access", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def stage(
    settings: Settings,
    access_database: str,
    sample_path: Path,
    reference: Reference,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stage]:
    """The app (with a one-tile MBTiles basemap), one user of each role, their places."""
    database_url = access_database
    mbtiles = tmp_path_factory.mktemp("basemap") / "basemap.mbtiles"
    with sqlite3.connect(mbtiles) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute(
            "CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)"
        )
        db.execute("INSERT INTO metadata VALUES ('format', 'png')")
        db.execute("INSERT INTO tiles VALUES (2, 1, 2, ?)", (b"\x89PNG\r\n\x1a\n-",))
    cast = make_cast(database_url)
    places = _places(database_url, cast, sample_path, reference)
    out = io.BytesIO()
    places_layer = pyogrio.read_dataframe(sample_path, layer="place")
    pyogrio.write_dataframe(places_layer, out, driver="GeoJSON")
    app = create_app(
        settings.model_copy(update={"map_mbtiles_path": mbtiles, "database_url": database_url})
    )
    routes, mounts = route_keys(app)
    with TestClient(app) as client:
        yield Stage(
            client=client,
            database_url=database_url,
            cast=cast,
            places=places,
            import_file=out.getvalue(),
            shared_victim=make_member(database_url, R.planner).name,
            routes=routes,
            mounts=mounts,
        )


def _session(stage: Stage, member: Member) -> str:
    """A browser session of the member, signed in through the login form (once)."""
    if member.name not in stage.sessions:
        stage.client.cookies.clear()
        reply = stage.client.post(
            "/login",
            data={"name": member.name, "password": CAST_PASSWORD, "next": "/"},
            follow_redirects=False,
        )
        assert reply.status_code == 303, reply.text
        stage.sessions[member.name] = reply.cookies["geo_session"]
    return stage.sessions[member.name]


def _send(stage: Stage, call: Call, member: Member | None, **headers: str) -> Any:
    """Send a call as the member (by token, or by session when the call says so), or with no
    credentials at all; redirects are answers, not followed."""
    sent = {**call.headers, **headers}
    session = _session(stage, member) if member is not None and call.session else None
    if member is not None and session is None:
        sent.update(member.headers)
    stage.client.cookies.clear()
    if session is not None:
        stage.client.cookies.set("geo_session", session)
    return stage.client.request(
        call.method,
        call.path,
        params=call.params,
        data=call.data,
        json=call.json,
        files=call.files,
        content=call.content,
        headers=sent,
        follow_redirects=False,
    )


def _ask(stage: Stage, role: Role, *, changes: bool) -> Ask:
    """What a cell's request is built from; a cell allowed to change things gets its own user
    to change, a refused one the shared user (which a refusal must leave as it was)."""
    database_url = stage.database_url

    def victim() -> str:
        return make_member(database_url, R.planner).name if changes else stage.shared_victim

    return Ask(
        member=stage.cast[role],
        place=stage.places[role],
        database_url=database_url,
        victim=victim,
        spare_token=lambda name: token_id_of(database_url, name),
        import_file=stage.import_file,
    )


def _is_problem(reply: Any, status: int) -> dict[str, Any]:
    """The problem+json body of a refusal (a HEAD answer has its headers only)."""
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.headers
    if reply.request.method == "HEAD":
        return {}
    body: dict[str, Any] = reply.json()
    assert body["status"] == status
    return body


# ---------------------------------------------------------------------------------- tests


def test_every_route_is_in_the_table(stage: Stage) -> None:
    """A route the table does not name fails here: a new route cannot slip through."""
    assert stage.routes - set(EXPECTED) == set(), "routes missing from the access table"
    assert set(EXPECTED) - stage.routes == set(), "the table names routes the app lacks"
    assert stage.mounts == PUBLIC_MOUNTS
    assert set(CALLS) == set(EXPECTED)


def test_every_documented_operation_is_in_the_table(stage: Stage) -> None:
    document = stage.client.get("/openapi.json").json()
    operations = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert len(operations) > 40
    assert operations - set(EXPECTED) == set()


CELLS = [(key, role) for key in PROTECTED for role in COLUMNS]


@pytest.mark.parametrize(("key", "role"), CELLS, ids=[f"{k}-{r}" for k, r in CELLS])
def test_cell(stage: Stage, key: str, role: Role) -> None:
    """One cell: allowed is an answer that is neither 401 nor 403 (2xx or 3xx with these
    valid parameters), private to the user; denied is 403 problem+json naming the user's
    role, and for a user in areas scope their areas."""
    allowed = role in EXPECTED[key]
    call = CALLS[key](_ask(stage, role, changes=allowed))
    reply = _send(stage, call, stage.cast[role])
    if allowed:
        assert 200 <= reply.status_code < 400, (reply.status_code, reply.text[:500])
        if call.path.startswith(PRIVATE):
            assert "private" in reply.headers.get("cache-control", ""), reply.headers
        return
    body = _is_problem(reply, 403)
    if call.method == "HEAD":
        return
    place = stage.places[role]
    if role == R.grid_worker:
        assert place.grid in body.get("areas", ""), body
    if role == R.volunteer:
        assert place.village in body.get("areas", ""), body
    if role == R.department:
        assert f"department {CAST_DEPARTMENT}" in body.get("areas", ""), body


@pytest.mark.parametrize("key", PROTECTED)
def test_no_credentials_is_401(stage: Stage, key: str) -> None:
    call = CALLS[key](_ask(stage, R.leader, changes=False))
    reply = _send(stage, call, None)
    _is_problem(reply, 401)
    assert reply.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", [k for k in PROTECTED if k.startswith("GET ")])
def test_a_browser_without_a_session_is_sent_to_the_login_page(stage: Stage, key: str) -> None:
    call = CALLS[key](_ask(stage, R.leader, changes=False))
    reply = _send(stage, call, None, Accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert reply.status_code == 303, reply.text[:300]
    target = urlsplit(reply.headers["location"])
    assert target.path == "/login" and not target.netloc
    back = urlsplit(parse_qs(target.query)["next"][0])
    assert back.path == call.path and not back.netloc


@pytest.mark.parametrize("key", [k for k in EXPECTED if EXPECTED[k] == PUBLIC])
def test_public_routes_answer_anyone(stage: Stage, key: str) -> None:
    """Public pages answer without credentials; the login form signs a user in (303 with the
    session cookie)."""
    call = CALLS[key](_ask(stage, R.leader, changes=False))
    reply = _send(stage, call, None, Accept="text/html")
    if key == "POST /login":
        assert reply.status_code == 303, reply.text[:300]
        assert reply.cookies.get("geo_session")
        return
    assert reply.status_code == 200, reply.text[:300]
    assert "geo_session" not in reply.cookies


@pytest.mark.parametrize("path", PUBLIC_FILES)
def test_static_assets_answer_anyone(stage: Stage, path: str) -> None:
    stage.client.cookies.clear()
    reply = stage.client.get(path)
    assert reply.status_code == 200 and reply.content


def test_a_wrong_or_revoked_token_is_401(stage: Stage) -> None:
    call = Call("GET", "/api/v1/overview/layers")
    wrong = Member(R.leader, "nobody", "gst_" + "x" * 43, None)
    _is_problem(_send(stage, call, wrong), 401)
    member = make_member(stage.database_url, R.leader)
    assert _send(stage, call, member).status_code == 200
    cookies_free = {"Authorization": member.headers["Authorization"]}
    reply = stage.client.get("/api/v1/tokens", headers=cookies_free)
    for token in reply.json():
        stage.client.delete(f"/api/v1/tokens/{token['id']}", headers=cookies_free)
    _is_problem(_send(stage, call, member), 401)
