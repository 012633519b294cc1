"""Work in the field (issue 14): inspections, sweeps, dusk patrols and reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["field"])
