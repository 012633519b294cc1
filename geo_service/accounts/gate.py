"""What create_app needs of accounts: the start-up check that every route declares who may use
it, the roles that need a second factor, and where a browser that is not signed in is sent."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.accounts.access import declared_access
from geo_service.accounts.roles import SECOND_FACTOR_ROLES, Role
from geo_service.errors import InvalidParameter
from geo_service.settings import Settings

LOGIN_PATH = "/login"
NOT_STORED = "private, no-store"


def require_access_declarations(app: FastAPI) -> None:
    """Refuse to build an app with a route that says neither who may use it nor that it is
    public: deny by default, checked once at start-up. Routes of included routers are found
    through FastAPI's route contexts (``app.routes`` lists an included router as one entry), with
    the router's own dependencies counted."""
    undeclared = [
        f"{','.join(sorted(route.methods or ()))} {route.path}"
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and not any(declared_access(d.call) for d in route.dependant.dependencies if d.call)
    ]
    if undeclared:
        raise RuntimeError(
            "Routes without an access declaration (accounts/access.py): " + "; ".join(undeclared)
        )


def second_factor_roles(settings: Settings) -> frozenset[Role]:
    """Roles that sign in with a one-time code: admin and auditor always, plus the settings'."""
    extra = {name.strip() for name in settings.second_factor_roles.split(",") if name.strip()}
    unknown = extra - {str(r) for r in Role}
    if unknown:
        raise InvalidParameter(
            f"SECOND_FACTOR_ROLES names unknown roles: {', '.join(sorted(unknown))}",
            parameter="second_factor_roles",
        )
    return SECOND_FACTOR_ROLES | {Role(name) for name in extra}


def wants_page(request: Request) -> bool:
    """Whether a person at a browser asked for a page or sent a form (accepting HTML, no
    token): sent to sign in rather than answered problem+json."""
    return (
        request.method in ("GET", "POST")
        and "text/html" in request.headers.get("accept", "")
        and "authorization" not in request.headers
    )


def login_url(request: Request) -> str:
    """The login page, coming back to where the user was going (a local path only)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?{urlencode({'next': target})}"


class PrivateAnswers:
    """Pure ASGI middleware: an answer to a signed-in request depends on who asked, so no shared
    cache may keep it; one that says nothing of caching is not stored at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, adding Cache-Control to a signed-in request's answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start" and "user" in scope.get("state", {}):
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", NOT_STORED)
                headers.add_vary_header("Authorization")
                headers.add_vary_header("Cookie")
            await send(message)

        await self.app(scope, receive, send_private)
