"""The department's page (issue 14, 5, 部门报到): the reports routed to the signed-in department
user's department, to accept and close, kept for use with no network like /me."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from geo_service.accounts.access import DEPARTMENT, allow
from geo_service.accounts.deps import Caller, Connection
from geo_service.routers.params import Lang, LangQuery
from geo_service.web.render import render_page, templates_of

router = APIRouter(tags=["field"])


@router.get(
    "/department",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(DEPARTMENT)],
)
async def department_page(
    request: Request, user: Caller, conn: Connection, lang: LangQuery = "zh"
) -> HTMLResponse:
    """The page is a shell that draws /api/v1/reports (open and accepted) and posts the
    department's steps; the service worker keeps it and its last answers. The department is
    named in the page's language (its English name on ?lang=en, else its name)."""
    name = next((a.name for a in user.areas if a.kind == "department"), "")
    if lang == "en":
        cur = await conn.execute("SELECT name_en FROM department WHERE id = app_department()")
        row = await cur.fetchone()
        name = (row[0] if row else None) or name
    return render_page(
        request,
        "department.html",
        lang=lang,
        department=name,
        dw=page_words(templates_of(request), lang),
    )


@lru_cache(maxsize=8)
def page_words(templates: Path, lang: Lang) -> dict[str, Any]:
    """The page's own words in one language (read once)."""
    path = templates / "department_words.json"
    words: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))[lang]
    return words
