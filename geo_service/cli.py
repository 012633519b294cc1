"""The geo-service command: migrate, make and load the sample, serve."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from geo_service.db import connect, create_database, migrate
from geo_service.errors import DomainError
from geo_service.settings import load_settings

app = typer.Typer(help="Grid-and-beat map service.", no_args_is_help=True, add_completion=False)


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
    from geo_service.ingest.sample import generate_sample

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
    except DomainError as error:
        _fail(error)
    typer.echo(", ".join(f"{layer}: {n}" for layer, n in counts.items()))


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API, the OpenAPI docs (/docs) and the landing page."""
    import uvicorn

    uvicorn.run(
        "geo_service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


if __name__ == "__main__":
    app()
