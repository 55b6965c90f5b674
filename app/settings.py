"""All configuration in one place, read from the environment (or a `.env` file).

`DATABASE_URL` selects the store; every other setting is prefixed `COACHCO2_`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from app.emissions import EmissionPolicy

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/coachco2.db"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COACHCO2_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "COACHCO2_DATABASE_URL"),
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    # A request body larger than this (after gzip decoding too) answers 413. 10,000 points with every
    # optional field fill about 1.5 MB of JSON, so 8 MiB leaves room without inviting abuse.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Writing `last_used_at` on every request would turn every read into a write; once in this many
    # seconds is enough to show a person when each of their devices was last seen.
    token_touch_interval_s: int = Field(default=300, ge=0)
    # Uploaded history files (imports) wait here while they are checked and stored; the cap is per file.
    import_dir: str = "./var/imports"
    max_import_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    # Territory statistics (docs/statistics.md). Exact publications: the least number of people behind any
    # published figure (INSEE's rule is 11), and how many days after a month ends it is published (late
    # uploads arrive first). Differentially private releases: the lifetime ε of each local month of
    # people's data, over every release that counts it whoever asks, never renewed; the ε of a release
    # when the operator names none; the territory's extent (lon_min,lat_min,lon_max,lat_max, WGS 84), whose
    # grid cells are the zones of the built-in grid (the La Rochelle agglomeration by default).
    stats_k: int = Field(default=11, ge=2)
    publication_delay_days: int = Field(default=5, ge=0, le=60)
    dp_month_epsilon: float = Field(default=10.0, gt=0, le=1000)
    dp_release_epsilon: float = Field(default=0.5, gt=0, le=5)
    territory_bbox: str = "-1.30,46.06,-0.89,46.25"
    # The operator dashboard's basemap (docs/dashboard.md): a tile URL with {z}, {x} and {y} on one origin
    # (the page's Content-Security-Policy allows that one), and the credit its provider asks for: text with
    # <a href> links. OpenStreetMap's tiles by default; IGN's Plan IGN is documented as an option.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = (
        '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    # The OpenPATH app (docs/openpath.md): the study name its opcodes carry (`nrelop_<study>_...`, the
    # name of the deployment configuration the app downloads), the subgroups it accepts (comma-separated),
    # and whether `/profile/create` accepts any well-formed opcode of the study (the app's "join" links
    # make up their own) rather than only opcodes issued by `coachco2 openpath opcodes`.
    openpath_study: str = Field(default="coachco2-larochelle", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    openpath_subgroups: str = Field(default="default", pattern=r"^[a-z0-9-]+(,[a-z0-9-]+)*$")
    openpath_self_registration: bool = False
    # The pipeline worker runs inside the API process unless turned off (then run `coachco2 worker`).
    worker_in_process: bool = True
    # A worker's claim on a person expires after this long, so a killed worker's work passes to another.
    worker_lease_s: float = Field(default=300.0, gt=0)
    worker_poll_s: float = Field(default=1.0, gt=0)
    # The emission factor set in force and the components that count (see app/emissions/factors.py).
    # Changing either changes no stored figure by itself: run `coachco2 emissions recompute`.
    factor_set: str = "ademe-2026-07"
    emission_components: str = "use,construction,contrails"
    # Local time zone of the territory: summaries and attestations count days and months in it.
    timezone: str = "Europe/Paris"
    # The data controller named on consent receipts and in the privacy notice.
    controller_name: str = "Communauté d'Agglomération de La Rochelle"
    controller_contact: str = "Data protection officer"
    controller_email: str = "dpo@example.org"
    controller_address: str = "La Rochelle, France"
    controller_phone: str = ""
    privacy_policy_url: str = "/privacy"
    # Interactive documentation (/docs, /redoc, /openapi.json): on in development, off in production
    # unless turned on explicitly.
    docs_enabled: bool | None = None
    # The address clients reach the API at, as the OpenAPI document's `servers` names it (for instance
    # https://coachco2.example.org); the default `/` means the server that served the document.
    public_url: str = Field(default="/", pattern=r"^(/|https?://[^\s]+)$")
    # Browser origins allowed to call the API (CORS); none by default: phones and servers need no CORS.
    cors_origins: str = ""
    # Abuse limits (requests per window, per client IP or per token). Counted in this process unless a
    # Redis URL is given, which several processes then share.
    redis_url: str | None = None
    rate_limit_register_per_hour: int = Field(default=600, ge=1)
    # A phone posts about once a minute; bulk uploads of history may post many batches a second.
    rate_limit_ingest_per_minute: int = Field(default=3000, ge=1)
    rate_limit_export_per_hour: int = Field(default=20, ge=1)
    rate_limit_import_per_hour: int = Field(default=20, ge=1)
    # Addresses (comma-separated IPs or networks) of the reverse proxies whose `X-Forwarded-For` and
    # `X-Forwarded-Proto` are believed. None by default: a client could otherwise name any address and
    # slip past the per-address limits. Behind nginx on the same machine: `127.0.0.1,::1`.
    trusted_proxies: str = ""
    log_format: Literal["json", "text"] = "json"
    # Prometheus metrics (docs/operations.md). `/metrics` on the API's port answers only to a bearer
    # token when one is set; without one it is served in development to loopback clients, and in
    # production not at all (404). A port of their own (bound to `metrics_host`, loopback by default)
    # serves them apart from the API; `coachco2 worker` uses `worker_metrics_port`.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is named: the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT (the collector's base URL) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
    # COACHCO2_TRACING_ENDPOINT (the full traces URL); OTEL_SDK_DISABLED=true turns them off.
    tracing_endpoint: str | None = None
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    otel_sdk_disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    db_pool_size: int = Field(default=10, ge=1)
    db_echo: bool = False
    # freeze what a serving process holds at start and collect its young objects less often
    # (app/core/gctuning.py)
    gc_tuning: bool = True

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not (value.startswith("postgresql+asyncpg://") or value.startswith("sqlite+aiosqlite://")):
            raise ValueError("DATABASE_URL must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("territory_bbox")
    @classmethod
    def _extent(cls, value: str) -> str:
        try:
            lon_min, lat_min, lon_max, lat_max = (float(part) for part in value.split(","))
        except ValueError:
            raise ValueError("territory_bbox must be lon_min,lat_min,lon_max,lat_max (WGS 84)") from None
        if not (-180 <= lon_min < lon_max <= 180 and -85 <= lat_min < lat_max <= 85):
            raise ValueError("territory_bbox must have lon_min < lon_max and lat_min < lat_max, in WGS 84")
        if (lon_max - lon_min) * (lat_max - lat_min) > 0.25:
            raise ValueError(
                "territory_bbox covers at most a quarter of a square degree (its grid cells are all published)"
            )
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, value: str) -> str:
        from app.dashboard.tiles import check_tile_url

        return check_tile_url(value)

    @field_validator("map_tile_attribution")
    @classmethod
    def _tile_attribution(cls, value: str) -> str:
        from app.dashboard.tiles import check_attribution

        return check_attribution(value)

    @field_validator("factor_set")
    @classmethod
    def _known_set(cls, value: str) -> str:
        from app.emissions import FACTOR_SETS

        if value not in FACTOR_SETS:
            raise ValueError(f"unknown factor set {value!r}; known: {', '.join(FACTOR_SETS)}")
        return value

    @field_validator("emission_components")
    @classmethod
    def _known_components(cls, value: str) -> str:
        from app.emissions import COMPONENTS

        parts = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in parts if p not in COMPONENTS]
        if unknown or not parts:
            raise ValueError(f"emission components are a comma-separated subset of {', '.join(COMPONENTS)}")
        return ",".join(parts)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):  # not found is a KeyError, which pydantic would not catch
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Paris)") from None
        return value

    @model_validator(mode="after")
    def _production_safety(self) -> Settings:
        """Production refuses placeholders where a real value is owed to people and operators."""
        if self.environment == "production":
            problems = []
            if self.controller_email.endswith("example.org"):
                problems.append("COACHCO2_CONTROLLER_EMAIL (consent receipts must name a real contact)")
            if self.privacy_policy_url == "/privacy":
                problems.append("COACHCO2_PRIVACY_POLICY_URL (consent receipts must link the real policy)")
            if "*" in self.cors_origin_list:
                problems.append("COACHCO2_CORS_ORIGINS=* (name the allowed origins)")
            own_port = self.metrics_port or self.worker_metrics_port
            if own_port and self.metrics_host not in LOOPBACK_HOSTS and self.metrics_token is None:
                problems.append("COACHCO2_METRICS_HOST beyond loopback without COACHCO2_METRICS_TOKEN")
            if problems:
                raise ValueError("production mode refuses default or unsafe settings: " + "; ".join(problems))
        return self

    @property
    def openpath_subgroup_list(self) -> list[str]:
        return [name for name in self.openpath_subgroups.split(",") if name]

    @property
    def docs(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.environment == "development"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def emission_policy(self) -> EmissionPolicy:
        from app.emissions import FACTOR_SETS, EmissionPolicy

        return EmissionPolicy(FACTOR_SETS[self.factor_set], frozenset(self.emission_components.split(",")))

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def traces_url(self) -> str | None:
        """Where spans are sent (OTLP/HTTP), or None when tracing is off."""
        if self.otel_sdk_disabled:
            return None
        explicit = self.tracing_endpoint or self.otel_exporter_otlp_traces_endpoint
        if explicit:
            return explicit
        if self.otel_exporter_otlp_endpoint:
            # the OTLP exporter specification: a base URL gets the signal's path appended
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
