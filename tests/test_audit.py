"""The audit trail: an unbroken hash chain under concurrent appends, recomputed here in Python
from its definition; tampering named by `geo-service audit verify`; append-only for the owner
(triggers) and insert-only, through audit_append, for the service's role; reading as an auditor;
pruning whole old months; CSV exports that match the rows."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import itertools
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import ValidationError
from starlette.requests import Request as StarletteRequest
from typer.testing import CliRunner

from geo_service import audit
from geo_service.accounts.roles import Role
from geo_service.cli import app as cli_app
from geo_service.db import connect
from geo_service.errors import InvalidParameter
from geo_service.logs import request_id
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user
from tests.conftest import migrated_database

APP_ROLE = "geo_service_app"
GENESIS = bytes(32)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = "seq, at, actor, role, action, subject, detail::text, request_id, client, prev_hash, hash"
# Strings that JSON must escape, or that a page must: the canonical text has to agree with
# jsonb's own rendering of them.
AWKWARD = ['quote " and \\ backslash', "tab\tnew\nline\r\x01\x1f\x7f", "中文 ✓ 🚓", "<b>x</b>"]

runner = CliRunner()


def as_role(url: str, role: str) -> str:
    """The same database, logged in as another role (the test server trusts local logins)."""
    return make_conninfo(**{**conninfo_to_dict(url), "user": role})


def event(n: int, **extra: Any) -> audit.AuditEvent:
    """A lookup event numbered n."""
    fields: dict[str, Any] = {
        "actor": f"user{n % 5}",
        "role": "command_room",
        "subject": f"point {n}",
        "detail": {"n": n, "grid": f"G{n % 7:03d}", "lon": 120.36 + n / 1e4},
        "request_id": f"r{n}",
        "client": "10.0.0.1",
    }
    fields.update(extra)
    return audit.AuditEvent("lookup", **fields)


def all_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Every row of the trail, read as the owner, in seq order."""
    return conn.execute(f"SELECT {COLUMNS} FROM audit_event ORDER BY seq").fetchall()


def canonical(row: tuple[Any, ...]) -> bytes:
    """The canonical text of a row, from its definition in 16_audit.sql: the JSON array
    [seq, microseconds since the epoch, actor, role, action, subject, detail, request_id,
    client], ", " between items. detail comes as jsonb's own text of it."""
    seq, at, actor, role, action, subject, detail, rid, client = row[:9]

    def text(value: str | None) -> str:
        return "null" if value is None else json.dumps(value, ensure_ascii=False)

    micros = (at - EPOCH) // timedelta(microseconds=1)
    items = [str(seq), str(micros), text(actor), text(role), text(action), text(subject)]
    items += [detail, text(rid), text(client)]
    return ("[" + ", ".join(items) + "]").encode()


def first_break(rows: list[tuple[Any, ...]], anchor: bytes = GENESIS) -> int | None:
    """The seq of the first row whose seq, prev_hash or hash does not follow: computed here
    with hashlib, not by the database."""
    previous = anchor
    expected_seq = rows[0][0] if rows else None
    for row in rows:
        seq, prev_hash, digest = row[0], bytes(row[9]), bytes(row[10])
        own = hashlib.sha256(previous + canonical(row)).digest()
        if seq != expected_seq or prev_hash != previous or digest != own:
            return int(seq)
        previous, expected_seq = digest, seq + 1
    return None


def refused(conn: psycopg.Connection, statement: str, params: Any = None) -> str:
    """The SQL state a refused statement gave (the transaction is rolled back after)."""
    try:
        conn.execute(statement, params)
    except psycopg.Error as exc:
        conn.rollback()
        return str(exc.sqlstate)
    conn.rollback()
    raise AssertionError(f"not refused: {statement}")


def cli(url: str, *args: str) -> Any:
    """geo-service audit ... against the database, as the command line runs it."""
    return runner.invoke(cli_app, ["audit", *args], env={"DATABASE_URL": url})


