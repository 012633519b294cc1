"""User administration for the admin: a page and its JSON API (add, lock, unlock, reset a
password, remove, list and revoke tokens), every change in the audit trail, never a password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo_service import audit
from geo_service.accounts import store
from geo_service.accounts.access import ADMIN, allow
from geo_service.accounts.credentials import new_password
from geo_service.accounts.deps import Caller, Connection
from geo_service.accounts.principal import Principal
from geo_service.accounts.roles import Role
from geo_service.errors import Conflict, DomainError, NotFound, status_of
from geo_service.maps.words import Lang
from geo_service.routers.params import LangQuery
from geo_service.schemas.accounts import (
    USER_NAME,
    AddedUser,
    NewPassword,
    NewUser,
    TokenInfo,
    UserInfo,
)
from geo_service.web.render import NO_STORE, href, render_page, words

router = APIRouter(dependencies=[allow(ADMIN)])

UserName = Annotated[str, Path(pattern=USER_NAME, description="The user's name")]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The token's id")]
Action = Literal["lock", "unlock", "password", "remove"]


# ------------------------------------------------------------------- changes, each one audited


async def add_user(
    request: Request,
    conn: Connection,
    *,
    name: str,
    role: Role,
    person: str | None,
    password: str | None,
    department: str | None = None,
) -> str | None:
    """Add a user with the given or a generated password; answer the generated one."""
    made = None if password else new_password()
    chosen = password or made or ""
    await store.add_user(
        conn, name=name, role=role, person=person, department=department, password=chosen
    )
    audit.record(
        request,
        "user_admin",
        name,
        op="add",
        user_role=str(role),  # not role=: that names the actor's role in audit.record
        person=person,
        department=department,
    )
    return made


async def set_locked(
    request: Request, conn: Connection, admin: Principal, *, name: str, locked: bool
) -> None:
    """Lock (their sessions end) or unlock a user; an admin never locks themselves out."""
    if locked and name == admin.name:
        raise Conflict("You may not lock your own account", parameter="name")
    await store.set_locked(conn, name=name, locked=locked)
    audit.record(request, "user_admin", name, op="lock" if locked else "unlock")


async def reset_password(request: Request, conn: Connection, *, name: str) -> str:
    """A new generated password for the user (their sessions end); answered once."""
    password = new_password()
    await store.reset_password(conn, name=name, password=password)
    audit.record(request, "user_admin", name, op="reset_password")
    return password


async def remove_user(request: Request, conn: Connection, admin: Principal, *, name: str) -> None:
    """Remove a user (their sessions and tokens end; the row stays for the audit trail)."""
    if name == admin.name:
        raise Conflict("You may not remove your own account", parameter="name")
    await store.remove_user(conn, name=name)
    audit.record(request, "user_admin", name, op="remove")


async def revoke_token(
    request: Request, conn: Connection, *, token_id: int, owner: str | None = None
) -> None:
    """Revoke any user's token (of ``owner`` only, when given), naming its owner in the trail."""
    tokens = {t.id: t for t in await store.list_tokens(conn, name=owner)}
    await store.revoke_token(conn, token_id=token_id, owner=owner)
    subject = tokens[token_id].user if token_id in tokens else owner
    audit.record(request, "token_admin", subject, op="revoke", token_id=token_id)


# ------------------------------------------------------------------------------------ the page


