"""Recommended units for an incident, by road travel time (issue 12)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["command room"])
