"""Signing in and out, the user's own account page (who am I, API tokens, one-time code
enrolment) and the token API for programs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import pyotp
import segno
from fastapi import APIRouter, Body, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from geo_service import audit
from geo_service.accounts import store
from geo_service.accounts.access import SIGNED_IN, allow, needs_second_factor, public
from geo_service.accounts.deps import SESSION_COOKIE, Caller, Connection, check_origin
from geo_service.accounts.principal import Principal
from geo_service.accounts.roles import Role
from geo_service.db import pooled
from geo_service.errors import Conflict, DomainError, InvalidParameter, status_of
from geo_service.maps.words import Lang
from geo_service.routers.params import AppSettings, LangQuery
from geo_service.schemas.accounts import IssuedToken, NewToken, TokenInfo
from geo_service.web.render import NO_STORE, href, render_page, words

router = APIRouter()

# What the audit trail calls each outcome of store.sign_in (the rest are sign_in_failed).
ACTION_OF = {"signed_in": "sign_in", "lockout": "lockout"}
ISSUER = "geo-service"  # the name authenticator apps show next to the user's code
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The token's id")]
# The login page's language: ?lang, else that of the page the user was going to.
LoginLang = Annotated[Lang | None, Query(description="Language of the page: zh or en")]
Message = Annotated[str | None, Query(max_length=40, description="A message to show")]


def local_target(target: str) -> str:
    """Where to go after signing in: a local path (one leading '/', no backslash, no control
    character), else the landing page, so that the login page never sends anyone elsewhere."""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return "/"
    return target


def _lang_of(lang: Lang | None, target: str) -> Lang:
    if lang is not None:
        return lang
    return "en" if "lang=en" in target.partition("?")[2].split("&") else "zh"


def _login_page(
    request: Request,
    lang: Lang,
    *,
    target: str,
    name: str = "",
    failed: bool = False,
    code_needed: bool = False,
    message: str | None = None,
) -> HTMLResponse:
    """The login form; 401 after a failed or unfinished attempt."""
    other: Lang = "en" if lang == "zh" else "zh"
    response = render_page(
        request,
        "login.html",
        lang=lang,
        other_lang_href=href("/login", other, next=None if target == "/" else target),
        status_code=401 if failed or code_needed else 200,
        next=target,
        name=name,
        failed=failed,
        code_needed=code_needed,
        message=message,
    )
    if failed or code_needed:
        response.headers["WWW-Authenticate"] = 'Bearer realm="geo-service"'
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[public])
async def login_form(
    request: Request,
    lang: LoginLang = None,
    next: Annotated[str, Query(max_length=2000)] = "/",
    msg: Message = None,
) -> HTMLResponse:
    """The login page: name, password and, for accounts that have one, a one-time code."""
    target = local_target(next)
    page_lang = _lang_of(lang, target)
    message = words(request, page_lang)["msg"].get(msg) if msg else None
    return _login_page(request, page_lang, target=target, message=message)


@router.post("/login", include_in_schema=False, dependencies=[public])
async def login(
    request: Request,
    settings: AppSettings,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    target: Annotated[str, Form(alias="next")] = "/",
    lang: LoginLang = None,
) -> Response:
    """Check the name, password and one-time code; on success a session cookie and a redirect
    to where the user was going. A failure says the same whether or not the user exists."""
    check_origin(request)
    target = local_target(target)
    page_lang = _lang_of(lang, target)
    code = code.replace(" ", "").strip()
    roles: frozenset[Role] = request.app.state.second_factor_roles
    async with pooled(request.app.state.pool) as conn, conn.transaction():
        result = await store.sign_in(
            conn, name=name, password=password, code=code or None, second_factor_roles=roles
        )
        action = ACTION_OF.get(result.outcome, "sign_in_failed")
        # who tried: the name typed (never the password) and that user's role when known
        audit.record(request, action, result.outcome, actor=name[:64], role=result.role)
        await audit.write(conn, audit.pending(request))
        previous = request.cookies.get(SESSION_COOKIE)
        if result.secret is not None and previous:  # the browser's old session ends with it
            await store.sign_out(conn, secret=previous)
    if result.secret is None:
        return _login_page(
            request,
            page_lang,
            target=target,
            name=name[:64],
            failed=not result.needs_code,
            code_needed=result.needs_code,
        )
    if result.role in roles and not code:  # signed in without the code their role needs
        target = href("/account", page_lang)
    elif target == "/" and page_lang == "en":
        target = href("/", page_lang)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.set_cookie(
        SESSION_COOKIE,
        result.secret,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure or request.url.scheme == "https",
    )  # no Max-Age: the browser forgets it when closed; the server ends it sooner
    return response


@router.post(
    "/logout",
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def logout(
    request: Request, user: Caller, conn: Connection, settings: AppSettings, lang: LangQuery = "zh"
) -> Response:
    """End the browser session (server-side: the cookie no longer works anywhere) and forget
    the cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if user.via == "session" and secret:
        await store.sign_out(conn, secret=secret)
    audit.record(request, "sign_out", user.name)
    response = RedirectResponse(href("/login", lang, msg="signed_out"), status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure or request.url.scheme == "https",
    )
    return response


