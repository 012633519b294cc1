"""OGC API - Features (Part 1, Core): collections, items pages and single features of the layers."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from geo_service.errors import InvalidParameter, NotFound
from geo_service.moments import parse_moment
from geo_service.services.layers import LAYERS, SPATIAL_LAYERS, Layer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000  # a larger limit (up to LIMIT_BOUND) gets pages of this size
LIMIT_BOUND = 1_000_000_000  # beyond it limit is refused (422)
MAX_OFFSET = 1_000_000_000  # beyond it offset is refused (422); PostgreSQL int holds it
MAX_CURSOR = 200  # characters
POSITION_FIX_MAX_ID = 2**63 - 1  # PostgreSQL bigint
BEAT_PREFIX = "beat_"


@dataclass(frozen=True)
class Collection:
    """A collection: a spatial layer, beats of one plan (plan_id) or beats in force (beat)."""

    id: str
    layer: Layer
    title: str
    plan_id: int | None = None
    bbox: list[float] | None = None
    interval: list[str] | None = None


async def collections(conn: psycopg.AsyncConnection) -> list[Collection]:
    """Every collection with its extent: one per spatial layer (`beat` is the plan in force
    now), and `beat_<plan>` for each published beat plan. One SQL call."""
    cur = await conn.execute("SELECT layer_catalog(%s)::text", (list(SPATIAL_LAYERS),))
    row = await cur.fetchone()
    catalog = orjson.loads(row[0]) if row and row[0] else {"extents": {}, "plans": []}
    extents: dict[str, dict[str, Any]] = catalog["extents"]
    found: list[Collection] = []
    for name in SPATIAL_LAYERS:
        layer = LAYERS[name]
        extent = extents.get("grid" if name == "beat" else name) or {}
        bbox, interval = extent.get("bbox"), extent.get("interval")
        if name == "beat":
            in_force = next((p for p in catalog["plans"] if p["in_force"]), None)
            title = f"{layer.title}: the plan in force" + (
                f" ({in_force['code']})" if in_force else ""
            )
            found.append(
                Collection(name, layer, title, in_force["id"] if in_force else -1, bbox, interval)
            )
            for plan in catalog["plans"]:
                found.append(
                    Collection(
                        f"{BEAT_PREFIX}{plan['code']}",
                        layer,
                        f"{layer.title}: plan {plan['code']} {plan['name']} "
                        f"(from {plan['effective_from'][:10]})",
                        plan["id"],
                        bbox,
                    )
                )
        else:
            found.append(Collection(name, layer, layer.title, None, bbox, interval))
    return found


async def collection(conn: psycopg.AsyncConnection, collection_id: str) -> Collection:
    """The collection called collection_id, or NotFound naming those there are."""
    every = await collections(conn)
    for item in every:
        if item.id == collection_id:
            return item
    raise NotFound(
        f"There is no collection '{collection_id}'. Collections: {', '.join(c.id for c in every)}.",
        parameter="collectionId",
    )


async def resolve(conn: psycopg.AsyncConnection, collection_id: str) -> tuple[Layer, int | None]:
    """The layer and plan id of a collection without computing extents (the items hot path)."""
    if collection_id in SPATIAL_LAYERS and collection_id != "beat":
        return LAYERS[collection_id], None
    if collection_id == "beat" or collection_id.startswith(BEAT_PREFIX):
        code = collection_id[len(BEAT_PREFIX) :] if collection_id != "beat" else None
        cur = await conn.execute(
            "SELECT CASE WHEN %(code)s::text IS NULL THEN coalesce(plan_in_force(now()), -1) "
            "ELSE (SELECT id FROM beat_plan WHERE code = %(code)s AND status = 'published') END",
            {"code": code},
        )
        row = await cur.fetchone()
        if row and row[0] is not None:
            return LAYERS["beat"], int(row[0])
    return (await collection(conn, collection_id)).layer, None  # raises NotFound


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """An OGC bbox `minLon,minLat,maxLon,maxLat` (6 numbers with heights) in CRS84, checked."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise InvalidParameter(
            f"bbox must be four numbers minLon,minLat,maxLon,maxLat (or six with heights), "
            f"got '{text}'",
            parameter="bbox",
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise InvalidParameter(
            f"bbox longitudes must be in [-180, 180], got '{text}'", parameter="bbox"
        )
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise InvalidParameter(
            f"bbox latitudes must be in [-90, 90], got '{text}'", parameter="bbox"
        )
    if min_lat > max_lat:
        raise InvalidParameter(
            f"bbox '{text}' is not a box: minLat is north of maxLat", parameter="bbox"
        )
    if min_lon > max_lon:
        raise InvalidParameter(
            f"bbox crossing the antimeridian (minLon > maxLon) is not supported, got '{text}'",
            parameter="bbox",
        )
    return min_lon, min_lat, max_lon, max_lat


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None]:
    """An OGC datetime: an instant, or an interval `start/end` with `..` or '' for open ends.

    Returns (start, end), both inclusive; an instant gives (t, t).
    """
    if text is None or text.strip() == "":
        return None, None
    if "/" not in text:
        moment = parse_moment(text, parameter="datetime")
        return moment, moment
    start_text, _, end_text = text.partition("/")
    if "/" in end_text:
        raise InvalidParameter(
            f"datetime is an instant or start/end, got '{text}'", parameter="datetime"
        )
    start = None if start_text in ("", "..") else parse_moment(start_text, parameter="datetime")
    end = None if end_text in ("", "..") else parse_moment(end_text, parameter="datetime")
    if start and end and start > end:
        raise InvalidParameter(f"datetime starts after it ends: '{text}'", parameter="datetime")
    return start, end


