"""GeoJSON building blocks shared by the answers (RFC 7946, coordinates in WGS 84)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

GeometryType = Literal[
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
]


class Geometry(BaseModel):
    """A GeoJSON geometry: ``coordinates`` for the simple types, ``geometries`` for a
    GeometryCollection."""

    type: GeometryType
    coordinates: list[Any] | None = Field(default=None, description="[lon, lat] nesting")
    geometries: list[dict[str, Any]] | None = None


class Point(BaseModel):
    """A GeoJSON Point."""

    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3, description="[lon, lat]")
