"""Answers of the incident data endpoints: heatmap weights, H3 hexagons, hour × weekday."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class IncidentFilterEcho(BaseModel):
    """The filter the answer was computed with (defaults filled in)."""

    start: datetime
    end: datetime = Field(description="Exclusive")
    categories: list[str] | None
    beat: str | None
    village: str | None
    hours: list[int] | None
    weekdays: list[int] | None


class HeatmapAnswer(BaseModel):
    """Weighted points at H3 cell centres; the weights sum to ``incidents``."""

    filter: IncidentFilterEcho
    h3_resolution: int | None = Field(description="Resolution of the cells; null with no points")
    incidents: int = Field(ge=0)
    points: int = Field(ge=0)
    points_latlon_weight: list[tuple[float, float, int]] = Field(
        description="[lat, lon, incidents] per cell"
    )


class HexagonProperties(BaseModel):
    """Incidents of one H3 cell in the window and in the previous period."""

    cell: str
    incidents: int
    previous: int
    change: int
    change_pct: float | None = Field(description="null when the previous period had none")


class HexagonFeature(BaseModel):
    """One H3 cell as a GeoJSON polygon."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: HexagonProperties


class Period(BaseModel):
    """A period [start, end)."""

    start: datetime
    end: datetime


class HexagonCollection(BaseModel):
    """H3 cells with incidents now and in the previous period of the same length."""

    type: Literal["FeatureCollection"]
    h3_resolution: int
    filter: IncidentFilterEcho
    previous: Period
    incidents: int
    previous_incidents: int
    features: list[HexagonFeature]


class HourlyAnswer(BaseModel):
    """Incidents per ISO weekday (rows 1..7) × station hour (columns 0..23)."""

    filter: IncidentFilterEcho
    weekday_hour: list[list[int]] = Field(min_length=7, max_length=7)
    by_hour: list[int] = Field(min_length=24, max_length=24)
    by_weekday: list[int] = Field(min_length=7, max_length=7)
    incidents: int
