"""Areas and people: details, neighbours and counts agree with shapely on the sample's data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geo_service.cli import app as cli
from tests.reference import Reference
from tests.test_lookup import AT_PLAN_2025, AT_PLAN_2026

AT = "2026-10-15T12:00:00+08:00"


def test_village_details_neighbours_and_counts(
    client: TestClient, sample_path: Path, reference: Reference
) -> None:
    villages = pyogrio.read_dataframe(sample_path, layer="village")
    rentals = pyogrio.read_dataframe(sample_path, layer="rental_house")
    cameras = pyogrio.read_dataframe(sample_path, layer="camera")
    incidents = pyogrio.read_dataframe(sample_path, layer="incident")
    rental_village = [w[0] for w in reference.locate(rentals.geometry.values, AT)]
    camera_village = [w[0] for w in reference.locate(cameras.geometry.values, AT)]
    received = pd.to_datetime(incidents["received_at"], utc=True)
    recent = incidents[
        (received >= pd.Timestamp(AT) - pd.Timedelta(days=30)) & (received < pd.Timestamp(AT))
    ]
    recent_village = [w[0] for w in reference.locate(recent.geometry.values, AT)]
    checked = 0
    for row in villages.head(8).itertuples():
        reply = client.get(f"/api/v1/areas/village/{row.code}", params={"at": AT})
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/geo+json")
        feature = reply.json()
        props = feature["properties"]
        assert feature["type"] == "Feature" and props["code"] == row.code
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(row.geometry, 1e-7)
        boundary = row.geometry.boundary
        want = sorted(
            other.code
            for other in villages.itertuples()
            if other.code != row.code and boundary.intersection(other.geometry.boundary).length > 0
        )
        assert sorted(n["code"] for n in props["neighbours"]) == want
        assert all(n["shared_border_m"] > 0 for n in props["neighbours"])
        assert props["counts"]["rental_houses"] == rental_village.count(row.code)
        assert props["counts"]["cameras"] == camera_village.count(row.code)
        assert props["counts"]["incidents_last_30_days"] == recent_village.count(row.code)
        assert {p["role"] for p in props["people"]} >= {"police_assistant"}
        checked += 1
    assert checked == 8


def test_beat_details_follow_the_plan_in_force(client: TestClient, sample_path: Path) -> None:
    beat_grid = pyogrio.read_dataframe(sample_path, layer="beat_grid", read_geometry=False)
    sizes = beat_grid.groupby(["plan_code", "beat_code"]).size()
    differs = checked = 0
    beats = sorted(beat_grid["beat_code"].unique())
    for beat in beats:
        counts = {}
        for at, plan in ((AT_PLAN_2025, "2025"), (AT_PLAN_2026, "2026")):
            props = client.get(f"/api/v1/areas/beat/{beat}", params={"at": at}).json()["properties"]
            assert props["details"]["plan"] == plan
            assert props["counts"]["grids"] == sizes[(plan, beat)]
            roles = sorted(p["role"] for p in props["people"])
            assert roles == ["auxiliary_officer", "auxiliary_officer", "community_officer"]
            counts[plan] = props["counts"]["grids"]
            checked += 1
        differs += counts["2025"] != counts["2026"]
    assert checked == 2 * len(beats) and len(beats) >= 9
    assert differs > 0
    draft = client.get("/api/v1/areas/beat/B01", params={"plan": "2027-draft"}).json()
    assert draft["properties"]["details"]["plan_status"] == "draft"


def test_coverage_of_an_officer_keeps_history(client: TestClient, sample_path: Path) -> None:
    assignments = pyogrio.read_dataframe(sample_path, layer="assignment", read_geometry=False)
    ended = assignments[
        (assignments["role"] == "community_officer")
        & assignments["valid_to"].notna()
        & (assignments["valid_to"] != "")
    ]
    assert len(ended) > 0
    checked = 0
    for row in ended.itertuples():
        mine = assignments[assignments["person_code"] == row.person_code]
        before = pd.Timestamp(row.valid_to) - pd.Timedelta(days=1)
        body = client.get(
            f"/api/v1/people/{row.person_code}/coverage", params={"at": before.isoformat()}
        ).json()
        assert body["person"]["code"] == row.person_code
        assert row.area_code in {a["code"] for a in body["areas"]}
        assert all("rental_houses" in a["counts"] for a in body["areas"])
        assert len(body["history"]) == len(mine)
        checked += 1
    assert checked == len(ended)


def test_cli_errors_are_plain_and_nonzero(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["load", str(tmp_path / "missing.gpkg")], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 1
    assert "error: No such file" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["sample", "--scale", "huge"])
    assert result.exit_code == 2
    assert "--scale must be small or large" in result.output
