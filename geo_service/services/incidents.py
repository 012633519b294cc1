"""Incident aggregations for the maps: heatmap weights, H3 hexagons with change, hour × weekday."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, get_args

import h3.api.basic_int as h3
import psycopg

from geo_service.cells import INCIDENT_RESOLUTIONS
from geo_service.db import one
from geo_service.errors import InvalidParameter
from geo_service.moments import parse_moment
from geo_service.schemas.desk import Category

# the incident categories, in the order the desk's body lists them
CATEGORIES: tuple[str, ...] = get_args(Category)
MAX_HEAT_POINTS = 50_000
MAX_WINDOW_DAYS = 3 * 366
DEFAULT_DAYS = 30
FrameBy = Literal["hour", "weekday"]


def _list_pattern(value: str, *, ranges: bool) -> str:
    """A comma-separated list of values (or of ranges a-b when ``ranges``), spaces allowed
    around each part, empty parts ignored: the shape the filters below accept."""
    item = rf" *({value}( *- *{value})?)? *" if ranges else rf" *({value})? *"
    return rf"^{item}(,{item})*$"


HOURS_PATTERN = _list_pattern("([01]?[0-9]|2[0-3])", ranges=True)
WEEKDAYS_PATTERN = _list_pattern("[1-7]", ranges=True)
CATEGORIES_PATTERN = _list_pattern("|".join(CATEGORIES), ranges=False)


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a map counts: a window [start, end) and optional narrowing."""

    start: datetime
    end: datetime
    categories: tuple[str, ...] | None = None
    beat: str | None = None
    village: str | None = None
    hours: tuple[int, ...] | None = None
    weekdays: tuple[int, ...] | None = None

    def params(self) -> dict[str, Any]:
        """Bound parameters of the SQL functions in sql/functions/50_incidents.sql."""
        return {
            "t0": self.start,
            "t1": self.end,
            "cats": list(self.categories) if self.categories else None,
            "beat": self.beat,
            "village": self.village,
            "hours": list(self.hours) if self.hours else None,
            "weekdays": list(self.weekdays) if self.weekdays else None,
        }

    def as_json(self) -> dict[str, Any]:
        """The filter as it is echoed in data answers."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "categories": list(self.categories) if self.categories else None,
            "beat": self.beat,
            "village": self.village,
            "hours": list(self.hours) if self.hours else None,
            "weekdays": list(self.weekdays) if self.weekdays else None,
        }


def _int_set(
    text: str | None, *, parameter: str, pattern: str, low: int, high: int
) -> tuple[int, ...] | None:
    """'0-6,22,23' → (0, 1, ..., 6, 22, 23); a range written backwards wraps around ('22-1' is
    22, 23, 0, 1). Anything not matching ``pattern`` (values within [low, high]) is refused."""
    if text is None or not text.strip():
        return None
    if not re.fullmatch(pattern, text):
        raise InvalidParameter(
            f"'{text}' is not a list of numbers {low}..{high} or ranges; write e.g. "
            f"{low}-{low + 2},{high}",
            parameter=parameter,
        )
    values: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        a, _, b = part.partition("-")
        first, last = int(a), int(b) if b.strip() else int(a)
        if first <= last:
            values.update(range(first, last + 1))
        else:  # wraps around: 22-1 is 22, 23, 0, 1
            values.update(range(first, high + 1), range(low, last + 1))
    return tuple(sorted(values)) or None


def parse_categories(text: str | None, *, parameter: str = "categories") -> tuple[str, ...] | None:
    """'theft,fraud' → ('fraud', 'theft'); an unknown category is a 422 naming it."""
    if text is None or not text.strip():
        return None
    if not re.fullmatch(r"[\w ,]*", text):
        raise InvalidParameter(
            f"'{text}' is not a comma-separated list of categories; known: {', '.join(CATEGORIES)}",
            parameter=parameter,
        )
    cats = tuple(sorted({c.strip() for c in text.split(",") if c.strip()}))
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise InvalidParameter(
            f"Unknown incident categories {unknown}; known: {', '.join(CATEGORIES)}",
            parameter=parameter,
        )
    return cats or None


async def incident_window(
    conn: psycopg.AsyncConnection,
    *,
    start: str | None,
    end: str | None,
    days: int | None,
    names: tuple[str, str] = ("start", "end"),
    noun: str = "window",
) -> tuple[datetime, datetime]:
    """The period [start, end) asked of incidents (its parameters called ``names``): with one
    end, ``days`` (30) from or up to it; with neither, the last ``days`` whole station days up
    to the day of the latest incident; at most MAX_WINDOW_DAYS long."""
    first_name, last_name = names
    if days is not None and not 1 <= days <= MAX_WINDOW_DAYS:
        raise InvalidParameter(f"days must be 1..{MAX_WINDOW_DAYS}, not {days}", parameter="days")
    t0 = parse_moment(start, parameter=first_name) if start else None
    t1 = parse_moment(end, parameter=last_name) if end else None
    span = timedelta(days=days or DEFAULT_DAYS)
    if t0 is not None and t1 is not None:
        first, last = t0, t1
    elif t0 is not None:
        first, last = t0, t0 + span
    elif t1 is not None:
        first, last = t1 - span, t1
    else:
        cur = await conn.execute(
            "SELECT window_start, window_end FROM incident_default_window(%(d)s)",
            {"d": days or DEFAULT_DAYS},
        )
        first, last = one(await cur.fetchone(), "incident_default_window")
    if first >= last:
        raise InvalidParameter(
            f"{first_name} ({start}) must come before {last_name} ({end})", parameter=first_name
        )
    if last - first > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidParameter(
            f"The {noun} is longer than {MAX_WINDOW_DAYS} days; narrow {first_name} or {last_name}",
            parameter=first_name,
        )
    return first, last


async def incident_filter(
    conn: psycopg.AsyncConnection,
    *,
    start: str | None,
    end: str | None,
    days: int | None,
    categories: str | None = None,
    beat: str | None = None,
    village: str | None = None,
    hours: str | None = None,
    weekdays: str | None = None,
) -> IncidentFilter:
    """A validated filter. With neither start nor end, the window is the last ``days`` (30)
    station days that have incidents; with one of them, ``days`` from or up to it."""
    first, last = await incident_window(conn, start=start, end=end, days=days)
    return IncidentFilter(
        start=first,
        end=last,
        categories=parse_categories(categories),
        beat=beat.strip() if beat and beat.strip() else None,
        village=village.strip() if village and village.strip() else None,
        hours=_int_set(hours, parameter="hours", pattern=HOURS_PATTERN, low=0, high=23),
        weekdays=_int_set(weekdays, parameter="weekdays", pattern=WEEKDAYS_PATTERN, low=1, high=7),
    )


async def _rows(conn: psycopg.AsyncConnection, query: str, params: dict[str, Any]) -> list[tuple]:
    """Rows of one SQL function call (an unknown beat or village code leaves as NotFound naming
    it, by geo_service.db.translate)."""
    cur = await conn.execute(query, params)
    return await cur.fetchall()


@dataclass
class Heat:
    """Heatmap weights: H3 cell centres with incident counts, per frame."""

    flt: IncidentFilter
    resolution: int | None
    frames: dict[int, list[tuple[float, float, int]]] = field(default_factory=dict)

    incidents: int = 0  # the weights' sum

    @property
    def total(self) -> int:
        """Number of matching incidents (the weights' sum)."""
        return self.incidents

    @property
    def points(self) -> int:
        """Number of weighted points sent to the browser."""
        return sum(len(p) for p in self.frames.values())

    def as_json(self) -> dict[str, Any]:
        """The data endpoint's answer: points as [lat, lon, weight]."""
        return {
            "filter": self.flt.as_json(),
            "h3_resolution": self.resolution,
            "incidents": self.total,
            "points": self.points,
            "frames": {str(k): [list(p) for p in v] for k, v in self.frames.items()},
        }


async def heat(
    conn: psycopg.AsyncConnection,
    *,
    flt: IncidentFilter,
    frame_by: FrameBy | None = None,
    max_points: int = MAX_HEAT_POINTS,
) -> Heat:
    """Matching incidents as at most ``max_points`` weighted points (centres of the incidents'
    stored H3 cells at 10, 9, 8 or 7: the finest the cap allows; at 7 all of them even above
    the cap), per frame (hour 0..23 or ISO weekday 1..7) or one frame 0."""
    rows = await _rows(
        conn,
        "SELECT frame, cell, res, incidents FROM incident_heat(%(t0)s, %(t1)s, %(cats)s, "
        "%(beat)s, %(village)s, %(hours)s, %(weekdays)s, %(frame_by)s, %(cap)s)",
        {**flt.params(), "frame_by": frame_by, "cap": max_points},
    )
    result = Heat(flt=flt, resolution=rows[0][2] if rows else None)
    if not rows:
        return result
    frames = result.frames
    for frame, cell, _res, n in rows:
        lat, lon = _centre(cell)
        frames.setdefault(frame, []).append((lat, lon, n))
    result.incidents = sum(r[3] for r in rows)
    return result


@lru_cache(maxsize=1 << 18)
def _ring(cell: int) -> tuple[list[list[float]], str]:
    """The closed boundary of an H3 cell as GeoJSON [lon, lat] (6 decimals), and its name."""
    ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]], h3.int_to_str(cell)


