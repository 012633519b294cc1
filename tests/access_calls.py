"""The pieces of test_access.py's examples: where a user's requests point (Place), one request
(Call), what a cell's request is built from (Ask), and the plain GET/HEAD builders. The subjects'
own rows (tests/access_rows/) build their calls from these too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.cast import Member, tile_of


@dataclass(frozen=True)
class Place:
    """Where a user's example requests point: inside their own area."""

    grid: str
    village: str
    beat: str
    plan: str
    lon: float
    lat: float
    person: str  # a person they may ask about
    collection: str  # an OGC collection and one of its features they see
    feature: str
    tile_layer: str  # a tiled layer they see

    @property
    def tile(self) -> tuple[int, int, int]:
        return tile_of(self.lon, self.lat, 15)


@dataclass
class Call:
    """One request of a cell."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    session: bool = False  # sent with a browser session (signed in through the form)


@dataclass
class Ask:
    """What a cell's request is built from: who asks, where, and (for an allowed cell of a
    route that changes something) its own target to change."""

    member: Member
    place: Place
    database_url: str
    victim: Callable[[], str]  # a user name to lock, remove, reset
    spare_token: Callable[[str], int]  # a token id of that user to revoke
    import_file: bytes


def get(path: str, **params: Any) -> Callable[[Ask], Call]:
    return lambda a: Call("GET", path, params)


def head(path: str) -> Callable[[Ask], Call]:
    return lambda a: Call("HEAD", path)