async def _page(
    request: Request,
    conn: Connection,
    lang: Lang,
    *,
    token_user: str | None = None,
    new_password: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render_page(
        request,
        "admin_users.html",
        lang=lang,
        path="/admin/users",
        status_code=status_code,
        users=await store.list_users(conn),
        tokens=await store.list_tokens(conn, name=token_user),
        token_user=token_user,
        show_user=True,
        revoke_action=lambda t: href(f"/admin/tokens/{t.id}/revoke", lang, user=token_user),
        roles=list(Role),
        now=datetime.now(UTC),
        new_password=new_password,
        message=message,
        message_kind="error" if status_code >= 400 else "notice",
    )


async def _attempt(
    request: Request, conn: Connection, lang: Lang, change: Callable[[], Awaitable[object]]
) -> HTMLResponse | None:
    """Run a change in a savepoint; on a domain error, the page again with its message."""
    try:
        async with conn.transaction():
            await change()
    except DomainError as error:
        message = words(request, lang)["error"] + error.detail
        return await _page(request, conn, lang, message=message, status_code=status_of(error))
    return None


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
async def users_page(
    request: Request,
    conn: Connection,
    lang: LangQuery = "zh",
    user: Annotated[str | None, Query(max_length=64)] = None,
    msg: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """Every user with buttons to lock, unlock, reset a password or remove; tokens (of one user
    with ?user=) to revoke; a form to add a user."""
    message = words(request, lang)["msg"].get(msg) if msg else None
    return await _page(request, conn, lang, token_user=user or None, message=message)


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
async def add_user_form(
    request: Request,
    conn: Connection,
    name: Annotated[str, Form()],
    role: Annotated[Role, Form()],
    person: Annotated[str, Form(max_length=64)] = "",
    department: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    lang: LangQuery = "zh",
) -> HTMLResponse:
    """Add a user; a generated password is shown this once."""
    made: list[str | None] = []

    async def change() -> None:
        made.append(
            await add_user(
                request,
                conn,
                name=name.strip(),
                role=role,
                person=person.strip() or None,
                department=department.strip() or None,
                password=password or None,
            )
        )

    if failed := await _attempt(request, conn, lang, change):
        return failed
    shown = {"name": name.strip(), "password": made[0]} if made[0] else None
    return await _page(request, conn, lang, new_password=shown)


@router.post("/admin/users/{action}", response_class=HTMLResponse, include_in_schema=False)
async def change_user_form(
    request: Request,
    admin: Caller,
    conn: Connection,
    action: Action,
    name: Annotated[str, Form(max_length=64)],
    lang: LangQuery = "zh",
) -> Response:
    """Lock, unlock, reset the password of (shown this once) or remove a user."""
    password: list[str] = []

    async def change() -> None:
        if action in ("lock", "unlock"):
            await set_locked(request, conn, admin, name=name, locked=action == "lock")
        elif action == "password":
            password.append(await reset_password(request, conn, name=name))
        else:
            await remove_user(request, conn, admin, name=name)

    if failed := await _attempt(request, conn, lang, change):
        return failed
    if password:
        shown = {"name": name, "password": password[0]}
        return await _page(request, conn, lang, new_password=shown)
    done = {"lock": "user_locked", "unlock": "user_unlocked", "remove": "user_removed"}[action]
    return RedirectResponse(href("/admin/users", lang, msg=done), status_code=303)


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
async def revoke_token_form(
    request: Request,
    conn: Connection,
    token_id: TokenId,
    lang: LangQuery = "zh",
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Revoke any user's token."""
    if failed := await _attempt(
        request, conn, lang, lambda: revoke_token(request, conn, token_id=token_id)
    ):
        return failed
    target = href("/admin/users", lang, user=user, msg="token_revoked") + "#tokens"
    return RedirectResponse(target, status_code=303)


# ------------------------------------------------------------------------------------ the API

API = "/api/v1/users"


@router.get(API, tags=["users"], summary="Every user", response_model=list[UserInfo])
async def list_users(conn: Connection) -> list[UserInfo]:
    """Every account, removed ones last (never a password hash or code secret)."""
    return [UserInfo.model_validate(u, from_attributes=True) for u in await store.list_users(conn)]


@router.post(
    API,
    tags=["users"],
    summary="Add a user",
    status_code=201,
    response_model=AddedUser,
    responses={
        400: {"description": "The body is not JSON"},
        409: {"description": "A user of that name exists"},
    },
)
async def add_user_api(
    request: Request, response: Response, conn: Connection, body: Annotated[NewUser, Body()]
) -> AddedUser:
    """Add a user; without a password one is generated and answered this once."""
    made = await add_user(
        request,
        conn,
        name=body.name,
        role=body.role,
        person=body.person,
        department=body.department,
        password=body.password,
    )
    response.headers.update(NO_STORE)
    return AddedUser(
        name=body.name,
        role=body.role,
        person=body.person,
        department=body.department,
        password=made,
    )


@router.post(
    API + "/{name}/lock",
    tags=["users"],
    summary="Lock a user",
    status_code=204,
    response_class=Response,
    responses={409: {"description": "The admin's own account"}},
)
async def lock_user_api(
    request: Request, admin: Caller, conn: Connection, name: UserName
) -> Response:
    """Lock a user until unlocked; their browser sessions end (tokens stop working while
    locked)."""
    await set_locked(request, conn, admin, name=name, locked=True)
    return Response(status_code=204)


@router.post(
    API + "/{name}/unlock",
    tags=["users"],
    summary="Unlock a user",
    status_code=204,
    response_class=Response,
)
async def unlock_user_api(
    request: Request, admin: Caller, conn: Connection, name: UserName
) -> Response:
    """Unlock a user, also ending a lockout after wrong passwords."""
    await set_locked(request, conn, admin, name=name, locked=False)
    return Response(status_code=204)


@router.post(
    API + "/{name}/password",
    tags=["users"],
    summary="Reset a user's password",
    response_model=NewPassword,
)
async def reset_password_api(
    request: Request, response: Response, conn: Connection, name: UserName
) -> NewPassword:
    """A new generated password, answered this once; the user's sessions end."""
    password = await reset_password(request, conn, name=name)
    response.headers.update(NO_STORE)
    return NewPassword(name=name, password=password)


@router.delete(
    API + "/{name}",
    tags=["users"],
    summary="Remove a user",
    status_code=204,
    response_class=Response,
    responses={409: {"description": "The admin's own account"}},
)
async def remove_user_api(
    request: Request, admin: Caller, conn: Connection, name: UserName
) -> Response:
    """Remove a user: their sessions and tokens end; they stay named in the audit trail."""
    await remove_user(request, conn, admin, name=name)
    return Response(status_code=204)


@router.get(
    API + "/{name}/tokens",
    tags=["users"],
    summary="A user's API tokens",
    response_model=list[TokenInfo],
)
async def user_tokens_api(conn: Connection, name: UserName) -> list[TokenInfo]:
    """A user's API tokens, newest first (never their secrets)."""
    if name not in {u.name for u in await store.list_users(conn)}:
        raise NotFound(f"No user named {name!r}", parameter="name")
    return [
        TokenInfo.model_validate(t, from_attributes=True)
        for t in await store.list_tokens(conn, name=name)
    ]


@router.delete(
    API + "/{name}/tokens/{token_id}",
    tags=["users"],
    summary="Revoke a user's API token",
    status_code=204,
    response_class=Response,
)
async def revoke_user_token_api(
    request: Request, conn: Connection, name: UserName, token_id: TokenId
) -> Response:
    """Revoke a token of this user (404 when it is not theirs)."""
    await revoke_token(request, conn, token_id=token_id, owner=name)
    return Response(status_code=204)
