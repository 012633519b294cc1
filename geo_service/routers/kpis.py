"""The station's numbers (issue 12): /api/v1/kpis, its CSV and the /kpis page."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from geo_service.accounts.access import KPIS, allow
from geo_service.accounts.deps import Connection
from geo_service.moments import STATION_TZ
from geo_service.routers.params import (
    AppSettings,
    BeatQuery,
    FromQuery,
    LangQuery,
    ToQuery,
    VillageQuery,
)
from geo_service.schemas.kpis import KpiAnswer
from geo_service.services.kpis import MAX_DAYS, csv_text, period_of, rules_of, station_numbers
from geo_service.web.kpis_page import kpi_page
from geo_service.web.render import render_page

# access: leader, command room, planner, community officer (rows as PostgreSQL lets them see)
router = APIRouter(tags=["command room"], dependencies=[allow(KPIS)])

DaysQuery = Annotated[
    int | None,
    Query(
        json_schema_extra={"minimum": 1, "maximum": MAX_DAYS},
        description=f"Length of the period in days (1..{MAX_DAYS}; default 30) when from or to "
        "is missing; with neither, the last days up to the latest incident",
    ),
]
# The numbers follow every new step: never kept by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


@router.get(
    "/api/v1/kpis",
    summary="The station's numbers for a period against the previous one",
    response_model=KpiAnswer,
    response_model_by_alias=True,
)
async def kpis(
    conn: Connection,
    settings: AppSettings,
    response: Response,
    from_: FromQuery = None,
    to: ToQuery = None,
    days: DaysQuery = None,
    village: VillageQuery = None,
    beat: BeatQuery = None,
) -> KpiAnswer:
    """For [from, to) and the previous period of the same length, per station, village and
    beat (code): share of police incidents on scene within the limit of the village's kind,
    median minutes to dispatch and to arrival, repeat-call rate and its change, diverted share
    and the team's on-time share, callback answers and the satisfied share, incidents by hour.
    Computed in PostgreSQL over the incidents the user may see."""
    period = await period_of(conn, start=from_, end=to, days=days)
    response.headers.update(NO_STORE)
    return await station_numbers(
        conn, period=period, rules=rules_of(settings), village=village or None, beat=beat or None
    )


@router.get(
    "/api/v1/kpis.csv",
    summary="The station's numbers as CSV",
    response_class=Response,
    responses={
        200: {
            "description": "One line per area and period (current, previous): level, code, "
            "name, kind, period, from, to, every figure, h00..h23, repeat_rate_change "
            "(UTF-8 with a byte-order mark)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def kpis_csv(
    conn: Connection,
    settings: AppSettings,
    from_: FromQuery = None,
    to: ToQuery = None,
    days: DaysQuery = None,
    village: VillageQuery = None,
    beat: BeatQuery = None,
) -> Response:
    """The same numbers as GET /api/v1/kpis, as a CSV download."""
    period = await period_of(conn, start=from_, end=to, days=days)
    answer = await station_numbers(
        conn, period=period, rules=rules_of(settings), village=village or None, beat=beat or None
    )
    name = f"kpis_{_day(period.start)}_{_day(period.end)}.csv".replace("-", "")
    return Response(
        csv_text(answer),
        media_type="text/csv; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/kpis", response_class=HTMLResponse, include_in_schema=False)
async def kpis_page(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    lang: LangQuery = "zh",
    from_: FromQuery = None,
    to: ToQuery = None,
    days: DaysQuery = None,
    village: VillageQuery = None,
    beat: BeatQuery = None,
) -> HTMLResponse:
    """The station's numbers for a leader's report: the period against the previous one, the
    station's figures, charts (SVG drawn here, nothing from another host) and tables per
    village and beat, the CSV of the same; Chinese by default, English with ?lang=en."""
    period = await period_of(conn, start=from_ or None, end=to or None, days=days)
    answer = await station_numbers(
        conn, period=period, rules=rules_of(settings), village=village or None, beat=beat or None
    )
    words = _words(settings.web_map_dir / "templates", lang)
    asked = {"from": from_, "to": to, "days": days, "village": village, "beat": beat}
    filled = {k: v for k, v in asked.items() if v}
    return render_page(
        request,
        "kpis.html",
        lang=lang,
        kw=words,
        page=kpi_page(answer, words),
        from_value=_day(period.start),
        to_value=_day(period.end),
        village_value=village or "",
        beat_value=beat or "",
        csv_href="/api/v1/kpis.csv?" + urlencode(filled),
    )


def _day(moment: datetime) -> str:
    """A moment as a date field shows it (station time)."""
    return moment.astimezone(STATION_TZ).strftime("%Y-%m-%d")


@lru_cache(maxsize=8)
def _words(templates: FilePath, lang: str) -> dict[str, Any]:
    """The page's words in one language (read once)."""
    words: dict[str, Any] = json.loads((templates / "kpis_words.json").read_text(encoding="utf-8"))[
        lang
    ]
    return words