def encode_cursor(feature_id: str | int) -> str:
    """The opaque `cursor` of the page after the feature with this id (its last one)."""
    return base64.urlsafe_b64encode(orjson.dumps(feature_id)).decode().rstrip("=")


def decode_cursor(token: str | None, *, layer: Layer) -> str | None:
    """The feature id a cursor carries (as text for SQL), or InvalidParameter naming cursor."""
    if token is None or token == "":
        return None
    value: object = None
    if len(token) <= MAX_CURSOR:
        try:
            value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError):
            value = None
    integer = layer.integer_id
    fits = (
        isinstance(value, int) and not isinstance(value, bool) and abs(value) <= POSITION_FIX_MAX_ID
        if integer
        else isinstance(value, str)
    )
    if not fits:
        raise InvalidParameter(
            f"cursor '{token[:MAX_CURSOR]}' is not one this service gave for collection "
            f"{layer.name}: follow the `next` link of a page, or leave cursor out for the first.",
            parameter="cursor",
        )
    return str(value)


@dataclass(frozen=True)
class ItemsPage:
    """A page of features (the FeatureCollection as data) and its counts."""

    collection: dict[str, Any]
    matched: int
    returned: int
    more: bool  # features follow this page

    @property
    def features(self) -> list[dict[str, Any]]:
        """The page's features, in id order."""
        features: list[dict[str, Any]] = self.collection["features"]
        return features

    @property
    def last_id(self) -> str | int | None:
        """The id of the page's last feature (what the next page's cursor carries)."""
        return self.features[-1]["id"] if self.features else None


async def items(
    conn: psycopg.AsyncConnection,
    *,
    layer: Layer,
    plan_id: int | None,
    bbox: tuple[float, float, float, float] | None = None,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    after: str | None = None,
    feature_id: str | None = None,
) -> ItemsPage:
    """A page of a layer's features (one SQL call), ordered by id: those after the id `after`
    (key paging, see decode_cursor), skipping `offset`."""
    cur = await conn.execute(
        """SELECT r::text
           FROM layer_features(
               %(layer)s,
               CASE WHEN %(x0)s::float8 IS NULL THEN NULL
                    ELSE ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326) END,
               %(t0)s, %(t1)s, %(plan)s, %(limit)s, %(offset)s, %(fid)s, %(after)s) r""",
        {
            "layer": layer.name,
            "x0": bbox[0] if bbox else None,
            "y0": bbox[1] if bbox else None,
            "x1": bbox[2] if bbox else None,
            "y1": bbox[3] if bbox else None,
            "t0": time_from if layer.timed else None,
            "t1": time_to if layer.timed else None,
            "plan": plan_id,
            "limit": limit,
            "offset": offset,
            "fid": feature_id,
            "after": after,
        },
    )
    row = await cur.fetchone()
    if row is None or row[0] is None:
        raise NotFound(f"There is no layer '{layer.name}'.", parameter="collectionId")
    body: dict[str, Any] = orjson.loads(row[0])
    more = bool(body.pop("more"))
    return ItemsPage(body, int(body["numberMatched"]), int(body["numberReturned"]), more)
