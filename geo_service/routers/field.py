"""Work in the field (issue 14): inspections, sweeps, dusk patrols and reports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import Json

from geo_service import audit
from geo_service.accounts.access import (
    FIELD,
    FIELD_READ,
    PATROL_MARK,
    REPORT_ANSWER,
    REPORT_MAKE,
    REPORT_SEE,
    SWEEP_OPEN,
    SWEEP_READ,
    WATER,
    allow,
)
from geo_service.accounts.deps import Connection
from geo_service.errors import InvalidParameter, PayloadTooLarge
from geo_service.moments import STATION_TZ, parse_moment
from geo_service.routers.params import AppSettings, AtQuery
from geo_service.schemas.field import (
    Department,
    InspectionHistory,
    InspectionIn,
    InspectionOut,
    PatrolMark,
    PatrolTable,
    ReportIn,
    ReportOut,
    StepIn,
    SweepDetail,
    SweepIn,
    SweepSummary,
    ThingKind,
)
from geo_service.services.field import (
    departments,
    inspection_history,
    inspection_photo,
    make_report,
    mark_patrol,
    open_sweep,
    patrol_days,
    record_inspection,
    report,
    report_photo,
    report_step,
    reports,
    sweep_detail,
    sweeps,
    unmark_patrol,
)
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


# --------------------------------------------------------------------------- sweeps (梳网清格)


@router.post(
    "/sweeps",
    summary="Open a sweep (梳网清格)",
    status_code=201,
    response_model=SweepSummary,
    dependencies=[allow(SWEEP_OPEN)],
    responses={
        403: {"description": "A grid outside your beats (community officer)"},
        404: {"description": "An unknown grid or village code"},
    },
)
async def post_sweep(request: Request, conn: Connection, sweep: SweepIn) -> JSONResponse:
    """Open a sweep over grids (or every grid of villages) for a period: its targets are the
    rental houses, water markers and cameras (as asked) whose grid is one of them; each is done
    when an inspection of it is recorded within the period."""
    answer = await open_sweep(conn, sweep=sweep, at=datetime.now(UTC))
    audit.record(
        request,
        "sweep_open",
        f"sweep {answer['id']}",
        name=sweep.name,
        grids=len(answer["grids"]),
        targets=answer["targets"],
    )
    return JSONResponse(answer, status_code=201)


@router.get(
    "/sweeps",
    summary="Sweeps and their progress",
    response_model=list[SweepSummary],
    dependencies=[allow(SWEEP_READ)],
)
async def get_sweeps(conn: Connection, at: AtQuery = None) -> JSONResponse:
    """Every sweep you see (a grid worker: those covering their grids), newest first, with its
    status and the counts of its targets done at ``at`` (default now)."""
    return JSONResponse(await sweeps(conn, at=parse_moment(at)))


@router.get(
    "/sweeps/{sweep_id}",
    summary="A sweep's progress per grid and person, overdue targets and map",
    response_model=SweepDetail,
    dependencies=[allow(SWEEP_READ)],
    responses={403: {"description": "The sweep covers none of your grids"}},
)
async def get_sweep(
    conn: Connection,
    sweep_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    at: AtQuery = None,
) -> JSONResponse:
    """Progress per grid and per grid worker, who did the inspections, the targets overdue
    (not done when the period ended) and a GeoJSON map of the targets done and not done."""
    return JSONResponse(await sweep_detail(conn, sweep_id=sweep_id, at=parse_moment(at)))


# ---------------------------------------------------------------- dusk patrols (傍晚巡河)

SUMMER = ((6, 1), (8, 31))  # the summer months: June to August


@router.get(
    "/water/patrols",
    summary="Dusk shore patrols per day of the summer months",
    response_model=PatrolTable,
    dependencies=[allow(WATER)],
)
async def get_patrols(
    conn: Connection,
    year: Annotated[
        int | None, Query(ge=2000, le=2199, description="Default: this year (station time)")
    ] = None,
) -> JSONResponse:
    """For each day of June to August of ``year`` up to today, the waters marked for patrol
    that had an evening check-in (16:00 to midnight, station time) and those that had none."""
    now = datetime.now(UTC)
    year = year or now.astimezone(STATION_TZ).year
    (m1, d1), (m2, d2) = SUMMER
    answer = await patrol_days(
        conn, first_day=date(year, m1, d1), last_day=date(year, m2, d2), at=now
    )
    return JSONResponse(answer)


WaterCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="The water body's code",
    ),
]
PATROL_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The water is outside your beats (problem+json naming your areas)"},
    404: {"description": "No water body with this code (problem+json, parameter code)"},
}


@router.put(
    "/water/patrols/{code}",
    summary="Mark a water for dusk patrol (傍晚巡河)",
    status_code=201,
    response_model=PatrolMark,
    dependencies=[allow(PATROL_MARK)],
    responses={
        200: {"model": PatrolMark, "description": "Marked already: the mark as it was"},
        **PATROL_REFUSALS,
    },
)
async def put_patrol(request: Request, conn: Connection, code: WaterCode) -> JSONResponse:
    """Put a water body on the list of waters walked at dusk in the summer months (the patrol
    table and the water map's dusk layer show it). A planner or leader marks any water, a
    community officer those meeting their beats' grids. Marking it again changes nothing and
    answers 200 with the mark as it was."""
    created, answer = await mark_patrol(conn, code=code)
    audit.record(request, "patrol_mark", f"water_body {code}", created=created)
    return JSONResponse(answer, status_code=201 if created else 200)


@router.delete(
    "/water/patrols/{code}",
    summary="Take a water off the dusk patrol list",
    status_code=204,
    response_class=Response,
    dependencies=[allow(PATROL_MARK)],
    responses=PATROL_REFUSALS,
)
async def delete_patrol(request: Request, conn: Connection, code: WaterCode) -> Response:
    """Take a water body off the dusk patrol list (204 whether or not it was on it): its mark
    ends now and is kept, so the patrol table still counts the days it was marked; its
    check-ins are kept. Marking it again opens a new mark."""
    removed = await unmark_patrol(conn, code=code)
    audit.record(request, "patrol_unmark", f"water_body {code}", removed=removed)
    return Response(status_code=204)


# ---------------------------------------------------------------- reports (网格吹哨)

REPORT_DOC = (
    "The report as JSON (schema ReportIn): client_id, category, note, reported_at, lon, lat"
)
ReportId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/reports",
    summary="Blow the whistle: report a hazard, dispute or problem (网格吹哨)",
    status_code=201,
    response_model=ReportOut,
    dependencies=[allow(REPORT_MAKE)],
    responses={
        200: {"model": ReportOut, "description": "Sent before (same client_id): as stored"},
        403: {"description": "The place is outside your areas (problem+json naming them)"},
        413: {"description": "A photo or the request is over the size limit"},
    },
)
async def post_report(
    request: Request,
    conn: Connection,
    settings: AppSettings,
    report: Annotated[Json[ReportIn], Form(description=REPORT_DOC)],
    photos: Annotated[list[UploadFile] | None, File(description=PHOTOS_DOC)] = None,
) -> JSONResponse:
    """Store a report at a place in your areas, routed to the department of its category (the
    station, a town department or the response team); it appears in the command room's live
    stream. multipart/form-data like an inspection: ``report`` is JSON, ``photos`` repeat."""
    cleaned = await read_photos(photos or [], settings)
    created, stored = await make_report(conn, report=report, photos=cleaned)
    audit.record(
        request,
        "report",
        f"report {stored['id']}",
        category=report.category,
        department=stored["department"]["code"],
        created=created,
        photos=len(cleaned),
    )
    return JSONResponse(stored, status_code=201 if created else 200)


@router.get(
    "/reports",
    summary="Reports and their status",
    response_model=list[ReportOut],
    dependencies=[allow(REPORT_SEE)],
)
async def get_reports(
    conn: Connection,
    status: Annotated[Literal["open", "accepted", "closed"] | None, Query()] = None,
    department: Annotated[
        str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$", description="Department code")
    ] = None,
    mine: Annotated[bool, Query(description="Only the reports you made")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> JSONResponse:
    """Reports newest first with their department, status and timeline: every report for the
    command room, leaders, planners and community officers; a grid worker or volunteer sees the
    reports they made, a department user those routed to their department."""
    return JSONResponse(
        await reports(conn, status=status, department=department, mine=mine, limit=limit)
    )


@router.get(
    "/reports/{report_id}",
    summary="A report, its department, status and timeline",
    response_model=ReportOut,
    dependencies=[allow(REPORT_SEE)],
)
async def get_report(conn: Connection, report_id: ReportId) -> JSONResponse:
    """One report (a grid worker or volunteer: one they made; a department user: one routed to
    their department, 404 for another's)."""
    return JSONResponse(await report(conn, report_id=report_id))


@router.post(
    "/reports/{report_id}/steps",
    summary="A department's answer to a report: accept, close or note (部门报到)",
    response_model=ReportOut,
    dependencies=[allow(REPORT_ANSWER)],
    responses={
        404: {"description": "No report of that id that you see (a department: routed to it)"},
        409: {
            "description": "A step that does not follow the report's status (names `allowed`), "
            "or a client_id sent before with another report's step"
        },
        422: {"description": "A time outside the report's life (before it was made, or ahead)"},
    },
)
async def post_report_step(
    request: Request, conn: Connection, report_id: ReportId, step: StepIn
) -> JSONResponse:
    """Record, as the department's own user (their department's reports only: another's is 404)
    or for it, that the department accepted the report (open → accepted), closed it (→ closed,
    with what was done) or a note; appended to its timeline and the command room's log. The
    same ``client_id`` again stores nothing and answers the report as it is (200 even when the
    step no longer fits its status)."""
    created, answer = await report_step(conn, report_id=report_id, step=step, at=datetime.now(UTC))
    audit.record(
        request,
        "report_step",
        f"report {report_id}",
        step=step.kind,
        status=answer["status"],
        created=created,
    )
    return JSONResponse(answer)


@router.get(
    "/reports/{report_id}/photos/{n}",
    summary="A photo of a report",
    response_class=Response,
    dependencies=[allow(REPORT_SEE)],
    responses={200: {"content": PHOTO_CONTENT, "description": "The photo"}},
)
async def get_report_photo(
    conn: Connection, report_id: ReportId, n: Annotated[int, Path(ge=1, le=MAX_PHOTOS)]
) -> Response:
    """The photo as stored (its location data taken out when it was received)."""
    media_type, data = await report_photo(conn, report_id=report_id, n=n)
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/departments",
    summary="Departments and the categories of report routed to them",
    response_model=list[Department],
    dependencies=[allow(REPORT_SEE)],
)
async def get_departments(conn: Connection) -> JSONResponse:
    """The station, the town's departments and the response team, each with its categories."""
    return JSONResponse(await departments(conn))