@lru_cache(maxsize=1 << 20)
def _centre(cell: int) -> tuple[float, float]:
    """The centre of an H3 cell, rounded to 5 decimals (about 1 m); cells recur across pages."""
    lat, lon = h3.cell_to_latlng(cell)
    return round(lat, 5), round(lon, 5)


async def hexagons(
    conn: psycopg.AsyncConnection, *, flt: IncidentFilter, resolution: int
) -> dict[str, Any]:
    """H3 cells at ``resolution`` (7..10) with incidents in the window and in the previous
    period of the same length, as a GeoJSON FeatureCollection (change = incidents - previous).
    Each incident counts in the cell it lies in at that resolution (stored when it was)."""
    if resolution not in INCIDENT_RESOLUTIONS:
        raise InvalidParameter(
            f"Incidents are counted in H3 cells of resolution 7 to 10, not {resolution}",
            parameter="resolution",
        )
    rows = await _rows(
        conn,
        "SELECT cell, incidents, previous FROM incident_hexagons(%(t0)s, %(t1)s, %(res)s, "
        "%(cats)s, %(beat)s, %(village)s, %(hours)s, %(weekdays)s)",
        {**flt.params(), "res": resolution},
    )
    features: list[dict[str, Any]] = []
    for cell, n, prev in rows:
        ring, name = _ring(cell)
        features.append(
            {
                "type": "Feature",
                "id": name,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "cell": name,
                    "incidents": n,
                    "previous": prev,
                    "change": n - prev,
                    "change_pct": round(100 * (n - prev) / prev, 1) if prev else None,
                },
            }
        )
    span = flt.end - flt.start
    return {
        "type": "FeatureCollection",
        "h3_resolution": resolution,
        "filter": flt.as_json(),
        "previous": {"start": (flt.start - span).isoformat(), "end": flt.start.isoformat()},
        "incidents": sum(f["properties"]["incidents"] for f in features),
        "previous_incidents": sum(f["properties"]["previous"] for f in features),
        "features": features,
    }


async def hourly(conn: psycopg.AsyncConnection, *, flt: IncidentFilter) -> dict[str, Any]:
    """Matching incidents per ISO weekday (1..7) × station hour (0..23): a 7 × 24 matrix."""
    rows = await _rows(
        conn,
        "SELECT weekday, hour, incidents FROM incident_hourly(%(t0)s, %(t1)s, %(cats)s, "
        "%(beat)s, %(village)s)",
        flt.params(),
    )
    matrix = [[0] * 24 for _ in range(7)]
    for d, h, n in rows:
        matrix[d - 1][h] = n
    return {
        "filter": flt.as_json(),
        "weekday_hour": matrix,
        "by_hour": [sum(matrix[d][h] for d in range(7)) for h in range(24)],
        "by_weekday": [sum(row) for row in matrix],
        "incidents": sum(map(sum, matrix)),
    }
