"""The problem+json body every error is answered with (RFC 9457)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ParameterError(BaseModel):
    """One failed check of a request parameter (422 from request validation)."""

    parameter: str = Field(description="Where: query.lon, path.code, body, ...")
    message: str | None = None


class ProblemDetails(BaseModel):
    """What went wrong and what to fix. More members may follow (``nearest`` for a point
    outside the jurisdiction, ``report`` for a refused import, ``errors`` for request
    validation)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="/problems/<ErrorClass>, or about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What is wrong and how to fix it, for a person")
    parameter: str | None = Field(default=None, description="The parameter (or body) to fix")
    errors: list[ParameterError] | None = Field(
        default=None, description="Every failed check, when the request did not validate"
    )
    report: dict[str, Any] | None = Field(
        default=None, description="The import report, when an import was refused"
    )
