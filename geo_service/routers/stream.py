"""The live map (issue 12): the event stream, the board at a moment, the /command page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["command room"])
