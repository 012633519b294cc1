"""OGC API - Features Part 1 (Core, GeoJSON) under /ogc: for QGIS, GDAL's OAPIF driver, OWSLib."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from geo_service.accounts.access import BUSINESS, allow
from geo_service.accounts.deps import Connection
from geo_service.errors import InvalidParameter, NotFound
from geo_service.moments import MOMENT_PATTERN
from geo_service.services.export import FORMATS
from geo_service.services.ogc import (
    CONFORMANCE,
    CRS84,
    DEFAULT_LIMIT,
    GREGORIAN,
    LIMIT_BOUND,
    MAX_CURSOR,
    MAX_LIMIT,
    MAX_OFFSET,
    Collection,
    collection,
    collections,
    decode_cursor,
    encode_cursor,
    items,
    parse_bbox,
    parse_datetime,
    resolve,
)

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], dependencies=[allow(BUSINESS)])
ITEMS_PATH = "/ogc/collections/{collectionId}/items"


class Link(BaseModel):
    """A link of an OGC answer."""

    href: str
    rel: str
    type: str
    title: str | None = None


class LandingPage(BaseModel):
    """The landing page: title, description and links."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """The conformance classes implemented."""

    conformsTo: list[str]


class Extent(BaseModel):
    """A collection's spatial (CRS84) and, for events, temporal extent."""

    spatial: dict[str, Any] | None = None
    temporal: dict[str, Any] | None = None


class CollectionInfo(BaseModel):
    """One collection: a layer, or the beats of a plan."""

    id: str
    title: str
    description: str
    itemType: str
    crs: list[str]
    storageCrs: str
    extent: Extent
    links: list[Link]


class Collections(BaseModel):
    """Every collection."""

    links: list[Link]
    collections: list[CollectionInfo]


class Feature(BaseModel):
    """A GeoJSON feature; its id is the layer's code (a number for position fixes)."""

    model_config = ConfigDict(extra="allow")
    type: str = "Feature"
    id: str | int
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    """A page of features with its counts and links (next carries the cursor)."""

    type: str = "FeatureCollection"
    numberMatched: int = Field(description="Features that match the filters")
    numberReturned: int = Field(description="Features in this page")
    features: list[Feature]
    timeStamp: str
    links: list[Link]


JSON = "application/json"
GEOJSON = "application/geo+json"
F_DOC = "Output format: json (the only one; geojson is accepted too)."
F = Annotated[
    str | None,
    Query(
        description=F_DOC,
        json_schema_extra={"pattern": "^([jJ][sS][oO][nN]|[gG][eE][oO][jJ][sS][oO][nN])?$"},
    ),
]
# The documented shapes of the items parameters (what the service parses; a box whose west is
# east of its east, or an interval that runs backwards, is refused all the same).
_LON = r"-?(180(\.0{1,12})?|(1[0-7][0-9]|[0-9]{1,2})(\.[0-9]{1,12})?)"
_LAT = r"-?(90(\.0{1,12})?|[0-8]?[0-9](\.[0-9]{1,12})?)"
_HEIGHT = r"-?[0-9]{1,5}(\.[0-9]{1,6})?"
BBOX_PATTERN = rf"^({_LON},{_LAT},{_LON},{_LAT}|{_LON},{_LAT},{_HEIGHT},{_LON},{_LAT},{_HEIGHT})?$"
_INSTANT = MOMENT_PATTERN[1:-1]  # without its anchors
DATETIME_PATTERN = rf"^{_INSTANT}$|^({_INSTANT}|\.\.)/({_INSTANT}|\.\.)$"
CRS_PATTERN = rf"^({re.escape(CRS84)}|OGC:CRS84)?$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"


def _media(f: str | None, default: str) -> str:
    """The media type for the f parameter, or InvalidParameter naming f."""
    if f is None or f == "":
        return default
    if f.lower() in ("json", "geojson"):
        return default if f.lower() == "geojson" else JSON
    raise InvalidParameter(f"f must be json, got '{f}'", parameter="f")


CRS_DOC = f"Only {CRS84} (WGS 84 longitude/latitude), the default."


def _check_crs(value: str | None, name: str) -> None:
    """Only CRS84 is served (Part 2 is not implemented): anything else is InvalidParameter."""
    if value not in (None, "", CRS84, "OGC:CRS84"):
        raise InvalidParameter(
            f"{name} must be {CRS84} (the only CRS served), got '{value}'", parameter=name
        )


