"""The landing page (what the user's role may open, and for those who may, a one-click "who
covers this point" form) and the OpenAPI docs page, both with every asset served by the app."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo_service.accounts.access import PEOPLE, SIGNED_IN, allow, needs_second_factor, public
from geo_service.accounts.deps import Caller
from geo_service.routers.params import LangQuery
from geo_service.web.landing import sections_for
from geo_service.web.render import href, render_page

router = APIRouter(include_in_schema=False)


@router.get(
    "/",
    response_class=HTMLResponse,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def landing(request: Request, user: Caller, lang: LangQuery = "zh") -> Response:
    """Landing page, in Chinese by default and English with ?lang=en. A user whose role signs
    in with a one-time code they have not given is sent to their account page to enrol one."""
    if needs_second_factor(request, user):
        return RedirectResponse(href("/account", lang), status_code=303)
    return render_page(
        request,
        "index.html",
        lang=lang,
        sections=sections_for(user.role),
        can_lookup=user.role in PEOPLE,
    )


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