@pytest.fixture(scope="module")
def chain_url() -> Iterator[str]:
    """A database whose trail was written by six connections of the service's role at once
    (and a few awkward events), shared by the tests that do not change it."""
    with migrated_database("geo_audit") as url:
        workers, rounds = 6, 100  # more than 1000 rows: pages of 1000
        errors: list[BaseException] = []

        def append(worker: int) -> None:
            try:
                with psycopg.connect(as_role(url, APP_ROLE)) as conn:
                    for i in range(rounds):
                        n = worker * 1000 + i
                        batch = [
                            event(n, detail={"worker": worker, "i": i, "k": k})
                            for k in range(1 + i % 3)
                        ]
                        audit.write_sync(conn, batch)
                        conn.commit()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=append, args=(w,)) for w in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        with connect(url) as conn:
            weird = [
                event(9000 + i, actor=text, subject=text, detail={"text": text, "x": [1.50, None]})
                for i, text in enumerate(AWKWARD)
            ]
            audit.write_sync(conn, weird)
        yield url


def test_concurrent_appends_make_one_unbroken_chain(chain_url: str) -> None:
    with connect(chain_url) as conn:
        rows = all_rows(conn)
        result = audit.verify(conn)
    per_worker = sum(1 + i % 3 for i in range(100))
    assert len(rows) == 6 * per_worker + len(AWKWARD)
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    assert first_break(rows) is None  # every hash recomputed here
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(rows))  # time never goes back
    # each connection's events follow each other in the order it wrote them
    for worker in range(6):
        mine = [json.loads(r[6]) for r in rows if json.loads(r[6]).get("worker") == worker]
        assert [(d["i"], d["k"]) for d in mine] == sorted((d["i"], d["k"]) for d in mine)
        assert len(mine) == per_worker
    assert result.ok, result.verdict()
    assert (result.rows, result.first_seq, result.last_seq, result.head_seq) == (
        len(rows),
        1,
        len(rows),
        len(rows),
    )
    assert result.anchor == GENESIS
    assert rows[-1][2] == AWKWARD[-1] and json.loads(rows[-1][6]) == {
        "text": AWKWARD[-1],
        "x": [1.5, None],
    }
    outcome = cli(chain_url, "verify")
    assert outcome.exit_code == 0, outcome.output
    assert "intact" in outcome.output and "genesis" in outcome.output


def test_async_write_appends_in_the_callers_transaction(chain_url: str) -> None:
    async def go() -> tuple[int | None, int | None]:
        async with await psycopg.AsyncConnection.connect(as_role(chain_url, APP_ROLE)) as conn:
            nothing = await audit.write(conn, [])
            last = await audit.write(conn, [event(1), event(2)])
            await conn.rollback()  # the request failed: its events go with it
            return nothing, last

    with connect(chain_url) as conn:
        head = (conn.execute("SELECT seq FROM audit_head").fetchone() or (0,))[0]
    nothing, last = asyncio.run(go())
    assert nothing is None and last == head + 2
    with connect(chain_url) as conn:
        assert conn.execute("SELECT seq FROM audit_head").fetchone() == (head,)
        assert conn.execute("SELECT audit_append('[]')").fetchone() == (None,)
        assert audit.verify(conn).ok


