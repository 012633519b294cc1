"""Rendering a page: the Jinja2 templates of web_map/templates (autoescaped), their words in
Chinese (default) and English, links that keep the page's language, and the user bar every page
shows (the map pages take it through ``user_bar``)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from geo_service.accounts.gate import NOT_STORED
from geo_service.maps.words import Lang, person_roles
from geo_service.moments import STATION_TZ

# Pages answer who is signed in and sometimes a secret shown once: never kept by a cache.
NO_STORE = {"Cache-Control": NOT_STORED}


@lru_cache(maxsize=4)
def environment(templates: Path) -> Environment:
    """The templates of one directory, every value escaped unless marked safe."""
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.filters["when"] = when
    return env


def when(moment: datetime) -> str:
    """A moment in station time, to the minute."""
    return moment.astimezone(STATION_TZ).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=4)
def _words(templates: Path) -> dict[str, dict[str, Any]]:
    """words.json, each language with people's roles (keyed by role code) beside its words."""
    words: dict[str, dict[str, Any]] = json.loads(
        (templates / "words.json").read_text(encoding="utf-8")
    )
    return {lang: {**person_roles(lang), **words[lang]} for lang in ("zh", "en")}


def templates_of(request: Request) -> Path:
    """The template directory of the app's settings."""
    return Path(request.app.state.settings.web_map_dir) / "templates"


def words(request: Request, lang: Lang) -> dict[str, Any]:
    """The page words in one language (read once)."""
    return _words(templates_of(request))[lang]


def href(path: str, lang: Lang, **params: str | int | None) -> str:
    """A local link that keeps the page's language (zh, the default, needs no parameter)."""
    query = [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    if lang == "en":
        query.append(("lang", "en"))
    return path + ("?" + urlencode(query) if query else "")


def other_lang_href(request: Request, lang: Lang, path: str | None = None) -> str:
    """The same page in the other language, every other query parameter kept (``path`` for a
    page answered to a form's POST: the page to show again, without the POST's query)."""
    query = [] if path else [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    if lang == "zh":
        query.append(("lang", "en"))
    target = path or request.url.path
    return target + ("?" + urlencode(query) if query else "")


def context(request: Request, lang: Lang, path: str | None = None) -> dict[str, Any]:
    """What every template gets: the language and its words, the signed-in user (None on the
    login page), links in the page's language."""
    return {
        "lang": lang,
        "w": words(request, lang),
        "user": getattr(request.state, "user", None),
        "href": lambda target, **params: href(target, lang, **params),
        "other_lang_href": other_lang_href(request, lang, path),
        "message": None,  # a line at the top of the page (message_kind: notice, error, warning)
        "message_kind": "notice",
    }


def render_page(
    request: Request,
    template: str,
    *,
    lang: Lang,
    status_code: int = 200,
    path: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """A page from a template of web_map/templates, never cached."""
    page = environment(templates_of(request)).get_template(template)
    text = page.render({**context(request, lang, path), **values})
    return HTMLResponse(text, status_code=status_code, headers=NO_STORE)


def user_bar(request: Request, lang: Lang) -> str:
    """The user bar alone as HTML (name, role, account link, sign-out button), for pages that
    are not built from these templates (the Folium map pages); empty when nobody is signed in.
    A plain str on purpose: added to a str, markupsafe's Markup would escape that str."""
    page = environment(templates_of(request)).get_template("_user_bar.html")
    return page.render(context(request, lang))
