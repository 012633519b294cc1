"""The geo-service command: migrate, make and load the sample, import, export, back up, serve."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import psycopg
import typer

from geo_service import audit
from geo_service.accounts.cli import accounts_app, user_app
from geo_service.db import connect, create_database, migrate, set_service_password
from geo_service.errors import DomainError
from geo_service.settings import load_settings

app = typer.Typer(help="Grid-and-beat map service.", no_args_is_help=True, add_completion=False)


def _audit(conn: psycopg.Connection, action: str, subject: str, **detail: object) -> None:
    """The operator's command in the audit trail (in the command's transaction when given it)."""
    event = audit.AuditEvent(action, audit.cli_actor(), None, subject, dict(detail))
    audit.write_sync(conn, [event])


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.detail}", err=True)
    raise typer.Exit(code=1)


@app.command("migrate")
def migrate_command(
    create: Annotated[bool, typer.Option(help="Create the database first if missing.")] = True,
) -> None:
    """Apply new schema migrations and re-apply the SQL functions."""
    settings = load_settings()
    try:
        if create and create_database(settings.database_url):
            typer.echo("created the database")
        ran = migrate(settings.database_url, settings.sql_dir)
        if settings.service_db_password is not None:
            set_service_password(settings.database_url, settings.service_db_password)
    except DomainError as error:
        _fail(error)
    typer.echo(f"applied: {', '.join(ran) or 'nothing'}")


@app.command("sample")
def sample_command(
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same jurisdiction.")] = 1,
    scale: Annotated[
        str, typer.Option(help="small (one town) or large (benchmark data).")
    ] = "small",
    out: Annotated[Path | None, typer.Option(help="Folder to write to.")] = None,
) -> None:
    """Write the deterministic sample jurisdiction as a GeoPackage."""
    from geo_service.sample import generate_sample

    if scale not in ("small", "large"):
        typer.echo(f"error: --scale must be small or large, not {scale!r}", err=True)
        raise typer.Exit(code=2)
    size: Literal["small", "large"] = "small" if scale == "small" else "large"
    target = out or load_settings().data_dir
    path = generate_sample(
        target, seed=seed, scale=size, progress=sys.stderr.isatty() or size == "large"
    )
    typer.echo(str(path))


@app.command("load")
def load_command(
    path: Annotated[Path, typer.Argument(help="GeoPackage in the sample's layer layout.")],
    if_empty: Annotated[bool, typer.Option(help="Only load into an empty database.")] = False,
) -> None:
    """Load a jurisdiction GeoPackage into the database (one transaction)."""
    from geo_service.ingest.load import database_is_empty, load_jurisdiction

    settings = load_settings()
    try:
        with connect(settings.database_url) as conn:
            if if_empty and not database_is_empty(conn):
                typer.echo("the database already holds a jurisdiction; not loading")
                return
            counts = load_jurisdiction(conn, path, progress=True)
            _audit(conn, "import", "jurisdiction", source_file=str(path), counts=counts)
    except DomainError as error:
        _fail(error)
    typer.echo(", ".join(f"{layer}: {n}" for layer, n in counts.items()))


@app.command("import")
def import_command(
    path: Annotated[
        Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile (folder/.zip), KML or CSV.")
    ],
    layer: Annotated[str, typer.Option(help="Layer of the model: grid, village, camera, ...")],
    crs: Annotated[
        str | None, typer.Option(help="CRS if the file has none or a wrong one: EPSG:…, gcj02.")
    ] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field=column: read a field from a column.")
    ] = None,
    source_layer: Annotated[
        str | None, typer.Option(help="Layer inside a GeoPackage/zip/folder to read.")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="replace (codes absent from the file go) or upsert.")
    ] = "replace",
    dry_run: Annotated[bool, typer.Option(help="Check and report; change nothing.")] = False,
    strict: Annotated[bool, typer.Option(help="Refuse repairs, gaps and overlaps.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import one layer from a file (one transaction; a refused file changes nothing)."""
    import orjson

    from geo_service.ingest.imports import import_layer, parse_mapping, report_text

    settings = load_settings()
    try:
        with connect(settings.database_url) as conn:
            report = import_layer(
                conn,
                path,
                layer=layer,
                crs=crs,
                mapping=parse_mapping(map_),
                source_layer=source_layer,
                mode=mode,
                dry_run=dry_run,
                strict=strict,
                sliver_m2=settings.import_sliver_m2,
                display=str(path),
                progress=True,
            )
            data = report.to_dict()
            detail = {k: data.get(k) for k in ("source_file", "mode", "dry_run", "counts")}
            _audit(conn, "import", layer, **detail)  # committed with the import
    except DomainError as error:
        refused = error.extra.get("report")
        if refused and json:
            typer.echo(orjson.dumps(refused, option=orjson.OPT_INDENT_2).decode())
        elif refused:
            typer.echo(report_text(refused), err=True)
        _fail(error)
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() if json else report_text(data)
    typer.echo(text)


