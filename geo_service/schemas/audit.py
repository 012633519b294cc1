"""Answers of the audit trail endpoints: a page of events in seq order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    """One event of the audit trail."""

    seq: int = Field(description="Place in the hash chain (1, 2, 3, ... without gaps)")
    at: datetime = Field(description="When it was recorded")
    actor: str = Field(description="User name, cli:<os user> or anonymous")
    role: str | None
    action: str = Field(description="sign_in, lookup, phone_reveal, export, refused, ...")
    subject: str | None = Field(description="What the action was about")
    detail: dict[str, Any]
    request_id: str | None
    client: str | None = Field(description="Client IP address")
    prev_hash: str = Field(description="SHA-256 of the previous event (hexadecimal)")
    hash: str = Field(
        description="SHA-256 of prev_hash and this event's content (hexadecimal); see "
        "audit_canonical in sql/functions/16_audit.sql"
    )


class AuditPage(BaseModel):
    """A page of audit events; ask for the next with after_seq=next_after_seq."""

    events: list[AuditEventOut]
    limit: int
    next_after_seq: int | None = Field(
        description="Pass as after_seq for the next page; null when this page is the last"
    )
