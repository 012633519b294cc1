"""The phone page "my area" (issue 14): /api/v1/me, /me, its manifest and service worker."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["field"])
