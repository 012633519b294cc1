"""The accounts' part of the OpenAPI document: the two ways to sign in as security schemes and,
on every operation that is not public, its security requirement, the roles that may use it,
and its 401 and 403 answers (so that clients and schemathesis know them)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from geo_service.accounts.access import declared_access
from geo_service.accounts.roles import Role
from geo_service.schemas.problem import PROBLEM_MEDIA_TYPE

Document = dict[str, Any]

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (the account page, or `geo-service user token`)",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "geo_session",
        "description": "The browser session the login page (/login) starts",
    },
}
_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
UNAUTHORIZED = {
    "description": "Not signed in: no token or session, or one that is unknown, expired or "
    "revoked (problem+json)",
    "headers": {
        "WWW-Authenticate": {"description": "`Bearer realm=...`", "schema": {"type": "string"}}
    },
    "content": _PROBLEM,
}
FORBIDDEN = {
    "description": "Not allowed: the user's role may not use this operation, or what was asked "
    "lies outside their areas (problem+json naming the areas they cover)",
    "content": _PROBLEM,
}


def route_access(app: FastAPI) -> dict[tuple[str, str], object]:
    """What each route declares, by (lower-case method, path): "public" or its roles."""
    found: dict[tuple[str, str], object] = {}
    for context in iter_route_contexts(app.routes):
        route = context.route
        if not isinstance(route, APIRoute):
            continue
        declared = [declared_access(d.call) for d in route.dependant.dependencies if d.call]
        access: object = None
        if "public" in declared:
            access = "public"
        elif groups := [a for a in declared if isinstance(a, frozenset)]:
            access = frozenset(Role).intersection(*groups)  # every check must let them through
        for method in route.methods or ():
            found[(method.lower(), route.path)] = access
    return found


def declare_access(app: FastAPI) -> Callable[[Document], Document]:
    """An amendment of the app's OpenAPI document (see geo_service/openapi.py)."""

    def amend(document: Document) -> Document:
        access = route_access(app)
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                roles = access.get((method, path))
                if roles is None or roles == "public":
                    continue
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
                if isinstance(roles, frozenset):
                    operation["x-roles"] = sorted(str(r) for r in roles)
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", copy.deepcopy(UNAUTHORIZED))
                responses.setdefault("403", copy.deepcopy(FORBIDDEN))
        return document

    return amend
