"""Areas (station, village, grid, beat) and the people who cover them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from geo_service.accounts.access import PEOPLE, allow
from geo_service.accounts.deps import Connection
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.params import AtQuery, PlanQuery
from geo_service.schemas.areas import AreaFeature, PersonCoverage
from geo_service.services.areas import AreaKind, area_details, person_coverage

router = APIRouter(prefix="/api/v1", tags=["areas"], dependencies=[allow(PEOPLE)])


@router.get(
    "/areas/{kind}/{code}",
    summary="One area with its people and neighbours",
    response_model=AreaFeature,
    response_class=GeoJSONResponse,
    responses={404: {"description": "No area of that kind has that code (in that plan)"}},
)
async def area(
    conn: Connection,
    kind: Annotated[AreaKind, Path(description="station, village, grid or beat")],
    code: Annotated[str, Path(max_length=64)],
    at: AtQuery = None,
    plan: PlanQuery = None,
) -> Response:
    """A GeoJSON Feature: outline, area in km², people assigned at the moment, counts of rentals,
    cameras, markers and last-30-day incidents, and neighbours that share a border."""
    body = await area_details(conn, kind=kind, code=code, at=parse_moment(at), plan=plan)
    return Response(body, media_type="application/geo+json")


@router.get(
    "/people/{code}/coverage",
    summary="The areas a person covers",
    response_model=PersonCoverage,
    responses={404: {"description": "No person has that code"}},
)
async def coverage(
    conn: Connection,
    code: Annotated[str, Path(max_length=64, description="Person code, e.g. P00001")],
    at: AtQuery = None,
) -> Response:
    """The areas a person is assigned to at the moment, with counts of rentals, cameras, markers
    and last-30-day incidents, and the whole assignment history."""
    body = await person_coverage(conn, code=code, at=parse_moment(at))
    return Response(body, media_type="application/json")
