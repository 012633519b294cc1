"""The OpenAPI document as the contract: errors as problem+json, and the shapes of shared values.

Routers declare what they answer (``response_model`` and the statuses particular to them, such as
404 for an unknown beat); this module adds, once, what is true of every operation:

- every error status is ``application/problem+json`` with the ProblemDetails schema, 422 in
  place of FastAPI's own validation shape (the service never sends that one);
- 404 on every operation with a path parameter, or a beat, plan or village parameter (an
  unknown code or id), 503 on every operation (the database is down);
- query parameters that hold a moment or a coordinate show the shape parse_moment and crs.py
  accept, so a client (or schemathesis) knows which values are valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from geo_service.moments import MOMENT_DOC, MOMENT_PATTERN
from geo_service.schemas.problem import PROBLEM_MEDIA_TYPE, ProblemDetails

Document = dict[str, Any]

GEOJSON_MEDIA_TYPE = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """A response whose body is GeoJSON (RFC 7946): ``application/geo+json`` (a JSON response,
    so a route's ``response_model`` is documented under it)."""

    media_type = GEOJSON_MEDIA_TYPE


# What each error status means when an operation does not say more.
ERROR_DESCRIPTIONS = {
    400: "The body is not JSON text (problem+json)",
    404: "Not found: an unknown code or id (problem+json naming the parameter)",
    413: "Payload too large (problem+json)",
    422: "Invalid parameter or body (problem+json naming the parameter)",
    503: "Database unavailable (problem+json)",
}

# The documented shape of query parameters whose values are checked in one place each
# (moments by geo_service.moments.parse_moment, coordinates by geo_service.crs).
MOMENT_SCHEMA = {"type": "string", "pattern": MOMENT_PATTERN}
QUERY_SHAPES: dict[str, dict[str, Any]] = {
    **{name: MOMENT_SCHEMA for name in ("at", "start", "end", "from", "to")},
    "lon": {"type": "number", "minimum": -180, "maximum": 180},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
}
# Query parameters naming something by code: an unknown code answers 404.
CODE_PARAMETERS = frozenset({"beat", "plan", "village"})
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def document_contract(app: FastAPI, *amendments: Callable[[Document], Document]) -> None:
    """Make ``app.openapi()`` answer the document with the additions above, then each of the
    routers' own amendments (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            document = contract(document)
            for amend in amendments:
                document = amend(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def contract(document: dict[str, Any]) -> dict[str, Any]:
    """The document with problem+json errors, 404/503 where true, and shared value shapes."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["ProblemDetails"] = problem
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _document_operation(operation)
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    return document


def _document_operation(operation: dict[str, Any]) -> None:
    """One operation: error statuses, and the shapes of its moment and coordinate parameters."""
    parameters = operation.get("parameters", [])
    responses = operation.setdefault("responses", {})
    if any(p.get("in") == "path" or p.get("name") in CODE_PARAMETERS for p in parameters):
        responses.setdefault("404", {})
    if parameters or "requestBody" in operation:
        responses.setdefault("422", {})
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        responses.setdefault("400", {})
    responses.setdefault("503", {})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        response.setdefault("description", ERROR_DESCRIPTIONS.get(int(status), "Error"))
        content = response.get("content") or {}
        if not content or _is_fastapi_validation(content):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
        elif list(content) == ["application/json"] and _is_problem(content["application/json"]):
            response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
    for parameter in parameters:
        shape = QUERY_SHAPES.get(parameter.get("name", ""))
        if parameter.get("in") == "query" and shape is not None:
            _shape_parameter(parameter, shape)


def _shape_parameter(parameter: dict[str, Any], shape: dict[str, Any]) -> None:
    """Put a shared shape on a query parameter of the same type (an optional one keeps its
    default: a query parameter is never null)."""
    schema = parameter.get("schema", {})
    types = {s.get("type") for s in schema.get("anyOf", [schema])} - {"null"}
    if types != {shape["type"]} and not (shape["type"] == "number" and types == {"integer"}):
        return
    shaped = {**shape, **{k: schema[k] for k in ("title", "default") if k in schema}}
    if shape is MOMENT_SCHEMA:
        parameter["description"] = parameter.get("description") or MOMENT_DOC
    parameter["schema"] = shaped


def _is_fastapi_validation(content: dict[str, Any]) -> bool:
    """Whether a response's content is FastAPI's own validation error shape."""
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] in _FASTAPI_VALIDATION


def _is_problem(media: dict[str, Any]) -> bool:
    """Whether a declared error body is ProblemDetails (declared under the default media)."""
    return media.get("schema") == _PROBLEM_REF