def test_record_notes_the_request_and_refuses_secrets() -> None:
    request = StarletteRequest(
        {"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("10.1.2.3", 1)}
    )
    request.state.user = SimpleNamespace(name="zhang_san", role="grid_worker")
    token = request_id.set("req-42")
    try:
        first = audit.record(request, "lookup", "120.36,29.84", grid="G001")
        second = audit.record(request, "sign_in_failed", "li_si", actor="li_si", reason="wrong")
    finally:
        request_id.reset(token)
    assert request.state.audit == [first, second]
    assert first == audit.AuditEvent(
        "lookup", "zhang_san", "grid_worker", "120.36,29.84", {"grid": "G001"}, "req-42", "10.1.2.3"
    )
    assert (second.actor, second.detail) == ("li_si", {"reason": "wrong"})
    for secret in ("password", "new_password", "token", "totp_secret", "Cookie"):
        with pytest.raises(ValueError, match="secret"):
            audit.record(request, "user_admin", "x", **{secret: "hunter2hunter2"})
    assert len(request.state.audit) == 2
    anonymous = StarletteRequest({"type": "http", "method": "GET", "path": "/", "headers": []})
    noted = audit.record(anonymous, "refused", "/api/v1/audit")
    assert (noted.actor, noted.role, noted.client) == ("anonymous", None, None)


def test_owner_cannot_update_delete_or_truncate(chain_url: str) -> None:
    with connect(chain_url) as conn:
        partition = conn.execute(
            "SELECT tableoid::regclass::text FROM audit_event WHERE seq = 1"
        ).fetchone()
        assert partition is not None
        statements = [
            "UPDATE audit_event SET actor = 'someone else' WHERE seq = 3",
            "DELETE FROM audit_event WHERE seq = 3",
            "TRUNCATE audit_event",
            f"UPDATE {partition[0]} SET detail = '{{}}' WHERE seq = 3",
            f"DELETE FROM {partition[0]} WHERE seq = 3",
            f"TRUNCATE {partition[0]}",
            "DELETE FROM audit_head",
            "TRUNCATE audit_head",
            "UPDATE audit_head SET seq = seq - 1",
            "INSERT INTO audit_head (only_row, seq, hash, at) VALUES (true, 0, '', now())",
        ]
        states = [refused(conn, statement) for statement in statements]
        assert states[:-1] == ["42501"] * (len(statements) - 1)  # the triggers
        assert states[-1] == "23505"  # one head only
        assert audit.verify(conn).ok


def test_service_role_only_appends(chain_url: str) -> None:
    with connect(chain_url) as owner:
        partition = owner.execute("SELECT tableoid::regclass::text FROM audit_event LIMIT 1")
        name = (partition.fetchone() or ("?",))[0]
    with psycopg.connect(as_role(chain_url, APP_ROLE)) as conn:
        for statement in (
            "SELECT * FROM audit_event",
            f"SELECT * FROM {name}",
            "SELECT * FROM audit_head",
            "INSERT INTO audit_event (seq, at, actor, action, prev_hash, hash) "
            "VALUES (0, now(), 'me', 'lookup', '', '')",
            "UPDATE audit_event SET actor = 'me'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            f"DELETE FROM {name}",
            "UPDATE audit_head SET seq = seq + 1",
            "SELECT * FROM audit_verify()",
            "SELECT * FROM audit_prune(400)",
            "SELECT audit_month_partition(now())",
        ):
            assert refused(conn, statement) == "42501", statement
        # appending works; choosing the time does not
        seq = audit.write_sync(conn, [event(1)])
        conn.commit()
        backdated = json.dumps([{"actor": "me", "action": "lookup", "at": "2020-01-01T00:00Z"}])
        assert refused(conn, "SELECT audit_append(%s::jsonb)", (backdated,)) == "42501"
        wrong = json.dumps([{"actor": "me", "action": "Look Up"}])
        assert refused(conn, "SELECT audit_append(%s::jsonb)", (wrong,)) == "22023"
        wrong = json.dumps([{"actor": "me", "action": "lookup", "password": "x"}])
        assert refused(conn, "SELECT audit_append(%s::jsonb)", (wrong,)) == "22023"
    with connect(chain_url) as owner:
        row = owner.execute("SELECT actor, action FROM audit_event WHERE seq = %s", (seq,))
        assert row.fetchone() == ("user1", "lookup")


def test_only_an_auditor_reads_through_audit_events(chain_url: str) -> None:
    read = "SELECT seq FROM audit_events(NULL, NULL, NULL, NULL, 0, 1000)"
    with psycopg.connect(as_role(chain_url, APP_ROLE)) as conn:
        assert refused(conn, read) == "42501"
        conn.execute("SELECT set_config('geo.role', 'leader', true)")
        assert refused(conn, read) == "42501"
        conn.execute("SELECT set_config('geo.role', 'auditor', true)")
        page = [row[0] for row in conn.execute(read)]
        assert refused(conn, "SELECT * FROM audit_events(NULL, NULL, NULL, NULL, 0, 1001)") == (
            "22023"
        )
        conn.execute("SELECT set_config('geo.role', 'auditor', false)")  # the whole session
        where = audit.AuditFilter(actor="user3", action="lookup")
        mine = audit.read_page_sync(conn, where=where, after_seq=5, limit=10)
    with connect(chain_url) as owner:
        rows = all_rows(owner)
    assert page == [row[0] for row in rows][:1000]
    expected = [r[0] for r in rows if r[2] == "user3" and r[4] == "lookup" and r[0] > 5][:10]
    assert [row.seq for row in mine] == expected and len(expected) == 10


def test_verify_names_the_first_row_that_does_not_match() -> None:
    with migrated_database("geo_audit_tamper") as url:
        with connect(url) as conn:
            audit.write_sync(conn, [event(n) for n in range(1, 21)])
        assert cli(url, "verify").exit_code == 0

        def tamper(*statements: str) -> None:
            with connect(url) as conn:  # a superuser with triggers off, as an intruder would
                conn.execute("SET session_replication_role = replica")
                for statement in statements:
                    conn.execute(statement)

        def named() -> tuple[int | None, int | None, str]:
            """The seq verify names (exit 1), the seq Python's walk names, the output."""
            outcome = cli(url, "verify")
            assert outcome.exit_code == 1, outcome.output
            with connect(url) as conn:
                result = audit.verify(conn)
                python = first_break(all_rows(conn))
            assert not result.ok and f"broken at seq {result.bad_seq}" in outcome.output
            return result.bad_seq, python, outcome.output

        # each intrusion breaks the chain earlier than the one before
        tamper("DELETE FROM audit_event WHERE seq = 20")
        assert named()[:2] == (20, None)  # rows 1-19 chain well: only the head knows of 20
        assert "newest rows are missing" in named()[2]
        tamper(
            "UPDATE audit_event SET subject = 'elsewhere', hash = sha256(prev_hash || convert_to("
            "audit_canonical(seq, at, actor, role, action, 'elsewhere', detail, request_id, "
            "client), 'UTF8')) WHERE seq = 15"
        )
        seq, python, output = named()  # the row hashes right now; the next one says otherwise
        assert seq == python == 16 and "prev_hash is not the hash of seq 15" in output
        tamper("UPDATE audit_event SET detail = '{\"n\": 999}' WHERE seq = 11")
        seq, python, output = named()
        assert seq == python == 11 and "does not match its content" in output
        tamper("DELETE FROM audit_event WHERE seq = 5")
        seq, python, output = named()
        assert seq == python == 6 and "follows seq 4" in output


def test_prune_keeps_whole_recent_months_and_the_chain() -> None:
    """Old events are appended as the owner with an explicit time (audit_append takes `at` only
    from the owner, never earlier than the newest row), so the chain stays valid."""
    with migrated_database("geo_audit_prune") as url:
        now = datetime.now(UTC)
        ages = [400, 300, 200, 185, 181, 170, 40, 1]
        with connect(url) as conn:
            for age in ages:
                at = now - timedelta(days=age)
                events = [{**event(age * 10 + k).as_json(), "at": at.isoformat()} for k in range(3)]
                conn.execute("SELECT audit_append(%s::jsonb)", (json.dumps(events),))
            conn.commit()  # refused() rolls back
            too_early = json.dumps([{"actor": "x", "action": "lookup", "at": "2020-01-01Z"}])
            assert refused(conn, "SELECT audit_append(%s::jsonb)", (too_early,)) == "22023"
            audit.write_sync(conn, [event(1)])
            conn.commit()
            before = all_rows(conn)
            parts_before = partitions(conn)

        with pytest.raises(InvalidParameter, match="at least 180"), connect(url) as conn:
            audit.prune(conn, retention_days=179)
        with pytest.raises(ValidationError, match="at least 180"):
            Settings(audit_retention_days=179)
        outcome = cli(url, "prune", "--retention-days", "179")
        assert outcome.exit_code == 1 and "at least 180" in outcome.output
        with connect(url) as conn:
            assert refused(conn, "SELECT * FROM audit_prune(179)") == "22023"
            assert partitions(conn) == parts_before

        cutoff = datetime.now(UTC) - timedelta(days=180)
        expected = {name for name, upper in parts_before.items() if upper <= cutoff}
        assert len(expected) >= 2  # the months of 400 and 300 days ago at least
        with connect(url) as conn:
            months = audit.prune(conn, retention_days=180, actor="cli:test")
        assert {m.partition for m in months} == expected
        with connect(url) as conn:
            after = all_rows(conn)
            assert set(partitions(conn)) == set(parts_before) - expected
            result = audit.verify(conn)
        kept_from = max(upper for name, upper in parts_before.items() if name in expected)
        kept = [row for row in before if row[1] >= kept_from]
        dropped = [row for row in before if row[1] < kept_from]
        assert after[: len(kept)] == kept  # the kept rows untouched, hashes and all
        assert len(kept) < len(before) and dropped
        record = after[len(kept)]
        assert record[4] == "audit_prune" and len(after) == len(kept) + 1
        assert json.loads(record[6])["through_seq"] == dropped[-1][0]
        # the chain from the oldest kept row, its prev_hash the anchor: here and in SQL
        assert first_break(after, anchor=bytes(kept[0][9])) is None
        assert bytes(kept[0][9]) == bytes(dropped[-1][10])
        assert result.ok and result.first_seq == kept[0][0]
        assert result.anchor == bytes(dropped[-1][10]) and result.anchor_record == record[0]
        outcome = cli(url, "verify")
        assert outcome.exit_code == 0, outcome.output
        assert "pruned" in outcome.output and f"prune record seq {record[0]}" in outcome.output


def partitions(conn: psycopg.Connection) -> dict[str, datetime]:
    """The partitions of audit_event and the end of the month each holds (from the catalogue)."""
    rows = conn.execute(
        "SELECT c.relname, (regexp_match(pg_get_expr(c.relpartbound, c.oid), "
        "'TO \\(''([^'']+)''\\)'))[1]::timestamptz "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit_event'::regclass"
    ).fetchall()
    return {name: upper for name, upper in rows}


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows of an exported CSV (which starts with a byte-order mark)."""
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def as_table_rows(exported: list[dict[str, str]]) -> list[tuple[Any, ...]]:
    """CSV rows back in the columns of all_rows (empty fields are NULL)."""
    return [
        (
            int(r["seq"]),
            datetime.fromisoformat(r["at"]),
            r["actor"],
            r["role"] or None,
            r["action"],
            r["subject"] or None,
            r["detail"],
            r["request_id"] or None,
            r["client"] or None,
            bytes.fromhex(r["prev_hash"]),
            bytes.fromhex(r["hash"]),
        )
        for r in exported
    ]


def test_cli_export_matches_the_rows(chain_url: str) -> None:
    with connect(chain_url) as conn:
        rows = [(*r[:9], bytes(r[9]), bytes(r[10])) for r in all_rows(conn)]
    start, end = rows[10][1], rows[-1][1] + timedelta(microseconds=1)
    outcome = runner.invoke(
        cli_app,
        ["audit", "export", "--from", start.isoformat(), "--to", end.isoformat()],
        env={"DATABASE_URL": chain_url},
    )
    assert outcome.exit_code == 0, outcome.stderr
    exported = as_table_rows(read_csv(outcome.stdout))
    expected = [r for r in rows if start <= r[1] < end]
    assert exported == expected
    assert first_break(exported, anchor=exported[0][9]) is None  # checkable from the file alone
    filtered = runner.invoke(
        cli_app,
        ["audit", "export", "--from", "2000-01-01", "--to", end.isoformat(), "--actor", "user2"],
        env={"DATABASE_URL": chain_url},
    )
    assert as_table_rows(read_csv(filtered.stdout)) == [r for r in rows if r[2] == "user2"]
    with connect(chain_url) as conn:
        noted = conn.execute(
            "SELECT actor, detail FROM audit_event WHERE action = 'export' ORDER BY seq"
        ).fetchall()
    assert noted[-1][0].startswith("cli:") and noted[-1][1]["filter"]["actor"] == "user2"
    assert noted[-1][1]["rows"] == len([r for r in rows if r[2] == "user2"])


@pytest.fixture
def auditor_client(chain_url: str) -> Iterator[TestClient]:
    """The app signed in as an auditor (a token: given by the operator, so no one-time code)."""
    token = make_user(chain_url, Role.auditor)
    with TestClient(create_app(Settings(database_url=chain_url)), headers=bearer(token)) as client:
        yield client


def test_json_pages_and_filters(chain_url: str, auditor_client: TestClient) -> None:
    with connect(chain_url) as conn:
        rows = all_rows(conn)
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = auditor_client.get("/api/v1/audit", params={"limit": 97, "after_seq": after})
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        page = answer.json()
        seen += page["events"]
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    assert [e["seq"] for e in seen] == [r[0] for r in rows]
    first = {e["seq"]: e for e in seen}
    for row in rows:
        got = first[row[0]]
        assert datetime.fromisoformat(got["at"]) == row[1]
        assert (got["actor"], got["role"], got["action"], got["subject"]) == row[2:6]
        assert got["detail"] == json.loads(row[6]) and got["hash"] == bytes(row[10]).hex()
    start, end = rows[30][1], rows[200][1]
    answer = auditor_client.get(
        "/api/v1/audit",
        params={
            "actor": "user4",
            "action": "lookup",
            "from": start.isoformat(),
            "to": end.isoformat(),
        },
    )
    expected = [r[0] for r in rows if r[2] == "user4" and start <= r[1] < end][:100]
    assert [e["seq"] for e in answer.json()["events"]] == expected and expected
    assert auditor_client.get("/api/v1/audit", params={"limit": 1001}).status_code == 422
    assert auditor_client.get("/api/v1/audit", params={"from": "yesterday"}).status_code == 422


def test_csv_download_matches_the_rows(chain_url: str, auditor_client: TestClient) -> None:
    with connect(chain_url) as conn:
        rows = [(*r[:9], bytes(r[9]), bytes(r[10])) for r in all_rows(conn)]
    end = rows[-1][1] + timedelta(microseconds=1)
    answer = auditor_client.get("/api/v1/audit.csv", params={"to": end.isoformat()})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert as_table_rows(read_csv(answer.text)) == rows  # more than one page of 1000
    assert len(rows) > audit.PAGE_MAX
    answer = auditor_client.get("/api/v1/audit.csv", params={"actor": "nobody"})
    assert read_csv(answer.text) == []
    with connect(chain_url) as conn:
        noted = conn.execute(
            "SELECT actor, client, detail FROM audit_event WHERE action = 'export' "
            "AND subject = 'audit_event' ORDER BY seq DESC LIMIT 2"
        ).fetchall()
    assert [n[2] for n in noted] == [
        {"filter": {"actor": "nobody"}, "rows": 0},
        {"filter": {"to": end.isoformat()}, "rows": len(rows)},
    ]


def test_page_lists_events_escaped_in_both_languages(auditor_client: TestClient) -> None:
    answer = auditor_client.get("/audit")  # the last week, 100 a page, in Chinese
    assert answer.status_code == 200 and "审计记录" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text.count('<td class="seq">') == 100 and "下一页" in answer.text
    assert 'action="/audit"' in answer.text and "/api/v1/audit.csv?from=" in answer.text
    roles = re.findall(r'<td class="role">([^<]*)</td>', answer.text)
    assert "指挥室" in roles and "command_room" not in roles  # the role in words, not its code
    every = auditor_client.get("/audit", params={"lang": "en", "from": "", "limit": 1000})
    roles = re.findall(r'<td class="role">([^<]*)</td>', every.text)
    assert "Command room" in roles and "command_room" not in roles
    assert every.text.count('<td class="seq">') == 1000 and "after_seq=1000" in every.text
    english = auditor_client.get("/audit", params={"lang": "en", "from": "", "actor": "<b>x</b>"})
    body = english.text
    assert "Audit trail" in body and "审计记录" not in body
    assert body.count('<td class="seq">') == 1 and "Next page" not in body
    assert "<b>x</b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body
    assert "http://" not in body and "https://" not in body  # nothing from outside