# ---------------------------------------------------------------------------- the account page


def _session_secret(request: Request, user: Principal) -> str | None:
    """The browser session's secret, when the user came with one (not with a token)."""
    return request.cookies.get(SESSION_COOKIE) if user.via == "session" else None


def _qr_svg(text: str) -> Markup:
    """A QR code of the text as inline SVG (made here: no outside service sees the secret)."""
    qr = segno.make(text, error="m")
    return Markup(qr.svg_inline(border=4, omitsize=True, light="#fff"))  # sized by site.css


async def _account_page(
    request: Request,
    user: Principal,
    conn: Connection,
    lang: Lang,
    *,
    new_token: str | None = None,
    message: str | None = None,
    message_kind: str = "notice",
    status_code: int = 200,
) -> HTMLResponse:
    pending = None
    session = _session_secret(request, user)
    if not user.totp_enrolled and session:
        pending = await store.pending_second_factor(conn, session_secret=session)
    uri = (
        pyotp.TOTP(pending).provisioning_uri(name=user.name, issuer_name=ISSUER) if pending else ""
    )
    return render_page(
        request,
        "account.html",
        lang=lang,
        path="/account",
        status_code=status_code,
        tokens=await store.list_tokens(conn, name=user.name),
        revoke_action=lambda t: href(f"/account/tokens/{t.id}/revoke", lang),
        show_user=False,
        now=datetime.now(UTC),
        token_days=request.app.state.settings.token_days,
        needs_second_factor=needs_second_factor(request, user),
        pending_secret=pending,
        qr_svg=_qr_svg(uri) if pending else "",
        new_token=new_token,
        message=message,
        message_kind=message_kind,
    )


