"""Patrol coverage: numbers per beat, cells as GeoJSON, and the /maps/patrol page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.accounts.access import PEOPLE, allow
from geo_service.accounts.deps import Connection
from geo_service.maps.patrol import patrol_page
from geo_service.moments import parse_moment
from geo_service.openapi import GeoJSONResponse
from geo_service.routers.map_page import map_page
from geo_service.routers.params import AppSettings, LangQuery
from geo_service.schemas.patrol import PatrolCells, PatrolCoverage
from geo_service.services.patrol import parse_cell, patrol_cells, patrol_coverage

router = APIRouter(tags=["patrol"], dependencies=[allow(PEOPLE)])

GEOJSON = "application/geo+json"
CELLS_DEFAULT_LIMIT = 2_500  # about 1 MB of GeoJSON
CELLS_MAX_LIMIT = 10_000

FROM_DOC = (
    "Start of the period (ISO 8601; without an offset, station time). "
    "Default: 30 days before the end."
)
TO_DOC = (
    "End of the period, exclusive (ISO 8601). Default: the end of the station day of the "
    "latest position fix."
)
PLAN_DOC = "Beat plan code. Default: the plan in force at the end of the period."


def _moment(text: str | None, name: str) -> datetime | None:
    """An optional moment parameter (None stays None: the SQL fills in the default)."""
    return None if text in (None, "") else parse_moment(text, parameter=name)


@router.get(
    "/api/v1/patrol/coverage",
    summary="Patrol coverage per beat",
    response_model=PatrolCoverage,
    responses={404: {"description": "Unknown plan, or no plan in force at the end"}},
)
async def coverage(
    conn: Connection,
    start: Annotated[str | None, Query(alias="from", description=FROM_DOC)] = None,
    end: Annotated[str | None, Query(alias="to", description=TO_DOC)] = None,
    plan: Annotated[str | None, Query(max_length=64, description=PLAN_DOC)] = None,
) -> Response:
    """For each beat: its H3 cells (resolution 10, about 65 m across), the cells a patrol passed
    through in the period, the share, fixes, the last visit and the median hours since a visit."""
    body = await patrol_coverage(
        conn, start=_moment(start, "from"), end=_moment(end, "to"), plan=plan
    )
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/api/v1/patrol/cells",
    summary="A beat's H3 cells with their last visit, in pages",
    response_model=PatrolCells,
    response_class=GeoJSONResponse,
    responses={404: {"description": "Unknown beat or plan, or no plan in force at the end"}},
)
async def cells(
    request: Request,
    conn: Connection,
    beat: Annotated[str | None, Query(max_length=64, description="Beat code; default all")] = None,
    start: Annotated[str | None, Query(alias="from", description=FROM_DOC)] = None,
    end: Annotated[str | None, Query(alias="to", description=TO_DOC)] = None,
    plan: Annotated[str | None, Query(max_length=64, description=PLAN_DOC)] = None,
    visited_only: Annotated[bool, Query(description="Only cells visited in the period")] = False,
    limit: Annotated[
        int, Query(ge=1, le=CELLS_MAX_LIMIT, description=f"Cells per page, 1..{CELLS_MAX_LIMIT}")
    ] = CELLS_DEFAULT_LIMIT,
    after: Annotated[
        str | None,
        Query(
            max_length=16,
            description="Id of the last cell of the previous page (its next link)",
            json_schema_extra={"pattern": "^([0-7]?[0-9a-fA-F]{1,15})?$"},
        ),
    ] = None,
) -> Response:
    """GeoJSON hexagons of a beat's cells (every beat's without one): visited or not, fixes,
    last visit, hours since. In pages of at most ``limit`` cells in id order; while more remain,
    ``links`` holds a ``next`` link that asks for the cells after the last one of this page."""
    body = await patrol_cells(
        conn,
        beat=beat,
        start=_moment(start, "from"),
        end=_moment(end, "to"),
        plan=plan,
        only_visited=visited_only,
        after=None if after in (None, "") else parse_cell(after, parameter="after"),
        limit=limit,
    )
    next_after = body.pop("next_after", None)
    body["numberReturned"] = len(body["features"])
    body["links"] = (
        [
            {
                "href": str(request.url.include_query_params(after=next_after, limit=limit)),
                "rel": "next",
                "type": GEOJSON,
                "title": "Next page",
            }
        ]
        if next_after
        else []
    )
    return Response(orjson.dumps(body), media_type=GEOJSON)


@router.get(
    "/maps/patrol",
    response_class=HTMLResponse,
    summary="Patrol coverage map",
    responses={404: {"description": "Unknown beat or plan, or no plan in force at the end"}},
)
async def patrol_map(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    start: Annotated[str | None, Query(alias="from", description=FROM_DOC)] = None,
    end: Annotated[str | None, Query(alias="to", description=TO_DOC)] = None,
    plan: Annotated[str | None, Query(max_length=64, description=PLAN_DOC)] = None,
    beat: Annotated[
        str | None, Query(max_length=64, description="Show all cells of a beat")
    ] = None,
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """Beats with their visited cells coloured by time since the last visit, and a table."""
    period_start, period_end = _moment(start, "from"), _moment(end, "to")
    return await map_page(
        request,
        settings=settings,
        lang=lang,
        build=lambda links: patrol_page(
            conn,
            settings=settings,
            lang=lang,
            start=period_start,
            end=period_end,
            plan=plan,
            beat=beat,
            links=links,
        ),
    )
