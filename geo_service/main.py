"""create_app(settings) builds the service; its lifespan opens and closes the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount

from geo_service.accounts.contract import declare_access
from geo_service.accounts.gate import (
    PrivateAnswers,
    login_url,
    require_access_declarations,
    second_factor_roles,
    wants_page,
)
from geo_service.audit import AuditBatch
from geo_service.body_limit import BodyLimit
from geo_service.db import make_pool
from geo_service.errors import DatabaseUnavailable, DomainError, problem, status_of
from geo_service.logs import RequestLog, log, request_id
from geo_service.maps.assets import FOLIUM, FOLIUM_TEMPLATES, NPM
from geo_service.openapi import document_contract
from geo_service.routers import (
    admin,
    areas,
    audit,
    auth,
    cameras,
    department,
    desk,
    dispatch,
    field,
    health,
    imports,
    kpis,
    layers,
    lookup,
    maps,
    me,
    ogc,
    pages,
    patrol,
    plans,
    stream,
    tiles,
    water,
    workload,
)
from geo_service.schemas.problem import PROBLEM_MEDIA_TYPE as PROBLEM
from geo_service.services.stream import StreamHub
from geo_service.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app for these settings (tests pass their own)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(  # as the service's own role, bound by row-level security
            settings.app_database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
        )
        await pool.open(wait=False)
        app.state.pool = pool
        app.state.audit_batch = batch = AuditBatch(pool, interval=settings.audit_batch_seconds)
        batch.start()
        # the live map's hub: one LISTEN per worker, fanned out to its open streams
        app.state.stream_hub = hub = StreamHub(
            pool, settings.app_database_url, queue_max=settings.stream_queue_max
        )
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await batch.stop()
            await pool.close()

    app = FastAPI(
        title="Grid-and-beat map service (网格警格地图服务)",
        version=version("geo-service"),
        description="Who covers this point: village, grid, beat, officers, grid workers, "
        "cameras and rescue markers, as of any moment.",
        lifespan=lifespan,
        docs_url=None,  # served by routers/pages.py with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.second_factor_roles = second_factor_roles(settings)
    subjects = (health, lookup, areas, pages, maps, patrol, cameras, water, layers, ogc, tiles)
    command_room = (desk, dispatch, stream, kpis)  # issue 12
    planning = (plans, workload)  # issue 13
    in_the_field = (field, me, department)  # issue 14
    for subject in (
        *subjects,
        *command_room,
        *planning,
        *in_the_field,
        auth,
        admin,
        imports,
        audit,
    ):
        app.include_router(subject.router)  # one router module per subject
    app.mount("/static", StaticFiles(directory=settings.web_map_dir / "static"), name="static")
    swagger = settings.web_map_dir / "node_modules" / "swagger-ui-dist"
    if swagger.is_dir():  # installed by `make setup` (npm ci in web_map/)
        app.mount(pages.SWAGGER_UI, StaticFiles(directory=swagger), name="swagger-ui")
    node_modules = settings.web_map_dir / "node_modules"
    if node_modules.is_dir():  # npm packages the map pages name (maps/assets.py)
        app.mount(NPM, StaticFiles(directory=node_modules), name="npm")
    app.mount(FOLIUM, StaticFiles(directory=FOLIUM_TEMPLATES), name="folium-assets")
    _add_error_handlers(app)
    require_access_declarations(app)  # deny by default: a route that declares none is a bug
    # problem+json errors, 404/503 where true; OGC's page limit declared where QGIS reads it;
    # who may use each operation, and its 401 and 403
    document_contract(app, ogc.declare_limit, declare_access(app))
    app.add_middleware(PrivateAnswers)  # Cache-Control: private on every signed-in answer
    app.add_middleware(BodyLimit, settings=settings)  # 413 before a body is parsed
    app.add_middleware(RequestLog)  # request id, one log line per request, last-resort 500
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error leaves as application/problem+json; a failure of the service (5xx) is logged
    and its answer carries the request id. An exception nothing here handles is answered and
    logged with its traceback by RequestLog (geo_service/logs.py)."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        status = status_of(exc)
        if status == 401 and wants_page(request):  # a person at a browser: the login page
            return RedirectResponse(login_url(request), status_code=303)
        body = problem(exc)
        if status >= 500:
            body["request_id"] = request_id.get()
            if isinstance(exc, DatabaseUnavailable):  # the cause is enough: no traceback
                log.error("database unavailable: %s", exc.__cause__ or exc.detail)
            else:
                sqlstate = exc.extra.get("sqlstate")
                log.error(
                    "%s: %s",
                    type(exc).__name__,
                    exc.detail,
                    exc_info=exc,
                    extra={"sqlstate": sqlstate},
                )
        headers = {"WWW-Authenticate": 'Bearer realm="geo-service"'} if status == 401 else None
        return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        name = str(first.get("loc", ["", "request"])[-1])
        got = first.get("input")
        detail = f"Parameter '{name}': {first.get('msg', 'invalid')}" + (
            f" (got {got!r})" if got is not None and not isinstance(got, dict) else ""
        )
        body = {
            "type": "/problems/InvalidParameter",
            "title": "Invalid parameter",
            "status": 422,
            "detail": detail,
            "parameter": name,
            "errors": [
                {"parameter": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in errors
            ],
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
        }
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path answers, not the first route's only
            headers["Allow"] = allowed_methods(request)
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM, headers=headers)


def allowed_methods(request: Request) -> str:
    """The methods the app's routes answer at the request's path, for a 405's Allow header
    (Starlette names those of the first route whose path matches, and a path such as
    /api/v1/tokens has one route per method)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        route = context.route
        if isinstance(route, BaseRoute) and not isinstance(route, Mount):
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))
