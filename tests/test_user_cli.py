"""geo-service user … and accounts init against a throwaway database: what they store, print
and audit, and that the tokens they print open (and stop opening) the app."""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner, Result

from geo_service import audit
from geo_service.accounts import store
from geo_service.accounts.initial import INITIAL_ACCOUNTS
from geo_service.accounts.roles import SECOND_FACTOR_ROLES, Role
from geo_service.cli import app as cli
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer
from tests.conftest import loaded_database

# Inside the sample's station (the README's first lookup).
LON, LAT = 120.3403, 29.8579


@pytest.fixture(scope="module")
def cli_db(sample_path: Path) -> Iterator[str]:
    """A throwaway database with the sample, for the commands of this module."""
    with loaded_database("geo_usercli", sample_path) as url:
        yield url


@pytest.fixture(scope="module")
def app_client(cli_db: str) -> Iterator[TestClient]:
    """The app on that database, with no credentials of its own."""
    with TestClient(create_app(Settings(database_url=cli_db))) as client:
        yield client


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> list[audit.AuditEvent]:
    """The audit events the commands write (still written through the audit module)."""
    events: list[audit.AuditEvent] = []
    original = audit.write

    async def capture(conn: Any, batch: list[audit.AuditEvent]) -> None:
        events.extend(batch)
        await original(conn, batch)

    monkeypatch.setattr(audit, "write", capture)
    return events


def run(url: str, *args: str, input: str | None = None) -> Result:
    """geo-service ARGS as the operator of ``url``."""
    return CliRunner().invoke(cli, list(args), input=input, env={"DATABASE_URL": url})


def sign_in(url: str, name: str, password: str) -> str:
    """What store.sign_in says of this name and password (signed_in when they match)."""

    async def attempt() -> str:
        async with (
            await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
            conn.transaction(),
        ):
            outcome = await store.sign_in(
                conn,
                name=name,
                password=password,
                code=None,
                second_factor_roles=SECOND_FACTOR_ROLES,
            )
            return outcome.outcome

    return asyncio.run(attempt())


def user_row(url: str, name: str) -> tuple[Any, ...] | None:
    """The stored user (role, person code, locked, removed), read with plain SQL."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT u.role, p.code, u.locked, u.removed_at IS NOT NULL
               FROM app_user u LEFT JOIN person p ON p.id = u.person_id WHERE u.name = %s""",
            (name,),
        ).fetchone()


