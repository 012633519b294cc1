"""Bodies of the token and user administration endpoints (never a password hash or a stored
secret; a new token or password appears once, in the answer that made it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from geo_service.accounts.roles import Role

USER_NAME = r"^[A-Za-z0-9._-]{2,64}$"


class TokenInfo(BaseModel):
    """An API token as its owner and the admin see it (its secret is never shown again)."""

    id: int
    user: str = Field(description="The user the token acts as")
    label: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    last_used_at: datetime | None = Field(description="To the minute; null if never used")


class NewToken(BaseModel):
    """A token to make for oneself."""

    label: str = Field(default="", max_length=100, description="What it is for (QGIS, a script)")
    days: int | None = Field(
        default=None, ge=1, le=3650, description="Days it stays valid (default TOKEN_DAYS, 90)"
    )


class IssuedToken(BaseModel):
    """A new token: ``token`` is shown this once only, then stored as its hash."""

    id: int
    token: str = Field(description="Send as `Authorization: Bearer <token>`")
    label: str
    expires_at: datetime


class UserInfo(BaseModel):
    """An account as the admin sees it."""

    name: str
    role: Role
    person: str | None = Field(description="The person code whose assignments give the areas")
    department: str | None = Field(
        description="The department code whose reports a department user answers"
    )
    locked: bool = Field(description="Locked by the admin until unlocked")
    locked_until: datetime | None = Field(description="Locked by wrong passwords until then")
    removed: bool
    second_factor: bool = Field(description="Whether a one-time code is enrolled")
    created_at: datetime


class NewUser(BaseModel):
    """An account to add."""

    name: str = Field(pattern=USER_NAME, description="2-64 letters, digits, '.', '_' or '-'")
    role: Role
    person: str | None = Field(
        default=None,
        max_length=64,
        description="Person code; required for community_officer, grid_worker and volunteer",
    )
    department: str | None = Field(
        default=None,
        max_length=40,
        description="Department code (GET /api/v1/departments); required for a department user",
    )
    password: str | None = Field(
        default=None,
        min_length=10,
        max_length=1024,
        description="At least 10 characters; leave out for a random one (answered once)",
    )


class AddedUser(BaseModel):
    """The account added; ``password`` only when the service made it (shown this once)."""

    name: str
    role: Role
    person: str | None
    department: str | None = None
    password: str | None = Field(description="The generated password, or null when given")


class NewPassword(BaseModel):
    """A password reset: the new, generated password, shown this once."""

    name: str
    password: str
