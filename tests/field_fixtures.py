"""Fixtures of the field's tests (inspections, sweeps, reports): a database of their own (they
write), the app on it, users of each role tied to sample people, the sample's things read with
geopandas (the independent side), and photos made with Pillow carrying GPS data."""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from geo_service.accounts.roles import Role
from geo_service.db import connect
from geo_service.main import create_app
from geo_service.settings import Settings
from tests.accounts import bearer, make_user, person_with_role
from tests.cast import areas_of
from tests.conftest import loaded_database

THINGS = ("water_marker", "rental_house", "camera", "water_body")
GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="30,15.5N" exif:GPSLongitude="120,5.1E"/></rdf:RDF></x:xmpmeta>'
)


@dataclass
class FieldUser:
    """A user of the field's tests: role, token, the person and their areas' codes."""

    role: Role
    name: str
    token: str
    person: str | None
    grids: list[str]
    villages: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class FieldStage:
    """The field's database, app, users and the sample's layers."""

    database_url: str
    client: TestClient
    users: dict[str, FieldUser]
    layers: dict[str, gpd.GeoDataFrame]

    def as_(self, who: str) -> dict[str, str]:
        return self.users[who].headers

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a query as the operator (the owner: sees everything)."""
        with connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


def _user(database_url: str, role: Role, *, person_role: str | None, offset: int = 0) -> FieldUser:
    person = person_with_role(database_url, person_role, offset) if person_role else None
    return _user_of(database_url, role, person, offset)


def _user_of(database_url: str, role: Role, person: str | None, offset: int = 0) -> FieldUser:
    name = f"f_{role}_{offset}_{uuid.uuid4().hex[:6]}"
    token = make_user(database_url, role, name=name, person=person)
    grids = areas_of(database_url, person, "grid") if role == Role.grid_worker and person else []
    villages = (
        areas_of(database_url, person, "village") if role == Role.volunteer and person else []
    )
    return FieldUser(role, name, token, person, grids, villages)


@pytest.fixture(scope="session")
def field_stage(sample_path: Path) -> Iterator[FieldStage]:
    """A database of the field's tests' own, the app on it and their users."""
    with loaded_database("geo_field", sample_path) as url:
        users = {
            "leader": _user(url, Role.leader, person_role=None),
            "planner": _user(url, Role.planner, person_role=None),
            "command_room": _user(url, Role.command_room, person_role=None),
            "officer": _user(url, Role.community_officer, person_role="community_officer"),
            "worker": _user_of(url, Role.grid_worker, _worker_with_everything(url)),
            "worker2": _user(url, Role.grid_worker, person_role="grid_worker", offset=3),
            "volunteer": _user(url, Role.volunteer, person_role="volunteer"),
        }
        layers = {
            name: gpd.read_file(sample_path, layer=name)
            for name in ("grid", "village", "water_marker", "rental_house", "camera", "water_body")
        }
        with TestClient(create_app(Settings(database_url=url))) as client:
            yield FieldStage(url, client, users, layers)


def _worker_with_everything(database_url: str) -> str:
    """A grid worker in force whose grids hold a rescue pole, a rental house and a camera (the
    choice of the person only: the tests check their answers with shapely)."""
    with connect(database_url) as conn:
        row = conn.execute(
            """SELECT p.code FROM person p JOIN assignment a ON a.person_id = p.id
               JOIN grid g ON g.id = a.grid_id
               WHERE a.role = 'grid_worker' AND a.area_kind = 'grid' AND a.validity @> now()
               GROUP BY p.code
               HAVING bool_or(EXISTS (SELECT 1 FROM water_marker m WHERE m.kind = 'rescue_pole'
                                      AND ST_Within(m.geom, ST_Buffer(g.geom, -1e-5))))
                  AND bool_or(EXISTS (SELECT 1 FROM rental_house h
                                      WHERE ST_Within(h.geom, ST_Buffer(g.geom, -1e-5))))
                  AND bool_or(EXISTS (SELECT 1 FROM camera c
                                      WHERE ST_Within(c.geom, ST_Buffer(g.geom, -1e-5))))
               ORDER BY p.code LIMIT 1"""
        ).fetchone()
    assert row, "no grid worker of the sample has a pole, a rental house and a camera"
    return str(row[0])


# ------------------------------------------------------------------------------- photos


def jpeg_with_gps(
    size: tuple[int, int] = (64, 48),
    *,
    orientation: int = 6,
    color: tuple[int, ...] = (200, 30, 30),
) -> bytes:
    """A JPEG whose Exif holds an orientation and a GPS position, with an XMP block naming the
    position too and a comment."""
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 7):  # some detail, so the scan is not trivial
        for y in range(0, size[1], 5):
            image.putpixel((x, y), ((x * 13) % 256, (y * 29) % 256, 90))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (30.0, 15.0, 30.5), 3: "E", 4: (120.0, 5.0, 6.25)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90, comment=b"taken at 30.2585N 120.0851E")
    data = out.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + XMP_GPS
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    return data[:2] + segment + data[2:]


def png_with_gps(size: tuple[int, int] = (40, 30)) -> bytes:
    """A PNG with an eXIf chunk holding a GPS position and text chunks naming it."""
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGBA", size, (10, 120, 200, 255))
    info = PngInfo()
    info.add_text("Comment", "GPS 30.2585N 120.0851E")
    info.add_itxt("XML:com.adobe.xmp", XMP_GPS.decode())
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (30.0, 15.0, 30.5), 3: "E", 4: (120.0, 5.0, 6.25)})
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def has_gps(data: bytes) -> bool:
    """Whether an image still carries a position: a GPS Exif block, or GPS words anywhere."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
            return True
    return b"GPS" in data or b"30.2585" in data


# ------------------------------------------------------------------------------ requests


def inspection(kind: str, code: str, result: str, **more: Any) -> dict[str, Any]:
    """An inspection's JSON with a fresh client id, inspected a minute ago."""
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "kind": kind,
        "code": code,
        "inspected_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "result": result,
    }
    if kind == "rental_house" and "items" not in more:
        state = "ok" if result == "pass" else "problem"
        body["items"] = {
            "extinguisher": "ok",
            "escape_route": "ok",
            "wiring": "ok",
            "ebike_indoor_charging": state,
        }
        if result == "fail":
            body["fix_what"] = "stop charging e-bikes indoors"
            body["fix_by"] = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    body.update(more)
    return body


def post_inspection(
    stage: FieldStage,
    who: str,
    body: dict[str, Any],
    photos: list[tuple[str, bytes, str]] | None = None,
) -> Any:
    """POST /api/v1/inspections as a user: the JSON part and (name, bytes, type) photos."""
    files = [("photos", photo) for photo in photos or []]
    return stage.client.post(
        "/api/v1/inspections",
        data={"inspection": orjson.dumps(body).decode()},
        files=files or None,
        headers=stage.as_(who),
    )