def token_of(url: str, name: str) -> str:
    """A new token of the user, as a script gets it: TOKEN=$(geo-service user token NAME)."""
    result = run(url, "user", "token", name)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_add_with_password_stdin_stores_the_user_and_prints_no_password(
    cli_db: str, audited: list[audit.AuditEvent], caplog: pytest.LogCaptureFixture
) -> None:
    password = "Wide-River-2026"
    with caplog.at_level(logging.DEBUG):
        result = run(
            cli_db, "user", "add", "alice", "--role", "leader", "--password-stdin", input=password
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "added user alice (leader)"
    assert password not in result.output + caplog.text
    assert user_row(cli_db, "alice") == ("leader", None, False, False)
    assert sign_in(cli_db, "alice", password) == "signed_in"
    assert sign_in(cli_db, "alice", password + "x") == "wrong_password"
    [event] = audited
    assert (event.action, event.subject, event.role) == ("user_admin", "alice", None)
    assert event.actor.startswith("cli:") and len(event.actor) > len("cli:")
    assert event.detail == {"change": "add", "role": "leader", "person": None}


def test_a_short_password_is_refused_and_nothing_stored(
    cli_db: str, audited: list[audit.AuditEvent]
) -> None:
    result = run(
        cli_db,
        "user",
        "add",
        "shorty",
        "--role",
        "planner",
        "--password-stdin",
        input="nine-char\n",
    )
    assert result.exit_code == 1
    assert result.stderr == "error: A password needs at least 10 characters\n"
    assert "nine-char" not in result.output
    assert user_row(cli_db, "shorty") is None
    assert audited == []


def test_without_password_stdin_a_random_password_is_printed_once(cli_db: str) -> None:
    result = run(cli_db, "user", "add", "bert", "--role", "planner")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "added user bert (planner)"
    assert lines[1].startswith("password (shown once): ")
    password = lines[1].removeprefix("password (shown once): ")
    assert len(password) >= 10
    assert result.output.count(password) == 1
    assert sign_in(cli_db, "bert", password) == "signed_in"


def test_person_bound_roles_need_a_known_person(cli_db: str) -> None:
    with psycopg.connect(cli_db) as conn:
        row = conn.execute(
            """SELECT p.code FROM person p JOIN assignment a ON a.person_id = p.id
               WHERE a.role = 'grid_worker' AND a.validity @> now() ORDER BY p.code LIMIT 1"""
        ).fetchone()
    assert row is not None
    code = row[0]
    refused = run(cli_db, "user", "add", "gw", "--role", "grid_worker")
    assert refused.exit_code == 1
    assert refused.stderr == "error: A grid_worker account needs --person (a person code)\n"
    unknown = run(cli_db, "user", "add", "gw", "--role", "grid_worker", "--person", "NOBODY")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: No person with code 'NOBODY'\n"
    assert user_row(cli_db, "gw") is None
    added = run(cli_db, "user", "add", "gw", "--role", "grid_worker", "--person", code)
    assert added.exit_code == 0, added.output
    assert user_row(cli_db, "gw") == ("grid_worker", code, False, False)
    again = run(cli_db, "user", "add", "gw", "--role", "planner")
    assert again.exit_code == 1
    assert again.stderr == "error: A user named 'gw' exists already\n"


def test_a_token_is_printed_once_alone_and_opens_the_app(
    cli_db: str, app_client: TestClient, audited: list[audit.AuditEvent]
) -> None:
    run(cli_db, "user", "add", "carla", "--role", "command_room")
    result = run(cli_db, "user", "token", "carla", "--days", "7", "--label", "QGIS desk 3")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"  # nothing else on stdout
    assert token.startswith("gst_") and len(token) > 40
    assert token not in result.stderr
    assert "shown once" in result.stderr
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 200
    lookup = app_client.get(f"/api/v1/lookup?lon={LON}&lat={LAT}", headers=bearer(token))
    assert lookup.status_code == 200, lookup.text
    assert app_client.get("/ping/db", headers=bearer(token + "x")).status_code == 401
    assert app_client.get("/ping/db").status_code == 401
    listed = run(cli_db, "user", "tokens", "carla")
    assert listed.exit_code == 0
    [header, row] = listed.stdout.splitlines()
    assert header.split()[:3] == ["id", "user", "label"]
    assert "carla" in row and "QGIS desk 3" in row and "active" in row
    assert token not in listed.output
    [event] = [e for e in audited if e.action == "token_admin"]
    assert event.subject == "carla"
    assert event.detail == {
        "change": "issue",
        "token_id": int(row.split()[0]),
        "days": 7,
        "label": "QGIS desk 3",
    }
    assert not any(token in repr(e) for e in audited)


def test_a_token_lasts_1_to_3650_days(cli_db: str) -> None:
    run(cli_db, "user", "add", "hanna", "--role", "planner")
    result = run(cli_db, "user", "token", "hanna", "--days", "0")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: A token lasts 1 to 3650 days\n"


def test_lock_stops_the_users_tokens_until_unlocked(
    cli_db: str, app_client: TestClient, audited: list[audit.AuditEvent]
) -> None:
    run(cli_db, "user", "add", "dora", "--role", "planner")
    token = token_of(cli_db, "dora")
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 200
    assert run(cli_db, "user", "lock", "dora").stdout == "locked dora\n"
    assert user_row(cli_db, "dora") == ("planner", None, True, False)
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 401
    listed = run(cli_db, "user", "list").stdout.splitlines()
    assert [line.split()[3] for line in listed if line.startswith("dora ")] == ["locked"]
    assert run(cli_db, "user", "unlock", "dora").stdout == "unlocked dora\n"
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 200
    changes = [(e.action, e.subject, e.detail.get("change")) for e in audited]
    assert changes[-2:] == [("user_admin", "dora", "lock"), ("user_admin", "dora", "unlock")]


def test_remove_ends_the_users_tokens(cli_db: str, app_client: TestClient) -> None:
    run(cli_db, "user", "add", "emil", "--role", "planner")
    token = token_of(cli_db, "emil")
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 200
    assert run(cli_db, "user", "remove", "emil").stdout == "removed emil\n"
    assert app_client.get("/ping/db", headers=bearer(token)).status_code == 401
    assert user_row(cli_db, "emil") == ("planner", None, False, True)
    assert "revoked" in run(cli_db, "user", "tokens", "emil").stdout
    again = run(cli_db, "user", "unlock", "emil")
    assert again.exit_code == 1
    assert again.stderr == "error: No user named 'emil'\n"


def test_revoke_token_ends_that_token_only(
    cli_db: str, app_client: TestClient, audited: list[audit.AuditEvent]
) -> None:
    run(cli_db, "user", "add", "fred", "--role", "planner")
    first, second = token_of(cli_db, "fred"), token_of(cli_db, "fred")
    rows = run(cli_db, "user", "tokens", "fred").stdout.splitlines()[1:]
    newest, oldest = (int(row.split()[0]) for row in rows)
    result = run(cli_db, "user", "revoke-token", str(oldest))
    assert result.exit_code == 0 and result.stdout == f"revoked token {oldest}\n"
    assert app_client.get("/ping/db", headers=bearer(first)).status_code == 401
    assert app_client.get("/ping/db", headers=bearer(second)).status_code == 200
    assert newest > oldest
    assert (audited[-1].action, audited[-1].subject, audited[-1].detail) == (
        "token_admin",
        "fred",
        {"change": "revoke", "token_id": oldest},
    )
    unknown = run(cli_db, "user", "revoke-token", "999999")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: No token 999999\n"


def test_password_sets_a_new_one(cli_db: str) -> None:
    run(cli_db, "user", "add", "gina", "--role", "planner")
    result = run(cli_db, "user", "password", "gina", "--password-stdin", input="Second-Pass-99\n")
    assert result.exit_code == 0, result.output
    assert "Second-Pass-99" not in result.output
    assert sign_in(cli_db, "gina", "Second-Pass-99") == "signed_in"


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    url = "postgresql://postgres:hunter2-secret@127.0.0.1:1/nowhere"
    result = run(url, "user", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Cannot connect to ")
    assert result.stderr.count("\n") == 1
    assert "hunter2-secret" not in result.output


@pytest.fixture
def fresh_db(cli_db: str) -> str:
    """The module's database with no users at all (those of earlier tests deleted as its
    owner), for accounts init."""
    with psycopg.connect(cli_db) as conn:
        for table in ("user_session", "api_token", "app_user"):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    return cli_db


def test_accounts_init_makes_one_account_per_role_written_once_mode_600(
    fresh_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    audited: list[audit.AuditEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)  # the default file is var/initial-credentials.txt from here
    with caplog.at_level(logging.DEBUG):
        result = run(fresh_db, "accounts", "init")
    assert result.exit_code == 0, result.output
    path = tmp_path / "var" / "initial-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert "change these passwords" in text and "user remove NAME" in text
    assert "change these passwords" in result.stdout
    assert "admin, auditor: enrol a one-time code" in result.stdout

    table = text[text.index("\nname ") + 1 :].splitlines()
    accounts = {row.split()[0]: row.split() for row in table[1:]}
    assert set(accounts) == {str(role) for role in Role} == {str(r) for r, _ in INITIAL_ACCOUNTS}
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (len(Role),)
    for name, (_, role, person, password) in accounts.items():
        assert role == name
        assert user_row(fresh_db, name) == (role, None if person == "-" else person, False, False)
        # printed once on screen, in the file once, nowhere else
        assert result.stdout.count(password) == 1
        assert text.count(password) == 1
        assert password not in result.stderr + caplog.text
        assert sign_in(fresh_db, name, password) == "signed_in"
    for role, area_kind in [
        ("community_officer", "beat"),
        ("grid_worker", "grid"),
        ("volunteer", "village"),
    ]:
        with psycopg.connect(fresh_db) as conn:
            in_force = conn.execute(
                """SELECT count(*) FROM assignment a JOIN person p ON p.id = a.person_id
                   WHERE p.code = %s AND a.role = %s AND a.area_kind = %s
                     AND a.validity @> now()""",
                (accounts[role][2], role, area_kind),
            ).fetchone()
        assert in_force is not None and in_force[0] >= 1, role
    assert sorted(e.subject or "" for e in audited) == sorted(accounts)
    assert {(e.action, e.detail["change"]) for e in audited} == {("user_admin", "add")}
    assert not any(a[3] in repr(audited) for a in accounts.values())

    # a second run with --if-empty does nothing and says so; without it, it refuses
    again = run(fresh_db, "accounts", "init", "--if-empty")
    assert again.exit_code == 0, again.output
    assert again.stdout == "the database has users already; no initial accounts made\n"
    assert path.read_text(encoding="utf-8") == text
    refused = run(fresh_db, "accounts", "init", "--credentials-file", str(tmp_path / "other"))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: the database has users already")
    assert not (tmp_path / "other").exists()
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (len(Role),)


def test_accounts_init_never_overwrites_a_credentials_file(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "initial-credentials.txt"
    path.write_text("the passwords of another database\n")
    result = run(fresh_db, "accounts", "init", "--if-empty", "--credentials-file", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path} exists already")
    assert path.read_text() == "the passwords of another database\n"
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (0,)


def test_accounts_init_without_printing_writes_the_file_only(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "creds.txt"
    result = run(
        fresh_db,
        "accounts",
        "init",
        "--no-print-passwords",
        "--credentials-file",
        str(path),
    )
    assert result.exit_code == 0, result.output
    rows = path.read_text(encoding="utf-8").split("\nname ")[1].splitlines()[1:]
    assert len(rows) == len(Role)
    for row in rows:
        name, password = row.split()[0], row.split()[3]
        assert name in result.stdout
        assert password not in result.output
