"""Answer of the import endpoint: the import report (the same as the CLI's --json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ImportCounts(BaseModel):
    """Rows read and what they did to the layer."""

    rows_read: int
    added: int
    updated: int
    unchanged: int
    removed: int
    restamped_incidents: int
    restamped_position_fixes: int


class ImportFinding(BaseModel):
    """A refusal, repair, snapped sliver or warning; empty members are left out."""

    check: str
    message: str
    rows: list[int] | None = Field(default=None, description="1-based features in the source")
    codes: list[str] | None = None
    area_m2: float | None = None
    location: list[float] | None = Field(default=None, description="[lon, lat] (EPSG:4326)")


class ImportReport(BaseModel):
    """What an import read, converted, checked and changed."""

    layer: str
    source_file: str
    source_format: str
    source_layer: str | None
    source_crs: str | None
    conversion: str | None
    mode: Literal["replace", "upsert"]
    dry_run: bool
    strict: bool
    status: Literal["imported", "dry-run", "refused", "pending"]
    import_id: int | None
    counts: ImportCounts
    refusals: list[ImportFinding]
    repairs: list[ImportFinding]
    snapped: list[ImportFinding]
    warnings: list[ImportFinding]
