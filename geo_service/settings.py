"""Settings, read from the environment in this module only and passed down from there."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Service settings; every field can be set as an environment variable of the same name."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/geo_service",
        description="PostgreSQL/PostGIS connection URL (DATABASE_URL).",
    )
    pool_min_size: int = 2
    pool_max_size: int = 8
    sql_dir: Path = REPO_ROOT / "sql"
    web_map_dir: Path = REPO_ROOT / "web_map"
    data_dir: Path = REPO_ROOT / "data" / "boundaries"
    # Request limits
    batch_max_points: int = 2_000_000
    batch_max_bytes: int = 256 * 1024 * 1024
    # Lookup radii (metres)
    rescue_marker_radius_m: float = 500.0
    water_body_radius_m: float = 200.0


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests pass their database)."""
    return Settings(**overrides)  # type: ignore[arg-type]