def _json(body: Any, media_type: str) -> Response:
    return Response(orjson.dumps(body), media_type=media_type)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


@router.get(
    "",
    summary="Landing page",
    response_class=Response,
    responses={200: {"model": LandingPage, "content": {JSON: {}}}},
)
async def landing_page(request: Request, f: F = None) -> Response:
    """Links to the API definition, the conformance classes and the collections."""
    media = _media(f, JSON)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return _json(
        {
            "title": "Grid-and-beat map service (网格警格地图服务)",
            "description": "The station's villages, grids, beats, water, markers, rental houses, "
            "cameras, places, roads, incidents and patrol fixes as OGC API - Features.",
            "links": [
                _link(base, "self", JSON, "This document"),
                _link(f"{root}/openapi.json", "service-desc", "application/vnd.oai.openapi+json"),
                _link(f"{root}/docs", "service-doc", "text/html", "API documentation"),
                _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
                _link(f"{base}/collections", "data", JSON, "Collections"),
            ],
        },
        media,
    )


@router.get(
    "/conformance",
    summary="Conformance classes",
    response_class=Response,
    responses={200: {"model": Conformance, "content": {JSON: {}}}},
)
async def conformance(f: F = None) -> Response:
    """The conformance classes implemented: Core and GeoJSON."""
    return _json({"conformsTo": list(CONFORMANCE)}, _media(f, JSON))


def _collection_json(request: Request, item: Collection) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{item.id}"
    root = str(request.base_url).rstrip("/")
    extent: dict[str, Any] = {}
    if item.bbox:
        extent["spatial"] = {"bbox": [item.bbox], "crs": CRS84}
    if item.interval:
        extent["temporal"] = {"interval": [item.interval], "trs": GREGORIAN}
    plan = f"?plan={item.id.removeprefix('beat_')}" if item.id.startswith("beat_") else ""
    downloads = [
        _link(
            f"{root}/api/v1/layers/{item.layer.name}.{fmt.name}{plan}",
            "enclosure",
            fmt.media_type,
            f"{item.layer.name} as {fmt.name}",
        )
        for fmt in FORMATS.values()
    ]
    return {
        "id": item.id,
        "title": item.title,
        "description": f"{item.title}; properties: {', '.join(item.layer.columns)}.",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            _link(base, "self", JSON, item.title),
            _link(f"{base}/items", "items", GEOJSON, "Features"),
            *downloads,
        ],
    }


@router.get(
    "/collections",
    summary="Collections",
    response_class=Response,
    responses={200: {"model": Collections, "content": {JSON: {}}}},
)
async def list_collections(request: Request, conn: Connection, f: F = None) -> Response:
    """One collection per spatial layer, and `beat_<plan>` for each published beat plan
    (`beat` is the plan in force now)."""
    media = _media(f, JSON)
    found = await collections(conn)
    base = _base(request)
    return _json(
        {
            "links": [_link(f"{base}/collections", "self", JSON, "Collections")],
            "collections": [_collection_json(request, c) for c in found],
        },
        media,
    )


CollectionId = Annotated[str, Path(description="Collection id, e.g. grid, incident, beat_2026")]


@router.get(
    "/collections/{collectionId}",
    summary="One collection",
    response_class=Response,
    responses={200: {"model": CollectionInfo, "content": {JSON: {}}}},
)
async def describe_collection(
    request: Request, conn: Connection, collectionId: CollectionId, f: F = None
) -> Response:
    """A collection's extent and links."""
    media = _media(f, JSON)
    return _json(_collection_json(request, await collection(conn, collectionId)), media)


