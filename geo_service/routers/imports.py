"""Layer imports over HTTP: a multipart upload, the same report as the command line."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from geo_service import audit
from geo_service.accounts.access import IMPORT, allow
from geo_service.accounts.deps import credential_of, enter_sync
from geo_service.accounts.principal import Via
from geo_service.db import connect
from geo_service.errors import InvalidParameter, PayloadTooLarge
from geo_service.ingest.imports import IMPORT_LAYERS, import_layer, parse_mapping
from geo_service.routers.params import AppSettings
from geo_service.schemas.imports import ImportReport
from geo_service.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["imports"], dependencies=[allow(IMPORT)])
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@router.post(
    "/imports",
    summary="Import one layer from an uploaded file",
    status_code=201,
    response_model=ImportReport,
    responses={
        200: {"model": ImportReport, "description": "Dry run: the report; nothing stored"},
        422: {"description": "Refused: problem+json with the report under `report`"},
        413: {"description": "The upload is over the size limit"},
    },
)
async def create_import(
    request: Request,
    settings: AppSettings,
    file: Annotated[
        UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile, KML or CSV")
    ],
    layer: Annotated[str, Form(description=f"Layer of the model: {', '.join(IMPORT_LAYERS)}")],
    crs: Annotated[str | None, Form(description="CRS when the file has none: EPSG:…")] = None,
    map: Annotated[list[str] | None, Form(description="field=column, repeatable")] = None,
    source_layer: Annotated[str | None, Form(description="Layer inside the file")] = None,
    mode: Annotated[str, Form(description="replace or upsert")] = "replace",
    dry_run: Annotated[bool, Form()] = False,
    strict: Annotated[bool, Form()] = False,
) -> JSONResponse:
    """Read, convert and check the file, and store the layer in one transaction; answers the
    report (counts, repairs, snapped slivers, warnings). A refused file changes nothing and
    answers 422 with the report."""
    limit = settings.import_max_bytes
    if file.size is not None and file.size > limit:
        raise PayloadTooLarge(f"The file is {file.size} bytes; at most {limit} are accepted")
    name = _UNSAFE.sub("_", Path(file.filename or "upload").name).lstrip(".") or "upload"
    mapping = parse_mapping(map)
    with tempfile.TemporaryDirectory(prefix="geo-import-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out)
        if path.stat().st_size > limit:
            raise PayloadTooLarge(f"The file passes {limit} bytes, the most accepted")
        if not path.stat().st_size:
            raise InvalidParameter("The uploaded file is empty", parameter="file")
        credential = credential_of(request)
        assert credential is not None  # allow(IMPORT) let only a signed-in user through
        report = await run_in_threadpool(
            _run,
            settings,
            credential,
            path,
            layer=layer,
            crs=crs,
            mapping=mapping,
            source_layer=source_layer,
            mode=mode,
            dry_run=dry_run,
            strict=strict,
            sliver_m2=settings.import_sliver_m2,
            display=name,
        )
    return JSONResponse(report, status_code=200 if dry_run else 201)


def _run(settings: Settings, credential: tuple[Via, str], path: Path, **options: object) -> dict:
    """One import on its own connection (a long transaction stays off the request pool), as the
    service's role in the user's context, audited in the import's own transaction."""
    with connect(settings.app_database_url) as conn:
        user = enter_sync(conn, settings, credential)
        report = import_layer(conn, path, **options).to_dict()  # type: ignore[arg-type]
        event = audit.AuditEvent(
            action="import",
            actor=user.name,
            role=str(user.role),
            subject=str(options["layer"]),
            detail={k: report.get(k) for k in ("source_file", "mode", "dry_run", "counts")},
        )
        audit.write_sync(conn, [event])
        return report
