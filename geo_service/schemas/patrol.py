"""Answers of the patrol endpoints: coverage per beat, and a beat's H3 cells."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from geo_service.schemas.geojson import Geometry


class PatrolPlan(BaseModel):
    """The beat plan whose beats are counted."""

    code: str
    status: str = Field(description="draft or published")
    effective_from: datetime | None


class BeatCoverage(BaseModel):
    """One beat's cells and how many a patrol passed through in the period."""

    code: str
    name: str
    cells: int
    visited_cells: int
    never_visited_cells: int
    share: float | None = Field(description="visited / cells; null for a beat with no cells")
    fixes_in_cells: int
    last_visit: datetime | None
    median_hours_since_visit: float | None


class CoverageTotals(BaseModel):
    """Cells and visited cells over every beat."""

    cells: int
    visited_cells: int
    share: float | None


class PatrolCoverage(BaseModel):
    """Patrol coverage per beat in [from, to) (sql/functions/60_patrol.sql)."""

    model_config = {"populate_by_name": True}

    plan: PatrolPlan
    from_: datetime = Field(alias="from")
    to: datetime
    h3_resolution: int
    cells_fresh: bool | None = Field(description="Whether the cached cells were up to date")
    beats: list[BeatCoverage]
    totals: CoverageTotals


class PageLink(BaseModel):
    """A link to another page of the same answer."""

    href: str
    rel: Literal["next"]
    type: str
    title: str


class PatrolCellProperties(BaseModel):
    """One H3 cell of a beat with its last visit."""

    h3: str
    beat: str
    grid: str
    visited: bool
    fixes: int
    last_visit: datetime | None
    hours_since_visit: float | None


class PatrolCellFeature(BaseModel):
    """One H3 cell as a GeoJSON hexagon."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: PatrolCellProperties


class PatrolCells(BaseModel):
    """A beat's cells (every beat when none is named) as GeoJSON."""

    model_config = {"populate_by_name": True}

    type: Literal["FeatureCollection"]
    plan: str
    beat: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    cells_fresh: bool | None
    features: list[PatrolCellFeature]
    numberReturned: int = Field(description="Cells in this page")
    links: list[PageLink] = Field(description="A `next` link while more cells remain")