LIMIT_DOC = (
    f"Page size: 1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}; a larger value (up to "
    f"{LIMIT_BOUND:,}) gets pages of {MAX_LIMIT}."
)
OFFSET_DOC = (
    f"Features to skip, 0 to {MAX_OFFSET:,} (kept for compatibility: a deep offset reads every "
    "feature it skips; the `next` link pages by cursor instead)."
)
CURSOR_DOC = (
    "Where the page starts: the opaque token of a page's `next` link (the key of the last "
    "feature seen). Every page costs the same, however deep."
)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    response_class=Response,
    responses={200: {"model": FeatureCollection, "content": {GEOJSON: {}}}},
)
async def collection_items(
    request: Request,
    conn: Connection,
    collectionId: CollectionId,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="minLon,minLat,maxLon,maxLat (CRS84): features that intersect it",
            json_schema_extra={"pattern": BBOX_PATTERN},
        ),
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=100,
            description="Instant or interval start/end ('..' open) for incident, position_fix",
            json_schema_extra={"pattern": DATETIME_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_BOUND, description=LIMIT_DOC)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description=OFFSET_DOC)] = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            description=CURSOR_DOC,
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(alias="bbox-crs", description=CRS_DOC, json_schema_extra={"pattern": CRS_PATTERN}),
    ] = None,
    crs: Annotated[
        str | None, Query(description=CRS_DOC, json_schema_extra={"pattern": CRS_PATTERN})
    ] = None,
    f: F = None,
) -> Response:
    """A page of features as GeoJSON with numberMatched, numberReturned and a `next` link that
    carries a cursor (key paging); `offset` is accepted too."""
    media = _media(f, GEOJSON)
    _check_crs(bbox_crs, "bbox-crs")
    _check_crs(crs, "crs")
    box = parse_bbox(bbox)
    time_from, time_to = parse_datetime(datetime_)
    limit = min(limit, MAX_LIMIT)
    layer, plan_id = await resolve(conn, collectionId)
    after = decode_cursor(cursor, layer=layer)
    page = await items(
        conn,
        layer=layer,
        plan_id=plan_id,
        bbox=box,
        time_from=time_from,
        time_to=time_to,
        limit=limit,
        offset=offset,
        after=after,
    )
    url = request.url
    links = [
        _link(str(url), "self", media, "This page"),
        _link(str(url.include_query_params(f="json")), "alternate", JSON, "This page as JSON"),
        _link(f"{_base(request)}/collections/{collectionId}", "collection", JSON, "Collection"),
    ]
    if page.more and page.last_id is not None:
        # the next page starts after this one's last feature, by key (no offset)
        next_url = url.remove_query_params("offset").include_query_params(
            cursor=encode_cursor(page.last_id), limit=limit
        )
        links.append(_link(str(next_url), "next", media, "Next page"))
    if offset > 0 and after is None:
        prev_url = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(_link(str(prev_url), "prev", media, "Previous page"))
    answer = {
        **page.collection,
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    return _json(answer, media)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=Response,
    responses={200: {"model": Feature, "content": {GEOJSON: {}}}},
)
async def collection_item(
    request: Request,
    conn: Connection,
    collectionId: CollectionId,
    featureId: Annotated[
        str,
        Path(
            description="Feature id: its code (call number for "
            "incidents, a number for position fixes)"
        ),
    ],
    f: F = None,
) -> Response:
    """One feature as GeoJSON."""
    media = _media(f, GEOJSON)
    layer, plan_id = await resolve(conn, collectionId)
    page = await items(conn, layer=layer, plan_id=plan_id, limit=1, feature_id=featureId)
    if page.returned == 0:
        raise NotFound(
            f"There is no feature '{featureId}' in collection {collectionId}.",
            parameter="featureId",
        )
    feature = page.features[0]
    base = f"{_base(request)}/collections/{collectionId}"
    feature["links"] = [
        _link(str(request.url), "self", media, "This feature"),
        _link(base, "collection", JSON, "Collection"),
    ]
    return _json(feature, media)


# HEAD answers as GET does, without the body (clients check a resource before reading it).
for _route in [r for r in router.routes if isinstance(r, APIRoute)]:
    router.add_api_route(
        _route.path.removeprefix(router.prefix),
        _route.endpoint,
        methods=["HEAD"],
        name=f"{_route.name}_head",
        summary=f"{_route.summary} (headers only)",
        response_class=Response,
    )


def declare_limit(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with `limit` declared once in components.parameters and referred to
    by the items operation: QGIS and GDAL read the page size they may ask for from there."""
    components = document.setdefault("components", {})
    components.setdefault("parameters", {})["limit"] = {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": LIMIT_DOC,
        "style": "form",
        "explode": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    }
    reference = {"$ref": "#/components/parameters/limit"}
    for operation in document.get("paths", {}).get(ITEMS_PATH, {}).values():
        operation["parameters"] = [
            reference if p.get("name") == "limit" or p == reference else p
            for p in operation.get("parameters", [])
        ]
    return document
