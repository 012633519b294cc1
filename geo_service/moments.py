"""Moments in time as the service reads them: ISO 8601, station-local when no offset is given."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from geo_service.errors import InvalidParameter

STATION_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current moment, in station-local time."""
    return datetime.now(STATION_TZ)


def parse_moment(text: str | None, *, parameter: str = "at") -> datetime:
    """An ISO 8601 moment; without an offset it is station-local time (UTC+8). None is now."""
    if text is None or text == "":
        return now()
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(
            f"'{text}' is not an ISO 8601 moment; write e.g. 2026-03-01T08:00:00+08:00",
            parameter=parameter,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STATION_TZ)
    return moment
