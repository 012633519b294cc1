"""The station's numbers (issue 12): /api/v1/kpis, its CSV and the /kpis page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["command room"])
