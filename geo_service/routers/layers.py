"""Layer downloads: GET /api/v1/layers/{layer}.{format} (GeoJSON, GPKG, Shapefile zip, CSV, KML)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from geo_service import audit
from geo_service.accounts.access import BUSINESS, allow
from geo_service.accounts.deps import Connection
from geo_service.moments import parse_moment
from geo_service.routers.params import OutputCrsQuery, PlanQuery
from geo_service.services.export import (
    FORMATS,
    export_filename,
    export_layer,
    get_format,
    parse_output_crs,
)
from geo_service.services.layers import LAYERS, get_layer

router = APIRouter(prefix="/api/v1", tags=["layers"], dependencies=[allow(BUSINESS)])

AT_DOC = (
    "ISO 8601 moment (station time without an offset): beats and beat grids of the plan in "
    "force then, assignments in force then. Default: every plan, the whole history."
)


@router.get(
    "/layers/{layer}.{format}",
    summary="Download a layer",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The layer as a file",
            "content": {
                f.media_type: {"schema": {"type": "string", "format": "binary"}}
                for f in FORMATS.values()
            },
        },
        404: {"description": "Unknown layer, or a format the layer has not"},
    },
)
async def download_layer(
    request: Request,
    conn: Connection,
    layer: Annotated[str, Path(description=f"One of: {', '.join(LAYERS)}")],
    format: Annotated[str, Path(description=f"One of: {', '.join(FORMATS)}")],
    at: Annotated[str | None, Query(description=AT_DOC)] = None,
    plan: PlanQuery = None,
    crs: OutputCrsQuery = None,
) -> FileResponse:
    """The layer's features with exactly the columns of the layer contract (the sample
    GeoPackage's), ready for QGIS, GIS desktop software or a spreadsheet. Layers without geometry
    come as GeoJSON (null geometry), GeoPackage tables or CSV."""
    spec = get_layer(layer)
    fmt = get_format(format, spec)
    target = parse_output_crs(crs)
    moment = parse_moment(at) if at else None
    folder = FilePath(tempfile.mkdtemp(prefix="export_"))
    name = export_filename(spec, fmt, plan=plan)
    try:
        path = await export_layer(
            conn, layer=spec, fmt=fmt, path=folder / name, at=moment, plan=plan, crs=target
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    audit.record(request, "download", spec.name, format=fmt.name, at=at, plan=plan, crs=crs)
    return FileResponse(
        path,
        media_type=fmt.media_type,
        filename=name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
