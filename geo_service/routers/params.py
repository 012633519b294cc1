"""Request parameters shared by several routers, declared once, and the settings dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from geo_service.maps.words import Lang as Lang  # re-exported: the page language
from geo_service.settings import Settings

AT_DOC = "ISO 8601 moment; without an offset, station time (UTC+8). Default: now."
CRS_DOC = "CRS of lon/lat: EPSG:4326 (default), EPSG:4490, gcj02 or bd09."
OUTPUT_CRS_DOC = (
    "Output CRS: EPSG:4326 (default), any EPSG code (EPSG:4490, EPSG:4549, ...), gcj02, bd09."
)
PLAN_DOC = "Beat plan code. Default: the plan in force at the moment asked about."
BEAT_DOC = "Beat code. Default: every beat of the plan."
FROM_DOC = "Start of the period (ISO 8601; without an offset, station time)."
TO_DOC = "End of the period, exclusive (ISO 8601)."

AtQuery = Annotated[str | None, Query(description=AT_DOC)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text holds no NUL character: a code never has one
PlanQuery = Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description=PLAN_DOC)]
BeatQuery = Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description=BEAT_DOC)]
VillageQuery = Annotated[
    str | None, Query(max_length=64, pattern=NO_NUL, description="Village code")
]
LangQuery = Annotated[Lang, Query(description="Language of the page: zh (default) or en")]
CrsQuery = Annotated[
    str | None,
    Query(
        max_length=32,
        description=CRS_DOC,
        json_schema_extra={"enum": ["", "EPSG:4326", "EPSG:4490", "gcj02", "bd09"]},
    ),
]
OutputCrsQuery = Annotated[str | None, Query(max_length=32, description=OUTPUT_CRS_DOC)]
_DEGREES = r"-?[0-9]{1,3}(\.[0-9]{1,12})?"
BboxQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        description="west,south,east,north (WGS 84), west < east and south < north",
        json_schema_extra={"pattern": rf"^(({_DEGREES},){{3}}{_DEGREES})?$"},
    ),
]
FromQuery = Annotated[str | None, Query(alias="from", description=FROM_DOC)]
ToQuery = Annotated[str | None, Query(alias="to", description=TO_DOC)]


async def settings_of(request: Request) -> Settings:
    """The settings the app was built with (create_app passes them down); async, so that
    FastAPI calls it on the event loop instead of handing it to a worker thread."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]
