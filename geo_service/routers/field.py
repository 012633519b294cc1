"""Work in the field (issue 14): inspections, sweeps, dusk patrols and reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import Json

from geo_service import audit
from geo_service.accounts.access import FIELD, FIELD_READ, allow
from geo_service.accounts.deps import Connection
from geo_service.errors import InvalidParameter, PayloadTooLarge
from geo_service.routers.params import AppSettings
from geo_service.schemas.field import InspectionHistory, InspectionIn, InspectionOut, ThingKind
from geo_service.services.field import inspection_history, inspection_photo, record_inspection
from geo_service.services.photos import Photo, clean_photo
from geo_service.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["field"])

MAX_PHOTOS = 3
INSPECTION_DOC = (
    "The inspection as JSON (schema InspectionIn): client_id, kind, code, inspected_at, result, "
    "items (rental houses), fix_what and fix_by (on fail), note, lon/lat/accuracy_m, poles "
    "(water bodies)"
)
PHOTOS_DOC = "Up to three photos, JPEG or PNG (checked by content), each at most PHOTO_MAX_BYTES"
BINARY = {"schema": {"type": "string", "format": "binary"}}
PHOTO_CONTENT = {"image/jpeg": BINARY, "image/png": BINARY}
CodePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


async def read_photos(files: list[UploadFile], settings: Settings) -> list[Photo]:
    """The uploaded photos checked and stripped of their location (at most three)."""
    if len(files) > MAX_PHOTOS:
        raise InvalidParameter(
            f"{len(files)} photos sent; at most {MAX_PHOTOS} are accepted", parameter="photos"
        )
    photos = []
    for number, upload in enumerate(files, start=1):
        if upload.size is not None and upload.size > settings.photo_max_bytes:
            raise PayloadTooLarge(
                f"photo {number} ({upload.filename}) is {upload.size} bytes; at most "
                f"{settings.photo_max_bytes} are accepted",
                parameter="photos",
            )
        raw = await upload.read()
        label = f"photo {number} ({upload.filename})" if upload.filename else f"photo {number}"
        photos.append(clean_photo(raw, max_bytes=settings.photo_max_bytes, label=label))
    return photos


def check_length(request: Request, settings: Settings) -> None:
    """413 for a request body declared larger than three photos and a form can be."""
    limit = MAX_PHOTOS * settings.photo_max_bytes + 256 * 1024
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request is {declared} bytes; at most {limit} are accepted")


@router.post(
    "/inspections",
    summary="Record an inspection (or a dusk patrol check-in) with photos",
    status_code=201,
    response_model=InspectionOut,
    dependencies=[allow(FIELD)],
    responses={
        200: {"model": InspectionOut, "description": "Sent before (same client_id): as stored"},
        403: {"description": "The thing is outside your areas (problem+json naming them)"},
        404: {"description": "No such thing (problem+json, parameter code)"},
        413: {"description": "A photo or the request is over the size limit"},
    },
)
async def post_inspection(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    inspection: Annotated[Json[InspectionIn], Form(description=INSPECTION_DOC)],
    photos: Annotated[list[UploadFile] | None, File(description=PHOTOS_DOC)] = None,
) -> JSONResponse:
    """Store what was found at a water marker, rental house, camera or water body, and move the
    thing's status with it (a pole found missing is no longer working). multipart/form-data:
    the ``inspection`` part is JSON, ``photos`` repeat. Sending the same ``client_id`` again
    stores nothing more and answers 200 with what was stored."""
    check_length(request, settings)
    cleaned = await read_photos(photos or [], settings)
    created, stored = await record_inspection(conn, inspection=inspection, photos=cleaned)
    audit.record(
        request,
        "inspection",
        f"{inspection.kind} {inspection.code}",
        id=stored["id"],
        result=inspection.result,
        created=created,
        photos=len(cleaned),
        poles=len(inspection.poles),
    )
    return JSONResponse(stored, status_code=201 if created else 200)


@router.get(
    "/{kind}/{code}/inspections",
    summary="A thing's current state and its inspections",
    response_model=InspectionHistory,
    dependencies=[allow(FIELD_READ)],
    responses={403: {"description": "The thing is outside your areas"}},
)
async def get_inspections(
    conn: Connection,
    kind: ThingKind,
    code: CodePath,
    limit: Annotated[int, Query(ge=1, le=1000, description="Newest first, at most")] = 100,
) -> JSONResponse:
    """A water marker's, rental house's, camera's or water body's current status and last
    inspection, and its inspections newest first (history is kept, never overwritten)."""
    return JSONResponse(await inspection_history(conn, kind=kind, code=code, limit=limit))


@router.get(
    "/inspections/{inspection_id}/photos/{n}",
    summary="A photo of an inspection",
    response_class=Response,
    dependencies=[allow(FIELD_READ)],
    responses={200: {"content": PHOTO_CONTENT, "description": "The photo"}},
)
async def get_inspection_photo(
    conn: Connection,
    inspection_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    n: Annotated[int, Path(ge=1, le=MAX_PHOTOS)],
) -> Response:
    """The photo as stored (its location data taken out when it was received)."""
    media_type, data = await inspection_photo(conn, inspection_id=inspection_id, n=n)
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
