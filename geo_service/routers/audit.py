"""The auditor's side of the audit trail: events as JSON, as a CSV download, and a page with
filters (read through audit_events, which only an auditor's transaction may call)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from geo_service.accounts.access import AUDIT, allow
from geo_service.accounts.deps import Connection
from geo_service.audit import (
    ACTIONS,
    PAGE_MAX,
    AuditFilter,
    AuditRow,
    csv_lines,
    read_page,
    read_pages,
    record,
)
from geo_service.moments import STATION_TZ, now, parse_moment
from geo_service.routers.params import AppSettings, FromQuery, LangQuery, ToQuery
from geo_service.schemas.audit import AuditEventOut, AuditPage
from geo_service.web.render import render_page
from geo_service.web.render import words as page_words

# access: auditor
router = APIRouter(tags=["audit"], dependencies=[allow(AUDIT)])

ActorQuery = Annotated[
    str | None, Query(max_length=128, description="Only this actor (user name, cli:<os user>)")
]
ActionQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description=f"Only this action: {', '.join(ACTIONS)}, ...",
        json_schema_extra={"pattern": "^([a-z][a-z0-9_]{0,63})?$"},
    ),
]
AfterSeqQuery = Annotated[
    int, Query(ge=0, le=2**63 - 1, description="Events after this seq (paging); 0: from the start")
]
LimitQuery = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Events per page, 1..1000")]
# Audit answers are for the one auditor who asked: never stored by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}
PAGE_DAYS = 7  # the page shows the last week unless asked for another span


def _filter(
    actor: str | None, action: str | None, from_: str | None, to: str | None
) -> AuditFilter:
    """The filters of a request; empty fields (a submitted form) mean no filter."""
    return AuditFilter(
        actor=actor or None,
        action=action or None,
        start=parse_moment(from_, parameter="from") if from_ else None,
        end=parse_moment(to, parameter="to") if to else None,
    )


def _out(row: AuditRow) -> AuditEventOut:
    """A row as the JSON answer shows it."""
    return AuditEventOut(
        seq=row.seq,
        at=row.at.astimezone(STATION_TZ),
        actor=row.actor,
        role=row.role,
        action=row.action,
        subject=row.subject,
        detail=row.detail_json(),
        request_id=row.request_id,
        client=row.client,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


@router.get(
    "/api/v1/audit",
    summary="Audit events",
    response_model=AuditPage,
    responses={200: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}}},
)
async def audit_events(
    conn: Connection,
    response: Response,
    actor: ActorQuery = None,
    action: ActionQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    after_seq: AfterSeqQuery = 0,
    limit: LimitQuery = 100,
) -> AuditPage:
    """Events of the audit trail in seq order, by actor, action and time span [from, to); page
    on with after_seq. Each event carries its hash and the previous event's, so a page can be
    checked against the chain."""
    rows = await read_page(
        conn, where=_filter(actor, action, from_, to), after_seq=after_seq, limit=limit
    )
    response.headers.update(NO_STORE)
    return AuditPage(
        events=[_out(row) for row in rows],
        limit=limit,
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )


@router.get(
    "/api/v1/audit.csv",
    summary="Audit events as CSV",
    response_class=FileResponse,
    responses={
        200: {
            "description": "Every matching event: seq, at, actor, role, action, subject, "
            "detail, request_id, client, prev_hash, hash (UTF-8 with a byte-order mark)",
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def audit_csv(
    request: Request,
    conn: Connection,
    actor: ActorQuery = None,
    action: ActionQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
) -> FileResponse:
    """Every event matching the filters, in seq order, as a CSV file; the download is itself
    recorded in the trail (action export)."""
    where = _filter(actor, action, from_, to)
    folder = FilePath(tempfile.mkdtemp(prefix="audit_"))
    name = _csv_name(where)
    count = 0
    try:
        with (folder / name).open("w", encoding="utf-8", newline="") as out:
            async for page in read_pages(conn, where=where):
                out.writelines(csv_lines(page, header=count == 0))
                count += len(page)
            if count == 0:
                out.writelines(csv_lines(()))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    record(request, "export", "audit_event", filter=where.as_detail(), rows=count)
    return FileResponse(
        folder / name,
        media_type="text/csv; charset=utf-8",
        filename=name,
        headers=NO_STORE,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def _csv_name(where: AuditFilter) -> str:
    """audit_<from>_<to>.csv, with the days of the span (station time) when given."""

    def day(moment: datetime | None, default: str) -> str:
        return moment.astimezone(STATION_TZ).strftime("%Y%m%d") if moment else default

    return f"audit_{day(where.start, 'start')}_{day(where.end, 'now')}.csv"


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    lang: LangQuery = "zh",
    actor: ActorQuery = None,
    action: ActionQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    after_seq: AfterSeqQuery = 0,
    limit: LimitQuery = 100,
) -> HTMLResponse:
    """The auditor's page: filters, a table of events, the CSV download of the same filters;
    in Chinese by default, English with ?lang=en. Without a span it shows the last week."""
    if from_ is None:  # not submitted at all: the last week; an empty field means no bound
        from_ = (now() - timedelta(days=PAGE_DAYS)).strftime("%Y-%m-%dT%H:%M")
    where = _filter(actor, action, from_, to)
    rows = await read_page(conn, where=where, after_seq=after_seq, limit=limit)
    words = _words(settings.web_map_dir / "templates", lang)
    query = {"actor": actor or "", "action": action or "", "from": from_, "to": to or ""}
    filled = {key: value for key, value in query.items() if value}
    other = "en" if lang == "zh" else "zh"
    next_href = None
    if len(rows) == limit:
        next_href = "/audit?" + urlencode(
            {**filled, "lang": lang, "limit": limit, "after_seq": rows[-1].seq}
        )
    response = render_page(
        request,
        "audit.html",
        lang=lang,
        aw=words,
        other_lang_href="/audit?" + urlencode({**filled, "lang": other}),
        actor_value=actor or "",
        action_options=_action_options(action, words),
        from_value=_local(where.start),
        to_value=_local(where.end),
        limit_value=limit,
        csv_href="/api/v1/audit.csv?" + urlencode(filled),
        shown=words["shown"].format(count=len(rows)),
        rows=[_row(row, words, page_words(request, lang)["roles"]) for row in rows],
        next_href=next_href,
    )
    response.headers.update(NO_STORE)
    return response


def _local(moment: datetime | None) -> str:
    """A moment as a datetime-local field shows it (station time, to the minute)."""
    return moment.astimezone(STATION_TZ).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _action_options(chosen: str | None, words: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The options of the action filter (value, label, selected), the chosen one selected."""
    names: dict[str, str] = words["actions"]
    known = list(ACTIONS) + ([chosen] if chosen and chosen not in ACTIONS else [])
    return [("", words["all_actions"], False)] + [
        (action, names.get(action, action), action == chosen) for action in known
    ]


def _row(row: AuditRow, words: dict[str, Any], roles: dict[str, str]) -> list[tuple[str, str]]:
    """One event as the cells of a table row: (column, text), the role in words (its code when
    it has none); the template escapes them."""
    names: dict[str, str] = words["actions"]
    return [
        ("seq", str(row.seq)),
        ("at", row.at.astimezone(STATION_TZ).strftime("%Y-%m-%d %H:%M:%S")),
        ("actor", row.actor),
        ("role", roles.get(row.role, row.role) if row.role else ""),
        ("action", names.get(row.action, row.action)),
        ("subject", row.subject or ""),
        ("detail", "" if row.detail == "{}" else row.detail),
        ("client", row.client or ""),
    ]


@lru_cache(maxsize=8)
def _words(templates: FilePath, lang: str) -> dict[str, Any]:
    """The page's words in one language (read once)."""
    words: dict[str, Any] = json.loads(
        (templates / "audit_words.json").read_text(encoding="utf-8")
    )[lang]
    return words
