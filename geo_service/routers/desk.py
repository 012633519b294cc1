"""The command room's desk (issue 12): calls in, their timelines, unit positions and states."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["command room"])
