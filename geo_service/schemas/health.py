"""Answer of the health endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The service and its PostGIS are up."""

    status: Literal["ok"]
    postgis: str = Field(description="postgis_full_version()")
    stations_loaded: int


class HealthDown(BaseModel):
    """What is down (answered with 503)."""

    status: Literal["down"]
    database: str = Field(description="The error met on the way to the database")
