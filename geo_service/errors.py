"""Domain errors and the one table that maps them to HTTP statuses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service reports to a user."""

    title = "Request cannot be answered"

    def __init__(self, detail: str, *, parameter: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parameter = parameter
        self.extra = extra


class InvalidCoordinates(DomainError):
    """Coordinates that are not numbers or out of range."""

    title = "Invalid coordinates"


class UnknownCRS(DomainError):
    """A coordinate reference system the service does not convert."""

    title = "Unknown coordinate reference system"


class InvalidParameter(DomainError):
    """A request parameter or body that cannot be understood."""

    title = "Invalid parameter"


class PayloadTooLarge(DomainError):
    """A request body over the configured limit."""

    title = "Payload too large"


class Unauthorized(DomainError):
    """No valid session or token: sign in, or send `Authorization: Bearer <token>`."""

    title = "Sign-in required"


class Forbidden(DomainError):
    """A signed-in user asking for what their role or areas do not allow; names their areas."""

    title = "Not allowed"


class Conflict(DomainError):
    """A write that clashes with what is stored (a name already taken)."""

    title = "Conflict"


class OutsideJurisdiction(DomainError):
    """A point that lies outside the station's jurisdiction."""

    title = "Outside the jurisdiction"


class NotFound(DomainError):
    """An id or code that names nothing."""

    title = "Not found"


class DatabaseUnavailable(DomainError):
    """The database cannot be reached or is missing PostGIS."""

    title = "Database unavailable"


class InternalError(DomainError):
    """A failure the code does not expect (a bug, such as a missing SQL function); logged."""

    title = "Internal error"


# The one table from domain error to HTTP status.
STATUS_OF: dict[type[DomainError], int] = {
    InvalidCoordinates: 422,
    UnknownCRS: 422,
    InvalidParameter: 422,
    PayloadTooLarge: 413,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    OutsideJurisdiction: 404,
    NotFound: 404,
    DatabaseUnavailable: 503,
    InternalError: 500,
}


def status_of(error: DomainError) -> int:
    """HTTP status for a domain error (most specific class in STATUS_OF wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def problem(error: DomainError) -> dict[str, Any]:
    """The application/problem+json body for a domain error."""
    body: dict[str, Any] = {
        "type": f"/problems/{type(error).__name__}",
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
    }
    if error.parameter:
        body["parameter"] = error.parameter
    body.update(error.extra)
    return body
