"""Moments in time as the service reads them: ISO 8601, station-local when no offset is given.

A moment is a date (``2026-03-01``) or a date and time (``2026-03-01T08:00``, seconds and up to
six decimals optional, ``T`` or a space between) with an optional offset (``Z``, ``+08:00``),
in the years FIRST_YEAR..LAST_YEAR. MOMENT_PATTERN says exactly that, calendar included: the
OpenAPI document shows it, and parse_moment refuses anything else with a 422 naming the
parameter, so no later arithmetic (a window, a previous period, a time zone) can leave the
ranges of Python or PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from geo_service.errors import InvalidParameter

STATION_TZ = ZoneInfo("Asia/Shanghai")
FIRST_YEAR, LAST_YEAR = 1970, 2199

_YEAR = r"(19[7-9][0-9]|2[01][0-9]{2})"
_MONTH_DAY = (
    r"((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"  # every month has 28 days
    r"|(0[13-9]|1[0-2])-(29|30)"  # all but February have 30
    r"|(0[13578]|1[02])-31)"  # and these 31
)
_LEAP_YEAR = (
    r"(19(7[26]|8[048]|9[26])|20([02468][048]|[13579][26])|21(0[48]|[2468][048]|[13579][26]))"
)
_DATE = rf"({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
MOMENT_PATTERN = rf"^({_DATE}({_TIME}{_OFFSET}?)?)?$"  # empty: the default
_MOMENT = re.compile(rf"{_DATE}({_TIME}{_OFFSET}?)?")

MOMENT_DOC = (
    f"ISO 8601 date or date and time, years {FIRST_YEAR}..{LAST_YEAR}, e.g. 2026-03-01 or "
    "2026-03-01T08:00:00+08:00; without an offset, station time (UTC+8)"
)


def now() -> datetime:
    """The current moment, in station-local time."""
    return datetime.now(STATION_TZ)


def parse_moment(text: str | None, *, parameter: str = "at") -> datetime:
    """An ISO 8601 moment (MOMENT_PATTERN); without an offset it is station-local time (UTC+8).
    None or empty is now. Anything else, a moment outside FIRST_YEAR..LAST_YEAR included, is
    an InvalidParameter naming ``parameter``."""
    if text is None or text == "":
        return now()
    if not _MOMENT.fullmatch(text):
        raise InvalidParameter(_why_not(text), parameter=parameter)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STATION_TZ)
    return moment


def _why_not(text: str) -> str:
    """What is wrong with a moment that does not match MOMENT_PATTERN, for a person."""
    example = "write e.g. 2026-03-01T08:00:00+08:00"
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return f"'{text}' is not an ISO 8601 date or moment; {example}"
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return f"'{text}' is outside the years {FIRST_YEAR}..{LAST_YEAR} the service answers about"
    return f"'{text}' is not written as YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|±HH:MM]; {example}"