@router.get(
    "/account",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def account(
    request: Request, user: Caller, conn: Connection, lang: LangQuery = "zh", msg: Message = None
) -> HTMLResponse:
    """Who I am, my role and areas, my API tokens, and my one-time code."""
    message = words(request, lang)["msg"].get(msg) if msg else None
    kind = "error" if msg == "sf_wrong_code" else "notice"
    return await _account_page(request, user, conn, lang, message=message, message_kind=kind)


@router.post(
    "/account/tokens",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN)],
)
async def account_new_token(
    request: Request,
    user: Caller,
    conn: Connection,
    days: Annotated[int, Form()],
    label: Annotated[str, Form(max_length=100)] = "",
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """Make a token; the page shows its secret this once."""
    try:
        async with conn.transaction():
            secret, token = await store.new_token(conn, name=user.name, days=days, label=label)
    except DomainError as error:
        return await _account_page(
            request,
            user,
            conn,
            lang,
            message=words(request, lang)["error"] + error.detail,
            message_kind="error",
            status_code=status_of(error),
        )
    audit.record(request, "token_admin", user.name, op="issue", token_id=token.id, days=days)
    return await _account_page(request, user, conn, lang, new_token=secret)


@router.post(
    "/account/tokens/{token_id}/revoke",
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def account_revoke_token(
    request: Request, user: Caller, conn: Connection, token_id: TokenId, lang: LangQuery = "zh"
) -> Response:
    """Revoke one of my tokens."""
    await store.revoke_token(conn, token_id=token_id, owner=user.name)
    audit.record(request, "token_admin", user.name, op="revoke", token_id=token_id)
    return RedirectResponse(href("/account", lang, msg="token_revoked") + "#tokens", 303)


@router.post(
    "/account/second-factor",
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def begin_second_factor(
    request: Request, user: Caller, conn: Connection, lang: LangQuery = "zh"
) -> Response:
    """Start enrolling a one-time code: a new secret kept with the session, shown as a QR code
    on the account page until confirmed."""
    session = _session_secret(request, user)
    if session is None:
        raise InvalidParameter("Enrol a one-time code in the browser, signed in with a password")
    if user.totp_enrolled:
        raise Conflict("A one-time code is enrolled already")
    await store.begin_second_factor(conn, session_secret=session)
    return RedirectResponse(href("/account", lang) + "#second-factor", 303)


@router.post(
    "/account/second-factor/confirm",
    include_in_schema=False,
    dependencies=[allow(SIGNED_IN, second_factor_pending=True)],
)
async def confirm_second_factor(
    request: Request,
    user: Caller,
    conn: Connection,
    code: Annotated[str, Form(max_length=20)],
    lang: LangQuery = "zh",
) -> Response:
    """Enrol the pending one-time code once the user shows a code it makes; the session then
    counts as signed in with both factors."""
    session = _session_secret(request, user)
    if user.totp_enrolled:
        raise Conflict("A one-time code is enrolled already")
    pending = await store.pending_second_factor(conn, session_secret=session) if session else None
    if pending is None:
        return RedirectResponse(href("/account", lang) + "#second-factor", 303)
    ok = await store.enrol_second_factor(
        conn,
        user_id=user.user_id,
        session_secret=session,
        secret=pending,
        code=code.replace(" ", "").strip(),
    )
    if not ok:
        return RedirectResponse(href("/account", lang, msg="sf_wrong_code") + "#second-factor", 303)
    audit.record(request, "user_admin", user.name, op="second_factor_enrolled")
    return RedirectResponse(href("/account", lang, msg="sf_enrolled"), 303)


# ------------------------------------------------------------------------ the token API (mine)


@router.get(
    "/api/v1/tokens",
    tags=["accounts"],
    summary="My API tokens",
    response_model=list[TokenInfo],
    dependencies=[allow(SIGNED_IN)],
)
async def my_tokens(user: Caller, conn: Connection) -> list[TokenInfo]:
    """The signed-in user's API tokens, newest first (never their secrets)."""
    tokens = await store.list_tokens(conn, name=user.name)
    return [TokenInfo.model_validate(t, from_attributes=True) for t in tokens]


@router.post(
    "/api/v1/tokens",
    tags=["accounts"],
    summary="Make an API token",
    status_code=201,
    response_model=IssuedToken,
    responses={400: {"description": "The body is not JSON"}},
    dependencies=[allow(SIGNED_IN)],
)
async def make_token(
    request: Request,
    response: Response,
    user: Caller,
    conn: Connection,
    settings: AppSettings,
    body: Annotated[NewToken, Body()],
) -> IssuedToken:
    """A new token acting as the signed-in user, for QGIS, GDAL or a script: its secret is in
    this answer only."""
    days = body.days or settings.token_days
    secret, token = await store.new_token(conn, name=user.name, days=days, label=body.label)
    audit.record(request, "token_admin", user.name, op="issue", token_id=token.id, days=days)
    response.headers.update(NO_STORE)
    return IssuedToken(id=token.id, token=secret, label=token.label, expires_at=token.expires_at)


@router.delete(
    "/api/v1/tokens/{token_id}",
    tags=["accounts"],
    summary="Revoke one of my API tokens",
    status_code=204,
    response_class=Response,
    dependencies=[allow(SIGNED_IN)],
)
async def revoke_my_token(
    request: Request, user: Caller, conn: Connection, token_id: TokenId
) -> Response:
    """Revoke a token of the signed-in user (404 for anyone else's)."""
    await store.revoke_token(conn, token_id=token_id, owner=user.name)
    audit.record(request, "token_admin", user.name, op="revoke", token_id=token_id)
    return Response(status_code=204)
