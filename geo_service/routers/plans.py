"""Beat plans (issue 13): drafts, edits, diff, publication and the planner's page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["planning"])
