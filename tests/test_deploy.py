"""The deployment files: docker-compose.yml has no default password and refuses to start
without one, its API migrates as the owner and serves as the service's own role; var/ (where
the first accounts' passwords are written) is not committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from geo_service.settings import REPO_ROOT, SERVICE_ROLE, Settings

COMPOSE = REPO_ROOT / "docker-compose.yml"
START = REPO_ROOT / "scripts" / "container_start.sh"
PASSWORDS = ("POSTGRES_PASSWORD", "SERVICE_DB_PASSWORD")
# Compose's variable forms: $$ (a dollar), $NAME, ${NAME}, ${NAME<op><word>} with op one of
# :- - :? ? :+ +
VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>[^}]*))?\})"
)


class MissingVariable(Exception):
    """What compose says when a required variable is unset or empty."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """A value of the compose file with the environment substituted, as docker compose does
    (the forms this file may use; nested substitutions are not supported)."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["bare"] or match["name"]
        op, word = match["op"], match["word"]
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":?", "?"):
            if not present:
                raise MissingVariable(f"required variable {name} is missing a value: {word}")
            return env[name]
        if op in (":-", "-"):
            return env[name] if present else word
        if op in (":+", "+"):
            return word if present else ""
        return env.get(name, "")

    return VARIABLE.sub(substitute, value)


def resolved(node: Any, env: dict[str, str]) -> Any:
    """The whole compose document with the environment substituted in every string."""
    if isinstance(node, dict):
        return {key: resolved(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def variables(node: Any) -> list[re.Match[str]]:
    """Every variable reference in the document's strings."""
    if isinstance(node, dict):
        return [m for value in node.values() for m in variables(value)]
    if isinstance(node, list):
        return [m for value in node for m in variables(value)]
    return list(VARIABLE.finditer(node)) if isinstance(node, str) else []


def test_the_interpolation_reads_compose_forms() -> None:
    env = {"A": "x", "E": ""}
    assert interpolate("$$A ${A} $A ${B:-d} ${E:-d} ${E-d} ${A:+p}", env) == "$A x x d d  p"
    with pytest.raises(MissingVariable, match="E"):
        interpolate("${E:?say}", env)
    assert interpolate("${E?say}", env) == ""


def test_no_variable_has_a_default_and_passwords_are_required(compose: dict[str, Any]) -> None:
    found = variables(compose)
    assert found, "the compose file uses no variables"
    defaults = [m.group(0) for m in found if m["op"] in (":-", "-")]
    assert defaults == []
    password_uses = [m for m in found if (m["name"] or m["bare"]) in PASSWORDS]
    assert {m["name"] for m in password_uses} == set(PASSWORDS)
    for use in password_uses:
        assert use["op"] == ":?", use.group(0)
        assert use["name"] in use["word"], "the refusal names the variable to set"
    text = COMPOSE.read_text(encoding="utf-8").lower()
    assert "change-me" not in text and "changeme" not in text


@pytest.mark.parametrize("missing", PASSWORDS)
def test_compose_refuses_to_start_without_each_password(
    compose: dict[str, Any], missing: str
) -> None:
    env = {"POSTGRES_PASSWORD": "owner-pw-1", "SERVICE_DB_PASSWORD": "service-pw-2"}
    for unset in ({k: v for k, v in env.items() if k != missing}, {**env, missing: ""}):
        with pytest.raises(MissingVariable, match=missing):
            resolved(compose, unset)


def test_the_api_migrates_as_the_owner_and_serves_as_the_service_role(
    compose: dict[str, Any],
) -> None:
    env = {"POSTGRES_PASSWORD": "owner-pw-1", "SERVICE_DB_PASSWORD": "service-pw-2"}
    services = resolved(compose, env)["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "owner-pw-1"
    api = services["api"]["environment"]
    assert "SERVICE_DATABASE_URL" not in api  # derived: the owner's URL with the service role
    settings = Settings(
        database_url=api["DATABASE_URL"], service_db_password=api["SERVICE_DB_PASSWORD"]
    )
    owner = conninfo_to_dict(settings.database_url)
    assert (owner["user"], owner["password"], owner["host"]) == ("postgres", "owner-pw-1", "db")
    service = conninfo_to_dict(settings.app_database_url)
    assert (service["user"], service["password"]) == (SERVICE_ROLE, "service-pw-2")
    assert (service["host"], service["port"], service["dbname"]) == ("db", "5432", "geo_service")
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]
    assert any(v.endswith(":/app/var") for v in services["api"]["volumes"])


def test_the_container_starts_with_the_start_script_in_order() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY scripts/container_start.sh ./scripts/" in dockerfile
    assert 'CMD ["sh", "scripts/container_start.sh"]' in dockerfile
    assert "WORKDIR /app" in dockerfile  # var/ is /app/var, the compose volume
    commands = [
        line.split()
        for line in START.read_text(encoding="utf-8").splitlines()
        if "geo-service" in line and not line.startswith("#")
    ]
    steps = [words[words.index("geo-service") + 1] for words in commands]
    assert steps == ["migrate", "sample", "load", "accounts", "serve"]
    assert commands[0] == ["geo-service", "migrate"]  # as the owner; sets the service password
    assert commands[3] == ["geo-service", "accounts", "init", "--if-empty", "--no-print-passwords"]
    assert commands[-1][0] == "exec"
    assert "SERVICE_DATABASE_URL" not in START.read_text(encoding="utf-8")


def test_the_start_script_refuses_to_run_without_the_service_password(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    fake = tmp_path / "geo-service"  # any geo-service step that runs leaves a trace
    fake.write_text(f'#!/bin/sh\necho "$@" >> {ran}\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(START)],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "DATABASE_URL": "postgresql://db/geo"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SERVICE_DB_PASSWORD" in result.stderr
    assert not ran.exists()


def test_var_is_ignored_by_git() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "-q", "var/initial-credentials.txt"],
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0
