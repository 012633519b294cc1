"""Signing in and out, session time-outs, tokens, one-time codes, the account and admin pages
and the landing page's links, through the app as a visitor and a program use it."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import psycopg
import pyotp
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from geo_service.accounts.access import SIGNED_IN, allow, declared_access, public
from geo_service.accounts.deps import SESSION_COOKIE
from geo_service.accounts.gate import require_access_declarations
from geo_service.accounts.roles import Role
from geo_service.main import create_app
from geo_service.settings import Settings
from geo_service.web.landing import SECTIONS
from tests.accounts import PASSWORD, bearer, make_user, sign_in
from tests.browser import Visit, not_blank, shoot, sign_in_page
from tests.test_audited import events_since, last_seq
from tests.test_pages import MAP_QUERIES

FAILED = "用户名或密码错误，或账号已暂时锁定"
FAILED_EN = "Wrong user name or password, or the account is locked for a while"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def visitor(app: FastAPI) -> Iterator[TestClient]:
    """A client with its own cookie jar, like a visitor nobody has signed in with yet."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def new_name(prefix: str) -> str:
    """A fresh user name (the session database is shared by the whole test run)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def user(database_url: str, role: Role, prefix: str | None = None) -> tuple[str, str]:
    """A new user of this role with PASSWORD: their name and an API token."""
    name = new_name(prefix or str(role))
    return name, make_user(database_url, role, name=name)


def owner_sql(database_url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """Run SQL as the owner of the database (what a test does behind the service's back)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def enrolled_admin(database_url: str) -> tuple[str, pyotp.TOTP]:
    """An admin with a one-time code enrolled (as the operator would, in the database)."""
    name, _ = user(database_url, Role.admin, "admin")
    secret = pyotp.random_base32()
    owner_sql(database_url, "UPDATE app_user SET totp_secret = %s WHERE name = %s", (secret, name))
    return name, pyotp.TOTP(secret)


def trail(database_url: str, since: int, *names: str) -> list[tuple[str, str, str | None, str]]:
    """(action, actor, role, subject) of the audit events after ``since`` whose actor or
    subject is one of ``names``, oldest first; and no event holds PASSWORD."""
    events = events_since(database_url, since)
    assert all(PASSWORD not in str(e) for e in events)
    return [
        (e["action"], e["actor"], e["role"], e["subject"])
        for e in events
        if e["actor"] in names or e["subject"] in names
    ]


def set_cookie_of(response) -> SimpleCookie:  # type: ignore[no-untyped-def]
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


# --------------------------------------------------------------------------- signing in and out


def test_login_page_in_both_languages(visitor: TestClient) -> None:
    r = visitor.get("/login")
    assert r.status_code == 200
    assert '<html lang="zh">' in r.text and "用户名" in r.text
    assert 'name="next" value="/"' in r.text
    assert "private" in r.headers["cache-control"]
    en = visitor.get("/login", params={"lang": "en", "next": "/maps/water"})
    assert '<html lang="en">' in en.text and "User name" in en.text
    assert 'name="next" value="/maps/water"' in en.text
    assert 'class="other-lang" href="/login?next=%2Fmaps%2Fwater"' in en.text  # next kept
    # the page one was going to in English gives the login page in English
    assert '<html lang="en">' in visitor.get("/login", params={"next": "/?lang=en"}).text


def test_sign_in_with_the_form_and_use_the_cookie(visitor: TestClient, database_url: str) -> None:
    name, _ = user(database_url, Role.planner)
    assert visitor.get("/", headers=HTML).status_code == 303  # to the login page first
    r = visitor.post(
        "/login",
        data={"name": name, "password": PASSWORD, "next": "/maps/overview?lang=en"},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/maps/overview?lang=en"
    cookie = set_cookie_of(r)[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http, cookie_secure unset
    assert not cookie["max-age"] and not cookie["expires"]  # a session cookie
    landing = visitor.get("/")
    assert landing.status_code == 200
    assert f'<span class="user-name">{name}</span>' in landing.text
    assert "勤务规划员" in landing.text  # the role in the page's words
    assert 'action="/logout"' in landing.text
    # signing in again in the same browser ends the session it had
    again = sign_in(visitor, name)
    assert again != cookie.value
    visitor.cookies.clear()
    visitor.cookies.set(SESSION_COOKIE, cookie.value)
    assert visitor.get("/api/v1/tokens").status_code == 401
    visitor.cookies.clear()
    visitor.cookies.set(SESSION_COOKIE, again)
    assert visitor.get("/api/v1/tokens").status_code == 200  # a cookie set so is sent
    # the session is stored as a hash only
    stored = owner_sql(
        database_url,
        "SELECT count(*) FROM user_session s JOIN app_user u ON u.id = s.user_id "
        "WHERE u.name = %s AND s.secret_hash = sha256(convert_to(%s, 'UTF8'))",
        (name, again),
    )
    assert stored == [(1,)]


@pytest.mark.parametrize(
    ("target", "went"),
    [
        ("/maps/water?at=2026-08-01", "/maps/water?at=2026-08-01"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_sign_in_goes_only_to_a_local_path(
    visitor: TestClient, database_url: str, target: str, went: str
) -> None:
    name, _ = user(database_url, Role.leader)
    r = visitor.post("/login", data={"name": name, "password": PASSWORD, "next": target})
    assert r.status_code == 303
    assert r.headers["location"] == went


def test_secure_cookie_when_configured_or_over_https(settings: Settings, database_url: str) -> None:
    name, _ = user(database_url, Role.leader)
    form = {"name": name, "password": PASSWORD}
    secure_app = create_app(settings.model_copy(update={"cookie_secure": True}))
    with TestClient(secure_app, follow_redirects=False) as client:
        r = client.post("/login", data=form)
        assert set_cookie_of(r)[SESSION_COOKIE]["secure"] is True
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        r = client.post("/login", data=form, follow_redirects=False)
        assert set_cookie_of(r)[SESSION_COOKIE]["secure"] is True


def test_five_wrong_passwords_lock_and_no_answer_tells_who_exists(
    visitor: TestClient, database_url: str
) -> None:
    name, _ = user(database_url, Role.grid_worker)
    before = last_seq(database_url)
    answers = []
    for _ in range(5):
        r = visitor.post("/login", data={"name": name, "password": "wrong-password-0"})
        answers.append(r)
    right = visitor.post("/login", data={"name": name, "password": PASSWORD})
    unknown = visitor.post("/login", data={"name": "nobody_" + name, "password": PASSWORD})
    for r in [*answers, right, unknown]:
        assert r.status_code == 401
        assert FAILED in r.text
        assert SESSION_COOKIE not in r.cookies
    # the pages differ only in the name typed back into the form
    blank = [
        html.unescape(r.text).replace(name, "NAME").replace("nobody_NAME", "NAME")
        for r in (answers[0], answers[4], right, unknown)
    ]
    assert len(set(blank)) == 1
    locked = owner_sql(
        database_url,
        "SELECT locked_until > now() + interval '14 minutes' FROM app_user WHERE name = %s",
        (name,),
    )
    assert locked == [(True,)]
    # in English too
    en = visitor.post("/login?lang=en", data={"name": name, "password": PASSWORD})
    assert en.status_code == 401 and FAILED_EN in en.text
    # the lockout ends: the sixth right password works once it is over
    owner_sql(
        database_url,
        "UPDATE app_user SET locked_until = now() - interval '1 second' WHERE name = %s",
        (name,),
    )
    sign_in(visitor, name)
    gw, nobody = str(Role.grid_worker), "nobody_" + name
    assert trail(database_url, before, name, nobody) == [
        *[("sign_in_failed", name, gw, "wrong_password")] * 4,
        ("lockout", name, gw, "lockout"),
        ("sign_in_failed", name, gw, "locked"),
        ("sign_in_failed", nobody, None, "unknown_user"),
        ("sign_in_failed", name, gw, "locked"),
        ("sign_in", name, gw, "signed_in"),
    ]
    assert all("wrong-password-0" not in str(e) for e in events_since(database_url, before))


def test_four_wrong_passwords_then_the_right_one_signs_in(
    visitor: TestClient, database_url: str
) -> None:
    name, _ = user(database_url, Role.grid_worker)
    for _ in range(4):
        assert (
            visitor.post("/login", data={"name": name, "password": "nope-nope-1"}).status_code
            == 401
        )
    sign_in(visitor, name)
    assert owner_sql(
        database_url, "SELECT failed_sign_ins FROM app_user WHERE name = %s", (name,)
    ) == [(0,)]


@pytest.mark.parametrize(
    ("column", "back"), [("last_seen_at", "31 minutes"), ("created_at", "13 hours")]
)
def test_sessions_time_out(visitor: TestClient, database_url: str, column: str, back: str) -> None:
    """Idle for 31 minutes (default limit 30) or 13 hours old (limit 12): signed out."""
    name, _ = user(database_url, Role.leader)
    secret = sign_in(visitor, name)
    assert visitor.get("/api/v1/tokens").status_code == 200
    owner_sql(
        database_url,
        f"UPDATE user_session SET {column} = now() - %s::interval "  # column: fixed above
        "WHERE secret_hash = sha256(convert_to(%s, 'UTF8'))",
        (back, secret),
    )
    assert visitor.get("/api/v1/tokens").status_code == 401
    page = visitor.get("/maps/overview", params={"lang": "en"}, headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fmaps%2Foverview%3Flang%3Den"


def test_sign_out_ends_the_session_on_the_server(visitor: TestClient, database_url: str) -> None:
    name, _ = user(database_url, Role.community_officer)
    secret = sign_in(visitor, name)
    before = last_seq(database_url)
    r = visitor.post("/logout")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?msg=signed_out"
    assert 'geo_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert "已退出登录" in visitor.get(r.headers["location"]).text
    # the old cookie, sent again, no longer works
    visitor.cookies.clear()
    visitor.cookies.set(SESSION_COOKIE, secret)
    assert visitor.get("/api/v1/tokens").status_code == 401
    revoked = owner_sql(
        database_url,
        "SELECT revoked_at IS NOT NULL FROM user_session "
        "WHERE secret_hash = sha256(convert_to(%s, 'UTF8'))",
        (secret,),
    )
    assert revoked == [(True,)]
    officer = str(Role.community_officer)
    assert trail(database_url, before, name) == [("sign_out", name, officer, name)]


def test_foreign_origin_is_refused_with_the_cookie(visitor: TestClient, database_url: str) -> None:
    name, _ = user(database_url, Role.planner)
    sign_in(visitor, name)
    foreign = visitor.post(
        "/api/v1/tokens", json={"label": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    assert "evil.example" in foreign.json()["detail"]
    same = visitor.post(
        "/api/v1/tokens", json={"label": "x"}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 201
    assert visitor.post("/logout", headers={"Origin": "http://evil.example"}).status_code == 403
    login = visitor.post(
        "/login",
        data={"name": name, "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert login.status_code == 403
    assert SESSION_COOKIE not in login.cookies


# ---------------------------------------------------------------------------------- tokens


def test_tokens_made_listed_and_revoked(visitor: TestClient, database_url: str) -> None:
    name, token = user(database_url, Role.grid_worker)
    api = TestClient(visitor.app, headers=bearer(token))
    before = last_seq(database_url)
    made = api.post("/api/v1/tokens", json={"label": "QGIS", "days": 7})
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"id", "token", "label", "expires_at"}
    assert body["token"].startswith("gst_") and body["label"] == "QGIS"
    assert "no-store" in made.headers["cache-control"]
    listed = api.get("/api/v1/tokens").json()
    assert [t["label"] for t in listed][:1] == ["QGIS"]
    assert all(body["token"] not in str(t) for t in listed)
    assert {t["user"] for t in listed} == {name}
    new = TestClient(visitor.app, headers=bearer(body["token"]))
    assert new.get("/api/v1/tokens").status_code == 200
    assert api.delete(f"/api/v1/tokens/{body['id']}").status_code == 204
    assert new.get("/api/v1/tokens").status_code == 401
    # someone else's token is not found, and stays valid
    _, other = user(database_url, Role.grid_worker)
    theirs = TestClient(visitor.app, headers=bearer(other)).get("/api/v1/tokens").json()[0]["id"]
    assert api.delete(f"/api/v1/tokens/{theirs}").status_code == 404
    events = [e for e in events_since(database_url, before) if e["action"] == "token_admin"]
    assert [(e["actor"], e["subject"], e["detail"]) for e in events] == [
        (name, name, {"op": "issue", "token_id": body["id"], "days": 7}),
        (name, name, {"op": "revoke", "token_id": body["id"]}),
    ]
    assert body["token"] not in str(events_since(database_url, before))
    assert TestClient(visitor.app, headers=bearer(other)).get("/api/v1/tokens").status_code == 200


def test_account_page_makes_a_token_shown_once(visitor: TestClient, database_url: str) -> None:
    name, _ = user(database_url, Role.volunteer)
    sign_in(visitor, name)
    page = visitor.get("/account")
    assert page.status_code == 200
    assert "义警" in page.text and "村社" in page.text  # role and village areas
    made = visitor.post("/account/tokens", data={"label": "phone", "days": "30"})
    assert made.status_code == 200
    secret = re.search(r'<code class="secret" id="new-token">(gst_[^<]+)</code>', made.text)
    assert secret, made.text
    again = visitor.get("/account")
    assert secret.group(1) not in again.text and "phone" in again.text
    api = TestClient(visitor.app, headers=bearer(secret.group(1)))
    token_id = api.get("/api/v1/tokens").json()[0]["id"]
    revoked = visitor.post(f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    assert api.get("/api/v1/tokens").status_code == 401
    assert "令牌已撤销" in visitor.get(revoked.headers["location"]).text


# --------------------------------------------------------------------------- one-time codes


def test_admin_enrols_a_one_time_code_then_signs_in_with_it(
    visitor: TestClient, database_url: str
) -> None:
    name, _ = user(database_url, Role.admin, "admin")
    r = visitor.post("/login", data={"name": name, "password": PASSWORD, "next": "/admin/users"})
    assert r.status_code == 303 and r.headers["location"] == "/account"  # enrol first
    secret = r.cookies[SESSION_COOKIE]
    assert visitor.get("/", headers=HTML).headers["location"] == "/account"
    assert visitor.get("/admin/users").status_code == 403
    assert visitor.get("/api/v1/users").status_code == 403
    assert visitor.post("/account/tokens", data={"days": "5"}).status_code == 403
    account = visitor.get("/account")
    assert account.status_code == 200
    assert "您的角色须使用动态验证码登录" in account.text
    assert visitor.post("/account/second-factor").status_code == 303
    account = visitor.get("/account")
    assert "<svg" in account.text
    shown = re.search(r'<code class="secret">([A-Z2-7]+)</code>', account.text)
    assert shown, account.text
    # kept with the session on the server, never in the page's form
    pending = owner_sql(
        database_url,
        "SELECT pending_totp_secret FROM user_session "
        "WHERE secret_hash = sha256(convert_to(%s, 'UTF8'))",
        (secret,),
    )
    assert pending == [(shown.group(1),)]
    assert 'type="hidden"' not in account.text
    totp = pyotp.TOTP(shown.group(1))
    wrong = str((int(totp.now()) + 500_000) % 1_000_000).zfill(6)
    r = visitor.post("/account/second-factor/confirm", data={"code": wrong})
    assert "sf_wrong_code" in r.headers["location"]
    assert visitor.get("/admin/users").status_code == 403
    before = last_seq(database_url)
    r = visitor.post("/account/second-factor/confirm", data={"code": totp.now()})
    assert r.status_code == 303 and "sf_enrolled" in r.headers["location"]
    assert [
        (e["action"], e["subject"], e["detail"])
        for e in events_since(database_url, before)
        if e["actor"] == name
    ] == [("user_admin", name, {"op": "second_factor_enrolled"})]
    assert shown.group(1) not in str(events_since(database_url, before))
    assert visitor.get("/admin/users").status_code == 200  # this session has both factors now
    stored = owner_sql(
        database_url,
        "SELECT u.totp_secret, s.pending_totp_secret FROM app_user u "
        "JOIN user_session s ON s.user_id = u.id "
        "WHERE s.secret_hash = sha256(convert_to(%s, 'UTF8'))",
        (secret,),
    )
    assert stored == [(shown.group(1), None)]
    visitor.post("/logout")
    # from now on the password alone is not enough
    r = visitor.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 401 and "须使用动态验证码登录" in r.text
    assert SESSION_COOKIE not in r.cookies
    r = visitor.post("/login", data={"name": name, "password": PASSWORD, "code": wrong})
    assert r.status_code == 401 and FAILED in r.text
    sign_in(visitor, name, code=totp.now(), next="/admin/users")
    assert visitor.get("/admin/users").status_code == 200


def test_second_factor_required_for_a_role_in_the_settings(
    settings: Settings, database_url: str
) -> None:
    app = create_app(settings.model_copy(update={"second_factor_roles": "leader"}))
    name, token = user(database_url, Role.leader)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, name)
        assert client.get("/", headers=HTML).headers["location"] == "/account"
        assert client.get("/maps/overview").status_code == 403
    with TestClient(app, headers=bearer(token)) as client:  # a token was made by the operator
        assert client.get("/api/v1/tokens").status_code == 200


# ------------------------------------------------------------------------- the admin's pages


@pytest.fixture
def admin(visitor: TestClient, database_url: str) -> TestClient:
    """The visitor signed in as an admin with a one-time code."""
    name, totp = enrolled_admin(database_url)
    sign_in(visitor, name, code=totp.now())
    visitor.headers["X-Admin"] = name  # for the tests to know who they are
    return visitor


def test_admin_page_adds_locks_unlocks_resets_and_removes(
    admin: TestClient, database_url: str, app: FastAPI
) -> None:
    before = last_seq(database_url)
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "用户管理" in page.text
    name = new_name("officer")
    person = owner_sql(
        database_url,
        "SELECT p.code FROM person p JOIN assignment a ON a.person_id = p.id "
        "WHERE a.role = 'community_officer' AND a.validity @> now() LIMIT 1",
    )[0][0]
    added = admin.post(
        "/admin/users", data={"name": name, "role": "community_officer", "person": person}
    )
    assert added.status_code == 200, added.text
    password = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', added.text)
    assert password, added.text
    assert admin.get("/admin/users").text.count(password.group(1)) == 0  # shown once
    person_browser = TestClient(app, follow_redirects=False)  # shares the admin's app
    sign_in(person_browser, name, password.group(1))
    assert person_browser.get("/api/v1/tokens").status_code == 200
    # lock: their session ends and they cannot sign in
    r = admin.post("/admin/users/lock", data={"name": name})
    assert r.status_code == 303
    assert person_browser.get("/api/v1/tokens").status_code == 401
    r = person_browser.post("/login", data={"name": name, "password": password.group(1)})
    assert r.status_code == 401 and FAILED in r.text
    assert admin.post("/admin/users/unlock", data={"name": name}).status_code == 303
    sign_in(person_browser, name, password.group(1))
    # a reset password: the old one fails, the new one works
    reset = admin.post("/admin/users/password", data={"name": name})
    new = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', reset.text)
    assert new and new.group(1) != password.group(1)
    assert person_browser.get("/api/v1/tokens").status_code == 401  # sessions ended
    r = person_browser.post("/login", data={"name": name, "password": password.group(1)})
    assert r.status_code == 401
    sign_in(person_browser, name, new.group(1))
    assert admin.post("/admin/users/remove", data={"name": name}).status_code == 303
    assert person_browser.get("/api/v1/tokens").status_code == 401
    # errors show on the page
    again = admin.post("/admin/users", data={"name": name, "role": "planner"})
    assert again.status_code == 409 and "exists already" in again.text
    short = admin.post(
        "/admin/users", data={"name": new_name("p"), "role": "planner", "password": "short"}
    )
    assert short.status_code == 422 and "10 characters" in short.text
    own = admin.post("/admin/users/lock", data={"name": admin.headers["X-Admin"]})
    assert own.status_code == 409
    ops = [
        (e["actor"], e["subject"], e["detail"].get("op"))
        for e in events_since(database_url, before)
        if e["action"] == "user_admin"
    ]
    me = admin.headers["X-Admin"]
    assert ops == [(me, name, op) for op in ("add", "lock", "unlock", "reset_password", "remove")]
    everything = str(events_since(database_url, before))
    assert password.group(1) not in everything and new.group(1) not in everything


def test_admin_page_lists_and_revokes_any_token(admin: TestClient, database_url: str) -> None:
    name, token = user(database_url, Role.grid_worker)
    page = admin.get("/admin/users", params={"user": name})
    assert page.status_code == 200
    ids = re.findall(r'action="/admin/tokens/(\d+)/revoke\?user=' + name, page.text)
    assert len(ids) == 1
    r = admin.post(f"/admin/tokens/{ids[0]}/revoke", params={"user": name})
    assert r.status_code == 303
    assert TestClient(admin.app, headers=bearer(token)).get("/api/v1/tokens").status_code == 401


def test_admin_api(admin: TestClient, database_url: str) -> None:
    name = new_name("api")
    made = admin.post("/api/v1/users", json={"name": name, "role": "planner"})
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    assert len(password) >= 10
    given = admin.post(
        "/api/v1/users", json={"name": name + "x", "role": "auditor", "password": "a-long-password"}
    )
    assert given.status_code == 201 and given.json()["password"] is None
    listed = {u["name"]: u for u in admin.get("/api/v1/users").json()}
    assert listed[name]["role"] == "planner" and not listed[name]["locked"]
    assert "password" not in str(listed[name]) and "hash" not in str(listed[name])
    assert admin.post(f"/api/v1/users/{name}/lock").status_code == 204
    assert {u["name"]: u for u in admin.get("/api/v1/users").json()}[name]["locked"]
    assert admin.post(f"/api/v1/users/{name}/unlock").status_code == 204
    reset = admin.post(f"/api/v1/users/{name}/password")
    assert reset.status_code == 200 and reset.json()["password"] != password
    token = make_token_as(admin, name, reset.json()["password"])
    tokens = admin.get(f"/api/v1/users/{name}/tokens").json()
    assert [t["user"] for t in tokens] == [name]
    assert admin.delete(f"/api/v1/users/{name}/tokens/{tokens[0]['id']}").status_code == 204
    assert TestClient(admin.app, headers=bearer(token)).get("/api/v1/tokens").status_code == 401
    assert admin.delete(f"/api/v1/users/{name}").status_code == 204
    assert admin.get(f"/api/v1/users/{name}x/tokens").json() == []
    # the domain errors, as problem+json
    assert admin.post("/api/v1/users", json={"name": name, "role": "planner"}).status_code == 409
    missing = admin.post("/api/v1/users/nobody_there/lock")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert admin.get("/api/v1/users/nobody_there/tokens").status_code == 404
    no_person = admin.post("/api/v1/users", json={"name": name + "g", "role": "grid_worker"})
    assert no_person.status_code == 422 and no_person.json()["parameter"] == "person"
    assert admin.delete(f"/api/v1/users/{admin.headers['X-Admin']}").status_code == 409


def make_token_as(client: TestClient, name: str, password: str) -> str:
    """Sign in as the user in a client of their own and make a token through the API."""
    theirs = TestClient(client.app, follow_redirects=False)  # the app is running already
    sign_in(theirs, name, password)
    r = theirs.post("/api/v1/tokens", json={"label": "script"})
    assert r.status_code == 201
    return str(r.json()["token"])


@pytest.mark.parametrize("role", [r for r in Role if r != Role.admin])
def test_only_the_admin_administers_users(app: FastAPI, database_url: str, role: Role) -> None:
    _, token = user(database_url, role)
    with TestClient(app, headers=bearer(token)) as client:
        assert client.get("/admin/users").status_code == 403
        assert client.get("/api/v1/users").status_code == 403
        assert client.post("/api/v1/users", json={"name": "xx", "role": "admin"}).status_code == 403


# ----------------------------------------------------------------------------- landing page


def landing_as(app: FastAPI, database_url: str, role: Role, lang: str = "zh") -> str:
    _, token = user(database_url, role)
    with TestClient(app, headers=bearer(token)) as client:
        r = client.get("/", params={"lang": lang})
        assert r.status_code == 200, r.text
        return r.text


def test_volunteer_landing_has_water_and_no_incidents(app: FastAPI, database_url: str) -> None:
    page = landing_as(app, database_url, Role.volunteer)
    assert 'href="/maps/water"' in page and 'href="/maps/overview"' in page
    for incident_map in ("heatmap", "hexagons", "animation", "patrol", "cameras"):
        assert f"/maps/{incident_map}" not in page
    assert 'id="lookup-form"' not in page and "lookup.js" not in page
    assert "/admin/users" not in page and 'href="/audit"' not in page


def test_grid_worker_landing_has_the_lookup_form(app: FastAPI, database_url: str) -> None:
    page = landing_as(app, database_url, Role.grid_worker, "en")
    assert 'id="lookup-form"' in page and "/static/lookup.js" in page
    assert 'href="/maps/heatmap?lang=en"' in page
    assert "Grid worker" in page
    assert "/admin/users" not in page and "/api/v1/imports" not in page


def test_auditor_and_admin_landing(app: FastAPI, database_url: str) -> None:
    """Each finds their own page on the landing page, and it has the user bar too."""
    for role, link in ((Role.auditor, "/audit"), (Role.admin, "/admin/users")):
        name, _ = user(database_url, role)
        secret = pyotp.random_base32()
        owner_sql(
            database_url, "UPDATE app_user SET totp_secret = %s WHERE name = %s", (secret, name)
        )
        with TestClient(app, follow_redirects=False) as client:
            sign_in(client, name, code=pyotp.TOTP(secret).now())
            page = client.get("/").text
            theirs = client.get(link, params={"lang": "en"})
        assert f'href="{link}"' in page
        assert "/maps/" not in page and 'id="lookup-form"' not in page
        assert theirs.status_code == 200
        assert f'<span class="user-name">{name}</span>' in theirs.text
        assert 'action="/logout?lang=en"' in theirs.text


def test_landing_links_declare_the_access_of_their_routes(app: FastAPI) -> None:
    """Each landing entry names the same access group as its route."""
    routes = {
        (method, route.path): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    checked = 0
    for section in SECTIONS:
        for link in section.links:
            route = routes.get((link.method, link.path))
            assert route is not None, f"no route {link.method} {link.path}"
            groups = {declared_access(d.call) for d in route.dependant.dependencies if d.call} - {
                None
            }
            assert groups == {link.roles}, link.path
            checked += 1
    assert checked == sum(len(section.links) for section in SECTIONS) >= 19


def test_a_route_of_an_included_router_must_declare_its_access() -> None:
    """The start-up check sees the routes of included routers (FastAPI lists an included router
    as one entry of app.routes), the router's own dependencies counted."""
    declared = APIRouter(dependencies=[allow(SIGNED_IN)])
    declared.get("/a")(lambda: 1)
    open_route = APIRouter()
    open_route.get("/b", dependencies=[public])(lambda: 1)
    good = FastAPI()
    good.include_router(declared)
    good.include_router(open_route)
    require_access_declarations(good)
    forgotten = APIRouter()
    forgotten.post("/c")(lambda: 1)
    bad = FastAPI()
    bad.include_router(declared)
    bad.include_router(forgotten)
    with pytest.raises(RuntimeError, match="POST /c"):
        require_access_declarations(bad)


@pytest.fixture(scope="module")
def volunteer_browser(app: FastAPI, database_url: str) -> Iterator[tuple[TestClient, str]]:
    name, _ = user(database_url, Role.volunteer)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, name)
        yield client, name


@pytest.mark.parametrize(
    "path",
    sorted(MAP_QUERIES),
)
def test_every_map_page_shows_the_user_bar(
    app: FastAPI, database_url: str, path: str, volunteer_browser: tuple[TestClient, str]
) -> None:
    """In the title panel, next to the (unescaped) links home and to the other language."""
    client, name = volunteer_browser
    r = client.get(path, params=[*MAP_QUERIES[path], ("lang", "en")])
    if r.status_code == 403:  # a volunteer's role may not open it: the leader's bar then
        leader, token = user(database_url, Role.leader)
        r = TestClient(app, headers=bearer(token)).get(
            path, params=[*MAP_QUERIES[path], ("lang", "en")]
        )
        name, role = leader, "Leader"
    else:
        role = "Volunteer"
    assert r.status_code == 200, r.text
    title = re.search(r'<div class="gs-panel gs-title">(.*?)</div>\s*<', r.text, re.S)
    assert title
    assert '<a class="gs-other-lang"' in r.text and "&lt;a" not in r.text
    bar = re.search(r'<div class="user-bar">.*?</div>', r.text, re.S)
    assert bar, "no user bar"
    assert f'<span class="user-name">{name}</span>' in bar.group(0)
    assert f'<span class="user-role">{role}</span>' in bar.group(0)
    assert 'action="/logout?lang=en"' in bar.group(0)
    assert r.text.index('class="gs-panel gs-title"') < r.text.index('class="user-bar"')
    assert "private" in r.headers["cache-control"]


@pytest.mark.parametrize(("size", "width", "height"), [("desktop", 1200, 900), ("phone", 360, 740)])
def test_sign_in_and_out_in_chromium(
    browser: Browser, live_url: str, database_url: str, size: str, width: int, height: int
) -> None:
    """A person opens a map, signs in on the way, sees who they are on the map and signs out
    from it, at a desktop's and a phone's size; nothing leaves the machine, no console error."""
    name, _ = user(database_url, Role.volunteer)
    page = browser.new_page(viewport={"width": width, "height": height})
    visit = Visit(page, live_url)
    page.goto(f"{live_url}/maps/water?lang=en")
    assert urlsplit(page.url).path == "/login"
    assert "User name" in page.inner_text("form.stacked")
    shoot(page, f"login_en_{size}")
    sign_in_page(page, name, PASSWORD)
    assert page.url == f"{live_url}/maps/water?lang=en"
    page.wait_for_selector(".leaflet-overlay-pane path", timeout=20_000)
    bar = page.locator(".gs-title .user-bar")
    assert name in bar.inner_text() and "Volunteer" in bar.inner_text()
    assert not_blank(shoot(page, f"map_user_bar_{size}"))
    with page.expect_navigation():
        bar.locator("button").click()  # reachable: nothing covers it, even on a phone
    assert urlsplit(page.url).path == "/login"
    assert "Signed out." in page.inner_text("main")
    page.goto(f"{live_url}/account?lang=en")
    assert urlsplit(page.url).path == "/login"  # the session is over
    assert not visit.outside and not visit.errors, (visit.outside, visit.errors)
    page.close()
