"""Each beat's workload and the rebalance of a draft (issue 13)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["planning"])
