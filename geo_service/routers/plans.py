"""Beat plans (issue 13): drafts, edits, diff, publication and the planner's page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import iter_route_contexts

from geo_service import audit
from geo_service.accounts.access import PLANNING, PLANNING_READ, PUBLISH, allow
from geo_service.accounts.deps import Caller, Connection
from geo_service.moments import parse_moment
from geo_service.routers.params import LangQuery
from geo_service.schemas.plans import (
    BeatChanges,
    Edited,
    GridMoves,
    Locks,
    MovesDone,
    PlanCreate,
    PlanDiff,
    PlanDocument,
    PlanOfficer,
    PlanSummary,
    Publication,
    PublishCheck,
    Published,
)
from geo_service.services import plans
from geo_service.web.plans import plan_words
from geo_service.web.render import render_page

router = APIRouter(tags=["planning"])

PlanCode = Annotated[str, Path(max_length=64, description="Beat plan code, e.g. 2027-draft")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No plan has that code"}}
EDIT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {
        "description": "The plan changed since the version given (with the changes made "
        "meanwhile), is published, or what the edit touches is locked or not empty"
    },
    422: {"description": "The request names a grid, beat or person that does not exist"},
}


@router.post(
    "/api/v1/plans",
    summary="Make a draft beat plan from a plan (default: the one in force)",
    status_code=201,
    response_model=PlanDocument,
    dependencies=[allow(PLANNING)],
    responses={
        404: {"description": "No plan has the source code, or none is in force"},
        409: {"description": "A plan already has that code"},
    },
)
async def create_plan(request: Request, conn: Connection, body: PlanCreate) -> dict[str, Any]:
    """A draft (version 1) with the source plan's beats, their grids, community officers and
    locks."""
    made = await plans.create_plan(conn, code=body.code, name=body.name, source=body.source)
    audit.record(request, "plan_create", body.code, based_on=made["based_on"])
    return await plans.plan_document(conn, code=body.code)


@router.get(
    "/api/v1/plans",
    summary="Every beat plan",
    response_model=list[PlanSummary],
    dependencies=[allow(PLANNING_READ)],
)
async def list_plans(conn: Connection) -> list[dict[str, Any]]:
    """Published plans (newest first) then drafts, with their versions and who made them."""
    return await plans.list_plans(conn)


@router.get(
    "/api/v1/plans/{code}",
    summary="One beat plan: its beats and their grids",
    response_model=PlanDocument,
    dependencies=[allow(PLANNING_READ)],
    responses=NOT_FOUND,
)
async def get_plan(conn: Connection, code: PlanCode) -> dict[str, Any]:
    """The plan's version, its beats (grids, lock, community officer), locked grids and the
    grids in none of its beats."""
    return await plans.plan_document(conn, code=code)


@router.get(
    "/api/v1/plans/{code}/officers",
    summary="The community officers a beat of the plan may be given",
    response_model=list[PlanOfficer],
    dependencies=[allow(PLANNING_READ)],
    responses=NOT_FOUND,
)
async def plan_officers(conn: Connection, code: PlanCode) -> list[dict[str, Any]]:
    """Every person whose role is community officer (the only ones a beat's officer may be),
    with the plan's beats each is the community officer of. Names only: no phones."""
    return await plans.plan_officers(conn, code=code)


@router.patch(
    "/api/v1/plans/{code}/grids",
    summary="Move grids between the beats of a draft",
    response_model=MovesDone,
    dependencies=[allow(PLANNING)],
    responses=EDIT,
)
async def move_grids(
    request: Request, conn: Connection, code: PlanCode, body: GridMoves
) -> dict[str, Any]:
    """All the moves or none, to the version they were based on: a stale version is 409 with
    the changes made since (two planners never overwrite each other silently)."""
    moves = [m.model_dump() for m in body.moves]
    done = await plans.move_grids(conn, code=code, version=body.version, moves=moves)
    if done["moved"]:
        audit.record(
            request,
            "plan_edit",
            code,
            kind="move",
            version=done["version"],
            grids=len(done["moved"]),
        )
    return done


@router.patch(
    "/api/v1/plans/{code}/beats",
    summary="Add, remove, rename beats of a draft, give them their community officer",
    response_model=Edited,
    dependencies=[allow(PLANNING)],
    responses=EDIT,
)
async def edit_beats(
    request: Request, conn: Connection, code: PlanCode, body: BeatChanges
) -> dict[str, Any]:
    """Changes in order, all or none: a removed beat must be empty (and unlocked)."""
    changes = [c.model_dump() for c in body.changes]
    done = await plans.edit_beats(conn, code=code, version=body.version, changes=changes)
    audit.record(
        request,
        "plan_edit",
        code,
        kind="beats",
        version=done["version"],
        changes=[f"{c['op']} {c['beat']}" for c in changes][:50],
    )
    return done


@router.patch(
    "/api/v1/plans/{code}/locks",
    summary="Lock or unlock grids and whole beats of a draft",
    response_model=Edited,
    dependencies=[allow(PLANNING)],
    responses=EDIT,
)
async def set_locks(
    request: Request, conn: Connection, code: PlanCode, body: Locks
) -> dict[str, Any]:
    """Moves and rebalancing leave locked grids, and every grid of a locked beat, in place."""
    done = await plans.set_locks(
        conn, code=code, version=body.version, grids=body.grids, beats=body.beats
    )
    audit.record(
        request,
        "plan_edit",
        code,
        kind="locks",
        version=done["version"],
        grids=len(body.grids),
        beats=len(body.beats),
    )
    return done


@router.get(
    "/api/v1/plans/{a}/diff/{b}",
    summary="What changes from plan a to plan b",
    response_model=PlanDiff,
    dependencies=[allow(PLANNING_READ)],
    responses={404: {"description": "No plan has one of the codes"}},
)
async def diff(
    conn: Connection,
    a: Annotated[str, Path(max_length=64, description="The plan before, e.g. 2026")],
    b: Annotated[str, Path(max_length=64, description="The plan after, e.g. 2027-draft")],
) -> dict[str, Any]:
    """Grids that move (from, to), beats whose outline changes, community officers and grid
    workers whose beat changes."""
    return await plans.plan_diff(conn, a=a, b=b)


@router.post(
    "/api/v1/plans/{code}/publish",
    summary="Publish a draft from a moment (a leader approves)",
    response_model=Published | PublishCheck,
    dependencies=[allow(PUBLISH)],
    responses={
        **NOT_FOUND,
        409: {"description": "The plan is published already, or changed since the version"},
        422: {"description": "Every problem that forbids publication, listed under `problems`"},
    },
)
async def publish(
    request: Request, conn: Connection, code: PlanCode, body: Publication
) -> dict[str, Any]:
    """Refused with every problem listed (grids in no beat, beats empty or not contiguous, a
    moment not after the start of the plan in force); a dry run lists them and changes
    nothing. Lookups at or after the moment answer with the new beats; incidents and fixes
    from then on are stamped with them."""
    start = parse_moment(body.effective_from, parameter="effective_from")
    done = await plans.publish_plan(
        conn, code=code, version=body.version, effective_from=start, dry_run=body.dry_run
    )
    if body.dry_run:
        return done
    audit.record(
        request,
        "plan_publish",
        code,
        effective_from=start.isoformat(),
        version=done["version"],
        restamped=done["restamped"],
    )
    return done


# ---------------------------------------------------------------------------------- pages


@router.get(
    "/plans",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(PLANNING_READ)],
)
async def plans_page(
    request: Request, conn: Connection, user: Caller, lang: LangQuery = "zh"
) -> HTMLResponse:
    """The beat plans, a link to each one's page, and (for planners) a new draft."""
    return render_page(
        request,
        "plans.html",
        lang=lang,
        pw=plan_words(request, lang),
        plans=await plans.list_plans(conn),
        can_edit=user.role in PLANNING,
    )