@app.command("export")
def export_command(
    layer: Annotated[str, typer.Option(help="Layer: grid, beat, incident, person, ...")],
    format: Annotated[str, typer.Option(help="geojson, gpkg, shp (zip), csv or kml.")] = "gpkg",
    at: Annotated[
        str | None, typer.Option(help="Beats/assignments in force then (ISO 8601).")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Beats of this plan.")] = None,
    crs: Annotated[str | None, typer.Option(help="EPSG:4326 (default), EPSG:…, gcj02.")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write; default ./LAYER.EXT")] = None,
) -> None:
    """Export a layer with the columns of the layer contract (the sample GeoPackage's)."""
    from geo_service.moments import parse_moment
    from geo_service.services.export import (
        export_filename,
        export_to_file,
        get_format,
        parse_output_crs,
    )
    from geo_service.services.layers import get_layer

    settings = load_settings()
    try:
        spec = get_layer(layer)
        fmt = get_format(format, spec)
        path = out or Path(export_filename(spec, fmt, plan=plan))
        written = export_to_file(
            settings.database_url,
            layer=spec,
            fmt=fmt,
            path=path,
            at=parse_moment(at) if at else None,
            plan=plan,
            crs=parse_output_crs(crs),
        )
        with connect(settings.database_url) as conn:
            _audit(conn, "export", spec.name, format=fmt.name, at=at, plan=plan, crs=crs)
    except DomainError as error:
        _fail(error)
    typer.echo(str(written))


@app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="File to write (pg_dump custom format).")],
) -> None:
    """Back up the whole database to a file (pg_dump custom format), with its schema version."""
    from geo_service.backup import backup

    try:
        migrations = backup(load_settings().database_url, path)
    except DomainError as error:
        _fail(error)
    size = path.stat().st_size / 1e6
    typer.echo(f"backed up to {path} ({size:.1f} MB), schema version {migrations[-1]}")


@app.command("restore")
def restore_command(
    path: Annotated[Path, typer.Argument(help="A file written by geo-service backup.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Drop a database that already holds tables and create it anew first."
        ),
    ] = False,
) -> None:
    """Restore a backup into the database (created when missing), then migrate.

    Refuses a backup made by a newer version of geo-service (unknown migrations), and a database
    that already holds tables unless --force.
    """
    from geo_service.backup import restore

    settings = load_settings()
    try:
        done = restore(settings.database_url, path, sql_dir=settings.sql_dir, force=force)
    except DomainError as error:
        _fail(error)
    typer.echo(
        f"restored {path}, schema version {done.migrations[-1]}; "
        f"newer migrations applied: {', '.join(done.applied) or 'none'}"
    )


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API, the OpenAPI docs (/docs) and the landing page; one line of JSON per
    request and per error on stderr."""
    import uvicorn

    from geo_service.logs import logging_config

    uvicorn.run(
        "geo_service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config("INFO"),  # applied in every worker
        access_log=False,  # RequestLog writes the request lines
        # a worker busy with 200 live streams answers the supervisor's ping late, not never
        timeout_worker_healthcheck=60,
    )


from geo_service.audit_cli import audit_app  # noqa: E402

app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(accounts_app, name="accounts")

if __name__ == "__main__":
    app()
