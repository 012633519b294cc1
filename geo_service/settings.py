"""Settings, read from the environment in this module only and passed down from there."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
# The PostgreSQL role the API connects as (created by sql/migrations/012_accounts.sql)
SERVICE_ROLE = "geo_service_app"


class Settings(BaseSettings):
    """Service settings; every field can be set as an environment variable of the same name."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/geo_service",
        description="PostgreSQL/PostGIS connection URL (DATABASE_URL).",
    )
    service_database_url: str | None = Field(
        default=None,
        description="URL the API connects with (SERVICE_DATABASE_URL). Default: DATABASE_URL "
        "with the service's own role, geo_service_app, and SERVICE_DB_PASSWORD.",
    )
    service_db_password: SecretStr | None = None
    pool_min_size: int = 2
    pool_max_size: int = 8
    sql_dir: Path = REPO_ROOT / "sql"
    web_map_dir: Path = REPO_ROOT / "web_map"
    data_dir: Path = REPO_ROOT / "data" / "boundaries"
    # Request limits. Every request body: three photos of PHOTO_MAX_BYTES and their form fields
    # (geo_service/body_limit.py; imports and batch lookups have their own limits below)
    request_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    batch_max_points: int = 2_000_000
    batch_max_bytes: int = 256 * 1024 * 1024
    # Lookup radii (metres)
    rescue_marker_radius_m: float = 500.0
    water_body_radius_m: float = 200.0
    # Water safety: shore farther than this from a working rescue pole is a gap (metres);
    # a marker whose last inspection is older than this many days is due
    shore_gap_m: float = 150.0
    inspection_due_days: int = 90
    # Imports: upload limit, and gaps/overlaps under this many m² are snapped (0: never)
    import_max_bytes: int = 512 * 1024 * 1024
    import_sliver_m2: float = 1.0
    # Map pages: optional local tiles under the jurisdiction's own basemap (none by default)
    map_tiles_url: str | None = Field(
        default=None,
        description="XYZ tile URL on the intranet, e.g. http://tiles.lan/{z}/{x}/{y}.png",
    )
    map_mbtiles_path: Path | None = Field(
        default=None, description="MBTiles file served by the app at /maps/tiles/{z}/{x}/{y}"
    )
    map_tiles_attribution: str = ""
    # Accounts: browser sessions end after this idle time or this age, whichever comes first
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    # Set when served over HTTPS (directly or behind a proxy): the session cookie gets Secure
    cookie_secure: bool = False
    token_days: int = Field(default=90, ge=1, le=3650)
    # Roles that must sign in with a one-time code besides admin and auditor (comma-separated)
    second_factor_roles: str = ""

    # The command room (issue 12). Repeat calls: the same caller phone, or this close with the same
    # category, within this many days
    repeat_days: int = Field(default=7, ge=1, le=365)
    repeat_metres: float = Field(default=100.0, gt=0, le=10_000)
    # A diverted (non-police) call is due to be accepted by the response team within this
    diversion_target_minutes: int = Field(default=30, ge=1)
    # A unit on scene within this many minutes of the call, by the village's kind
    on_scene_minutes_community: int = Field(default=5, ge=1)
    on_scene_minutes_village: int = Field(default=10, ge=1)
    # A dispatched unit whose fix comes this close to its incident has arrived (metres)
    arrival_radius_m: float = Field(default=50.0, gt=0, le=1000)
    # The live map: the board shows incidents of the last this many hours that are not closed
    board_window_hours: int = Field(default=24, ge=1)
    # ... and the police incidents closed in the last this many days still awaiting their callback
    callback_window_days: int = Field(default=3, ge=1, le=90)
    # The live stream: a comment line this often keeps proxies from closing an idle stream; the
    # stream's credential is checked again this often (a disabled account's stream ends); a
    # stream that asks to replay more than this many events is told to reload the board; a
    # client this many events behind is cut off (it reconnects and replays)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    stream_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    stream_replay_max: int = Field(default=5000, ge=1, le=100_000)
    stream_queue_max: int = Field(default=1000, ge=1, le=100_000)
    # Beat planning (issue 13): a rebalance answers within this many seconds; stations with at
    # most this many grids are solved exactly (integer program), larger ones by local search
    balance_seconds: float = Field(default=60.0, gt=0, le=3600)
    balance_exact_max_grids: int = Field(default=400, ge=0)
    # The field (issue 14): a photo's size limit, and a rental house's fire-safety check is due
    # this many days after the last one
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    rental_check_days: int = Field(default=90, ge=1)
    # The phone page "my area" (/me): what falls due within this many days is listed (overdue
    # first), incidents of the last this many days, at most this many items a list
    me_due_within_days: int = Field(default=7, ge=0, le=365)
    me_recent_days: int = Field(default=30, ge=1, le=366)
    me_list_limit: int = Field(default=50, ge=1, le=1000)

    @property
    def app_database_url(self) -> str:
        """The URL the API's pool connects with: the service's own non-owner role."""
        if self.service_database_url:
            return self.service_database_url
        params = conninfo_to_dict(self.database_url)
        params["user"] = SERVICE_ROLE
        params.pop("password", None)
        if self.service_db_password is not None:
            params["password"] = self.service_db_password.get_secret_value()
        return make_conninfo("", **params)

    # Audit trail: lookups' events are appended together this often (seconds)
    audit_batch_seconds: float = Field(default=0.25, gt=0, le=60)
    # Audit trail: whole months older than this many days may be pruned (at least 180)
    audit_retention_days: int = Field(
        default=180,
        description="Days the audit trail is kept, at least 180 (AUDIT_RETENTION_DAYS).",
    )

    @field_validator("audit_retention_days")
    @classmethod
    def _keep_six_months(cls, days: int) -> int:
        """The audit trail is kept at least 180 days (security-protection standard, level 3)."""
        if days < 180:
            raise ValueError(f"AUDIT_RETENTION_DAYS must be at least 180 days, not {days}")
        return days


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests pass their database)."""
    return Settings(**overrides)  # type: ignore[arg-type]
