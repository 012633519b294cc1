"""geo-service audit: verify the hash chain, prune old months, export events as CSV."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from geo_service.audit import (
    AuditEvent,
    AuditFilter,
    cli_actor,
    csv_lines,
    prune,
    read_all_sync,
    verify,
    write_sync,
)
from geo_service.db import connect
from geo_service.errors import DomainError
from geo_service.moments import parse_moment
from geo_service.settings import load_settings

audit_app = typer.Typer(
    help="The audit trail: verify, prune, export.", no_args_is_help=True, add_completion=False
)


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.detail}", err=True)
    raise typer.Exit(code=1)


@audit_app.command("verify")
def verify_command() -> None:
    """Walk the hash chain; exit 1 naming the first row that does not match."""
    try:
        with connect(load_settings().database_url) as conn:
            result = verify(conn)
    except DomainError as error:
        _fail(error)
    typer.echo(result.summary())
    if not result.ok:
        typer.echo(result.verdict(), err=True)
        raise typer.Exit(code=1)
    typer.echo(result.verdict())


@audit_app.command("prune")
def prune_command(
    retention_days: Annotated[
        int | None,
        typer.Option(help="Keep this many days (at least 180). Default: AUDIT_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Drop the months older than the retention; the rows kept are not touched."""
    settings = load_settings()
    days = settings.audit_retention_days if retention_days is None else retention_days
    try:
        with connect(settings.database_url) as conn:
            months = prune(conn, retention_days=days)
    except DomainError as error:
        _fail(error)
    for month in months:
        typer.echo(f"dropped {month.partition}: {month.rows} rows")
    typer.echo(f"kept the last {days} days; {len(months)} month(s) dropped")


@audit_app.command("export")
def export_command(
    from_: Annotated[
        str, typer.Option("--from", help="Start (ISO 8601; without an offset, station time).")
    ],
    to: Annotated[str, typer.Option("--to", help="End, exclusive (ISO 8601).")],
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
) -> None:
    """Write the events of a time span to standard output as CSV (UTF-8, with a BOM)."""
    try:
        where = AuditFilter(
            actor=actor,
            action=action,
            start=parse_moment(from_, parameter="from"),
            end=parse_moment(to, parameter="to"),
        )
        with connect(load_settings().database_url) as conn:
            count = 0
            for line in csv_lines(read_all_sync(conn, where=where)):
                sys.stdout.write(line)
                count += 1
            event = AuditEvent(
                "export",
                cli_actor(),
                subject="audit_event",
                detail={"filter": where.as_detail(), "rows": count - 1},
            )
            write_sync(conn, [event])
    except DomainError as error:
        _fail(error)
    sys.stdout.flush()