@router.get(
    "/plans/{code}/edit",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[allow(PLANNING_READ)],
)
async def plan_edit_page(
    request: Request, conn: Connection, user: Caller, code: PlanCode, lang: LangQuery = "zh"
) -> HTMLResponse:
    """The planner's page: grids coloured by beat, moves by click or brush, locks, undo and
    redo, each beat's workload, rebalance, the diff against the plan in force, publication.
    Read-only for a published plan and for those who may not edit."""
    document = await plans.plan_document(conn, code=code)
    listed = await plans.list_plans(conn)
    in_force = next((p["code"] for p in listed if p["in_force"]), None)
    words = plan_words(request, lang)
    served = {getattr(c.route, "path", "") for c in iter_route_contexts(request.app.routes)}
    page = {
        "code": code,
        "lang": lang,
        "in_force": in_force,
        "can_edit": user.role in PLANNING and document["status"] == "draft",
        "can_publish": user.role in PUBLISH and document["status"] == "draft",
        "words": words,
        # each beat's workload and the rebalance come with the balance work (routers/workload.py)
        "has_workload": "/api/v1/plans/{code}/workload" in served,
        "has_balance": "/api/v1/plans/{code}/balance" in served,
    }
    return render_page(request, "plan_edit.html", lang=lang, pw=words, plan=document, page=page)
