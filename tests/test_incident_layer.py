"""The incident layer carries the caller's details (issue 12) by one rule for every role: layer
exports in every format, OGC items and the desk's answers against the incident table read as
the owner (pandas); tiles carry none of them; a leader's export goes through a fresh database
unchanged, and a masked phone is refused naming its rows (by imports and by the loader), the
database left as it was."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mapbox_vector_tile
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.accounts.access import BUSINESS, INCIDENTS
from geo_service.accounts.roles import Role
from geo_service.db import connect
from geo_service.errors import InvalidParameter
from geo_service.ingest.imports import import_layer
from geo_service.ingest.load import load_jurisdiction
from geo_service.main import create_app
from geo_service.services.export import FORMATS, export_to_file, get_format
from geo_service.services.layers import LAYERS, restore_column_names
from geo_service.settings import Settings
from tests.cast import Member, areas_of, make_cast, tile_of
from tests.conftest import loaded_database, migrated_database

DETAILS = ["caller_phone", "address", "description"]
COLUMNS = ["call_no", "received_at", "category", "status", *DETAILS]
FULL = {Role.command_room, Role.leader}  # see callers' phones in full
POLICE = FULL | {Role.planner, Role.community_officer}  # see callers' details, phones masked


@dataclass
class Stage:
    """The test's own database (the sample, with addresses and descriptions given to some
    calls), one user of each role, the app's client and the incident table as the owner reads
    it (with each incident's grid code)."""

    url: str
    client: TestClient
    cast: dict[Role, Member]
    table: pd.DataFrame

    def get(self, role: Role, path: str) -> httpx.Response:
        """GET as the stage's user of this role."""
        return self.client.get(path, headers=self.cast[role].headers)


def describe(conn: psycopg.Connection, rng: np.random.Generator) -> None:
    """Give a third of the incidents an address and a description (Chinese, commas, quotes, a
    line break), as the desk would have stored them."""
    ids = [r[0] for r in conn.execute("SELECT id FROM incident ORDER BY id")]
    chosen = rng.choice(ids, size=len(ids) // 3, replace=False)
    streets = ["枫桥镇枫源路", "新枫路", "和平村", "Station Road"]
    rows = [
        (
            f"{streets[k % 4]}{rng.integers(1, 300)}号, 2单元",
            f'邻居称"有人吵架"，请求出警 #{k}' + ("\n第二行" if k % 5 == 0 else ""),
            int(i),
        )
        for k, i in enumerate(chosen)
    ]
    with conn.cursor() as cur:
        cur.executemany("UPDATE incident SET address = %s, description = %s WHERE id = %s", rows)


@pytest.fixture(scope="module")
def stage(sample_path: Path) -> Iterator[Stage]:
    with loaded_database("geo_inclayer", sample_path) as url:
        with connect(url) as conn:
            describe(conn, np.random.default_rng(12))
            conn.commit()
            rows = conn.execute(
                "SELECT i.call_no, i.caller_phone, i.address, i.description, g.code AS grid "
                "FROM incident i LEFT JOIN grid g ON g.id = i.grid_id"
            ).fetchall()
        table = pd.DataFrame(rows, columns=["call_no", *DETAILS, "grid"])
        cast = make_cast(url)
        with TestClient(create_app(Settings(database_url=url))) as client:
            yield Stage(url, client, cast, table.set_index("call_no"))


def masked(phone: str) -> str:
    """A phone as the masked roles see it: 138****5678."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "*" * len(phone)


def expected(stage: Stage, role: Role) -> pd.DataFrame:
    """The caller's details of the incidents a role sees, by the rule, from the owner's read."""
    table = stage.table
    if role == Role.grid_worker:
        grids = areas_of(stage.url, str(stage.cast[role].person), "grid")
        table = table[table["grid"].isin(grids)]
    elif role not in INCIDENTS:
        table = table.iloc[:0]
    out = table[DETAILS].astype(object).where(table[DETAILS].notna(), None)
    if role in FULL:
        return out
    if role in POLICE:
        out["caller_phone"] = out["caller_phone"].map(lambda p: None if p is None else masked(p))
        return out
    out[:] = None
    return out


def normal(value: object) -> str | None:
    """Missing (None, NaN, empty text) as None, anything else as text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    return str(value)


def read_export(content: bytes, fmt: str, tmp_path: Path) -> pd.DataFrame:
    """A downloaded incident layer read with pyogrio (CSV with pandas, all text), its columns
    named as the contract names them."""
    path = tmp_path / f"incident{FORMATS[fmt].suffix}"
    path.write_bytes(content)
    if fmt == "csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    elif fmt == "shp":
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/incident.shp")
    else:
        frame = pyogrio.read_dataframe(path)
    return frame.rename(columns=restore_column_names(LAYERS["incident"], frame.columns))


def text_of(content: bytes, fmt: str) -> str:
    """Every byte of a download as text (a Shapefile zip's members unpacked)."""
    if fmt == "shp":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            content = b"".join(archive.read(n) for n in archive.namelist())
    return content.decode("utf-8", errors="replace")


def full_phones_in(text: str, stage: Stage) -> set[str]:
    """The stored callers' phones that appear whole in the text (not inside a longer number)."""
    phones = set(stage.table["caller_phone"].dropna())
    return {m for m in re.findall(r"(?<![0-9.])[0-9+\-]{3,20}(?![0-9])", text) if m in phones}


def assert_details(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    """The same incidents with the same caller details."""
    got = got.set_index("call_no")
    assert got.index.is_unique, what
    assert sorted(got.index) == sorted(want.index), what
    left = pd.DataFrame({c: got[c].map(normal) for c in DETAILS}).loc[want.index]
    right = pd.DataFrame({c: want[c].map(normal) for c in DETAILS})
    pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=what)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_exports_the_caller_details_the_rule_gives_it(
    stage: Stage, tmp_path: Path, role: Role, fmt: str
) -> None:
    reply = stage.get(role, f"/api/v1/layers/incident.{fmt}")
    if role not in BUSINESS or role in (Role.admin, Role.auditor):
        assert reply.status_code == 403, reply.text
        return
    assert reply.status_code == 200, reply.text
    content: bytes = reply.content
    want = expected(stage, role)
    assert role not in INCIDENTS or len(want) > 0
    assert (want["address"].notna().any()) == (role in POLICE)
    if len(want):
        frame = read_export(content, fmt, tmp_path)
        assert set(COLUMNS) <= set(frame.columns), list(frame.columns)
        assert_details(frame, want, f"{role} {fmt}")
    leaked = full_phones_in(text_of(content, fmt), stage)
    if role in FULL:
        assert leaked == set(want["caller_phone"].dropna())
    else:
        assert not leaked, sorted(leaked)[:5]


@pytest.mark.parametrize("role", sorted(BUSINESS - {Role.volunteer}))
def test_ogc_items_and_the_desk_follow_the_same_rule(stage: Stage, role: Role) -> None:
    features: list[dict] = []
    url: str | None = "/ogc/collections/incident/items?limit=10000"
    while url:
        page = stage.get(role, url.replace("http://testserver", "")).json()
        features += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    frame = pd.DataFrame([{"call_no": f["id"], **f["properties"]} for f in features])
    want = expected(stage, role)
    assert_details(frame, want, f"{role} OGC items")
    raw = "".join(str(f["properties"]) for f in features)
    assert (role in FULL) == bool(full_phones_in(raw, stage))
    # the desk's answer for a call with every detail (GET /api/v1/incidents/{call_no})
    rich = want.index[stage.table.loc[want.index, DETAILS].notna().all(axis=1)]
    one = stage.get(role, f"/api/v1/incidents/{rich[0]}").json()
    assert {c: one[c] for c in DETAILS} == want.loc[rich[0], DETAILS].to_dict()


def test_tiles_carry_no_caller_details(stage: Stage) -> None:
    rich = stage.table[stage.table[DETAILS].notna().all(axis=1)].index[0]
    with connect(stage.url) as conn:
        row = conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE call_no = %s", (rich,)
        ).fetchone()
    assert row
    z, x, y = tile_of(row[0], row[1], 16)
    for role in (Role.leader, Role.command_room):
        reply = stage.get(role, f"/tiles/incident/{z}/{x}/{y}.mvt")
        assert reply.status_code == 200
        content: bytes = reply.content
        layer = mapbox_vector_tile.decode(content)["incident"]
        calls = {f["properties"]["call_no"] for f in layer["features"]}
        assert rich in calls
        for feature in layer["features"]:
            assert set(feature["properties"]) == {"call_no", "received_at", "category", "status"}
        assert not full_phones_in(content.decode("utf-8", errors="replace"), stage)


def test_a_leaders_export_goes_through_a_fresh_database_unchanged(
    stage: Stage, tmp_path: Path
) -> None:
    for fmt in ("gpkg", "csv", "geojson"):
        reply = stage.get(Role.leader, f"/api/v1/layers/incident.{fmt}")
        content: bytes = reply.content
        first = read_export(content, fmt, tmp_path)
        path = tmp_path / f"first{FORMATS[fmt].suffix}"
        path.write_bytes(content)
        with migrated_database("geo_inclayer_rt") as fresh:
            with connect(fresh) as conn:
                report = import_layer(
                    conn, path, layer="incident", crs="EPSG:4326" if fmt == "csv" else None
                )
                conn.commit()
            assert report.added == len(first) and not report.findings, report.to_dict()
            spec = LAYERS["incident"]
            again_path = export_to_file(
                fresh, layer=spec, fmt=get_format(fmt, spec), path=tmp_path / f"again.{fmt}"
            )
        again = read_export(again_path.read_bytes(), fmt, tmp_path)
        key = first.set_index("call_no").index
        left = pd.DataFrame({c: first[c].map(normal) for c in COLUMNS}).set_index("call_no")
        right = pd.DataFrame({c: again[c].map(normal) for c in COLUMNS}).set_index("call_no")
        pd.testing.assert_frame_equal(left.loc[key], right.loc[key], obj=fmt)
        assert left["caller_phone"].notna().any() and left["description"].notna().any()
        if fmt != "csv":
            a = np.asarray(first.set_index("call_no").geometry.loc[key].values)
            b = np.asarray(again.set_index("call_no").geometry.loc[key].values)
            assert float(np.max(shapely.hausdorff_distance(a, b))) < 1e-9


def test_a_masked_export_is_refused_naming_rows_and_column(stage: Stage, tmp_path: Path) -> None:
    reply = stage.get(Role.planner, "/api/v1/layers/incident.csv")
    content: bytes = reply.content
    table = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    phoned = (np.flatnonzero(table["caller_phone"].str.contains("*", regex=False)) + 1).tolist()
    assert phoned
    with connect(stage.url) as conn:
        before = conn.execute(
            "SELECT count(*), md5(string_agg(call_no || coalesce(caller_phone, ''), ',' "
            "ORDER BY call_no)) FROM incident"
        ).fetchone()
    # through HTTP as a planner (who may import), the file renamed so every call is new
    table["call_no"] = "R" + table["call_no"]
    renamed = io.BytesIO()
    table.to_csv(renamed, index=False)
    answer = stage.client.post(
        "/api/v1/imports",
        headers=stage.cast[Role.planner].headers,
        data={"layer": "incident", "crs": "EPSG:4326"},
        files={"file": ("incident.csv", renamed.getvalue(), "text/csv")},
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert "caller_phone is masked" in problem["detail"]
    [finding] = [f for f in problem["report"]["refusals"] if f["check"] == "masked_phone"]
    assert finding["rows"] == phoned[: len(finding["rows"])] and finding["codes"] == [
        "caller_phone"
    ]
    assert f"row{'s' if len(phoned) > 1 else ''} {phoned[0]}," in finding["message"]
    # and as the operator into a fresh database: refused the same, nothing stored
    path = tmp_path / "masked.csv"
    path.write_bytes(content)
    with migrated_database("geo_inclayer_mask") as fresh, connect(fresh) as conn:
        with pytest.raises(InvalidParameter) as refused:
            import_layer(conn, path, layer="incident", crs="EPSG:4326")
        assert conn.execute("SELECT count(*) FROM incident").fetchone() == (0,)
    assert "caller_phone is masked" in refused.value.detail
    with connect(stage.url) as conn:
        after = conn.execute(
            "SELECT count(*), md5(string_agg(call_no || coalesce(caller_phone, ''), ',' "
            "ORDER BY call_no)) FROM incident"
        ).fetchone()
    assert after == before


def test_the_loader_refuses_a_masked_phone_and_loads_nothing(
    sample_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "masked.gpkg"
    shutil.copy(sample_path, path)
    incidents = pyogrio.read_dataframe(path, layer="incident")
    phones = incidents["caller_phone"]
    incidents["caller_phone"] = phones.map(lambda p: masked(p) if isinstance(p, str) else p)
    pyogrio.write_dataframe(incidents, path, layer="incident", driver="GPKG")
    rows = (np.flatnonzero(phones.notna().to_numpy()) + 1).tolist()
    with migrated_database("geo_inclayer_load") as fresh, connect(fresh) as conn:
        with pytest.raises(InvalidParameter) as refused:
            load_jurisdiction(conn, path)
        assert conn.execute("SELECT count(*) FROM station").fetchone() == (0,)
    assert refused.value.detail.startswith(
        f"Layer incident: caller_phone is masked (like 138****5678) in rows {rows[0]}, {rows[1]},"
    )
