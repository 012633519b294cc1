"""Temporary: replaced by the audit helper's module (interface of /work/briefs/accounts.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request


@dataclass(frozen=True)
class AuditEvent:
    action: str
    actor: str
    role: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    client: str | None = None


def pending(request: Request) -> list[AuditEvent]:
    return list(getattr(request.state, "audit", []))


def event(
    request: Request, user: Any, action: str, subject: str | None, **detail: Any
) -> AuditEvent:
    return AuditEvent(action, user.name, str(user.role), subject, detail)


def record(request: Request, action: str, subject: str | None = None, **detail: Any) -> None:
    if not hasattr(request.state, "audit"):
        request.state.audit = []
    request.state.audit.append(event(request, request.state.user, action, subject, **detail))


async def write(conn: Any, events: list[AuditEvent]) -> None:
    return None


def write_sync(conn: Any, events: list[AuditEvent]) -> None:
    return None
