"""Areas (station, village, grid, beat) and the people who cover them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from geo_service import audit
from geo_service.accounts.access import PEOPLE, PHONE_REVEAL, allow
from geo_service.accounts.deps import Connection
from geo_service.db import one
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.params import AtQuery, PlanQuery
from geo_service.schemas.areas import AreaFeature, PersonCoverage, PhoneReveal, RevealedPhone
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


@router.post(
    "/people/{code}/phone",
    summary="A masked phone number in full, with a reason (audited)",
    response_model=RevealedPhone,
    dependencies=[allow(PHONE_REVEAL)],
    responses={404: {"description": "No person has that code"}},
)
async def reveal_phone(
    request: Request,
    conn: Connection,
    code: Annotated[str, Path(max_length=64, description="Person code, e.g. P00001")],
    body: PhoneReveal,
) -> RevealedPhone:
    """For planners and community officers, who see other people's numbers masked: the number
    in full. The request and its reason go to the audit trail."""
    cur = await conn.execute("SELECT * FROM app_reveal_phone(%s)", (code,))
    person, name, phone = one(await cur.fetchone(), "a revealed phone")
    audit.record(request, "phone_reveal", person, reason=body.reason)
    return RevealedPhone(code=person, name=name, phone=phone)
