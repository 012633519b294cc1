"""The landing page (a one-click "who covers this point" form) and the OpenAPI docs page,
both with every asset served by the app itself."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from geo_service.accounts.access import SIGNED_IN, allow, public
from geo_service.routers.params import AppSettings, LangQuery

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse, dependencies=[allow(SIGNED_IN)])
async def landing(settings: AppSettings, lang: LangQuery = "zh") -> HTMLResponse:
    """Landing page, in Chinese by default and English with ?lang=en."""
    return HTMLResponse(_page(settings.web_map_dir / "templates", lang))


@lru_cache(maxsize=8)
def _page(templates: Path, lang: str) -> str:
    """The landing page filled with one language's words (read once)."""
    words = json.loads((templates / "words.json").read_text(encoding="utf-8"))[lang]
    template = Template((templates / "index.html").read_text(encoding="utf-8"))
    words_json = json.dumps(words, ensure_ascii=False).replace("</", "<\\/")
    return template.substitute(words, lang=lang, words_json=words_json)


# Swagger UI from web_map/node_modules (npm, pinned), mounted at /assets/swagger-ui by main.py.
SWAGGER_UI = "/assets/swagger-ui"


@router.get("/docs", response_class=HTMLResponse, dependencies=[public])
async def docs(request: Request) -> HTMLResponse:
    """OpenAPI docs with Swagger UI served locally, not from a CDN."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
    )
