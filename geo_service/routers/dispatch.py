"""Recommended units for an incident, by road travel time (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from geo_service.accounts.access import DISPATCH, allow
from geo_service.accounts.deps import Connection
from geo_service.schemas.recommend import Recommendation
from geo_service.services.recommend import recommend_units

router = APIRouter(tags=["command room"])

CallNo = Annotated[str, Path(min_length=1, max_length=64, description="The incident's call number")]


@router.get(
    "/api/v1/incidents/{call_no}/recommend",
    summary="Recommended units by road travel time",
    response_model=Recommendation,
    dependencies=[allow(DISPATCH)],
    responses={404: {"description": "No incident with this call number (in the caller's scope)"}},
)
async def recommend(conn: Connection, call_no: CallNo) -> Recommendation:
    """The units on duty now and available, with their travel time by road from their last
    position to the incident (one shortest-path search from the incident per unit kind over
    the road network; speeds by road kind and unit kind; points off the network go to the
    nearest road in a straight line), straight-line distance and whether each is the incident's
    beat's own; fastest by road first, units without a position last."""
    body = await recommend_units(conn, call_no=call_no, at=datetime.now(UTC))
    return Recommendation.model_validate(body)
