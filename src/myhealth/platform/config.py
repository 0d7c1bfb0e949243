"""Configuration: one typed settings layer, read once from the environment and validated.

Each command asks for the settings class it needs (`load(ProcessorSettings, environ)`).
A missing or invalid value raises `ConfigError` whose message is one line naming the
variable; `myhealth.cli` prints it and exits non-zero. Secrets are `SecretStr` so they never
appear in reprs or logs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


class BaseServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, env_ignore_empty=True
    )

    LOG_LEVEL: str = "info"

    @field_validator("LOG_LEVEL")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return level


class DatabaseSettings(BaseServiceSettings):
    DATABASE_URL: SecretStr

    @field_validator("DATABASE_URL")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// connection string")
        return value

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL.get_secret_value()


class HttpServiceSettings(DatabaseSettings):
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8080, ge=1, le=65535)


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class OuraSettings(DatabaseSettings):
    """Settings shared by `collect` and `auth login`."""

    USER_TIMEZONE: str = "UTC"
    OURA_API_BASE_URL: AnyHttpUrl = AnyHttpUrl("https://api.ouraring.com")
    OURA_TOKEN_URL: AnyHttpUrl = AnyHttpUrl("https://api.ouraring.com/oauth/token")
    OURA_AUTHORIZE_URL: AnyHttpUrl = AnyHttpUrl("https://cloud.ouraring.com/oauth/authorize")
    OURA_CLIENT_ID: str | None = None
    OURA_CLIENT_SECRET: SecretStr | None = None
    OURA_REFRESH_TOKEN: SecretStr | None = None
    OURA_API_KEY: SecretStr | None = None

    _tz = field_validator("USER_TIMEZONE")(classmethod(lambda cls, v: _zone(v)))

    @property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.USER_TIMEZONE)

    def today(self) -> dt.date:
        return dt.datetime.now(self.timezone).date()


class CollectorSettings(OuraSettings):
    OURA_BACKFILL_START: dt.date = dt.date(2018, 1, 1)
    OURA_REFETCH_DAYS: int = Field(default=7, ge=0, le=365)
    # While webhooks deliver (an event within WEBHOOK_HEALTHY_HOURS) the poll re-fetches only
    # this many trailing days (docs/webhooks.md#polling).
    OURA_REFETCH_DAYS_WITH_WEBHOOKS: int = Field(default=2, ge=0, le=365)
    WEBHOOK_HEALTHY_HOURS: float = Field(default=6.0, gt=0, le=24 * 30)
    PROCESSOR_URL: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8081")
    INGEST_TOKEN: SecretStr | None = None
    COLLECT_CONCURRENCY: int = Field(default=4, ge=1, le=32)
    COLLECT_BATCH_SIZE: int = Field(default=500, ge=1, le=20000)
    # Runs older than this are deleted at the end of each run (the latest run of each final
    # status and each type's latest success are always kept: the freshness metrics read them).
    SYNC_RUN_RETENTION_DAYS: int = Field(default=90, ge=1, le=3660)


class ProcessorSettings(HttpServiceSettings):
    PORT: int = Field(default=8081, ge=1, le=65535)
    INGEST_TOKEN: SecretStr | None = None
    INGEST_MAX_BYTES: int = Field(default=10_485_760, ge=1024)
    # The insight gauges date the latest day by its local midnight, and the daily heart-rate
    # rollup's days are local days; the API's zone must be the same for it to read the rollup
    # (docs/architecture.md#the-daily-heart-rate-rollup).
    USER_TIMEZONE: str = "UTC"

    _tz = field_validator("USER_TIMEZONE")(classmethod(lambda cls, v: _zone(v)))
    # The webhook worker (docs/webhooks.md#worker): on, it also needs the Oura settings
    # `collect` uses (OuraSettings), read when it starts.
    WEBHOOK_WORKER_ENABLED: bool = False
    WEBHOOK_POLL_SECONDS: float = Field(default=1.0, gt=0, le=60)


class ApiSettings(HttpServiceSettings):
    PORT: int = Field(default=8080, ge=1, le=65535)
    USER_TIMEZONE: str = "UTC"
    API_KEY: SecretStr
    JWT_SECRET: SecretStr
    JWT_TTL_SECONDS: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # Refuse tokens issued for an earlier API_KEY (rotating the key then logs everyone out).
    JWT_REQUIRE_CURRENT_API_KEY: bool = False
    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    RATE_LIMIT_PER_MINUTE: int = Field(default=100, ge=1)
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = []
    API_MAX_BODY_BYTES: int = Field(default=16_384, ge=256)
    API_REQUEST_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # Graceful shutdown: after SIGTERM /ready fails for this long before the server drains.
    API_SHUTDOWN_DELAY_SECONDS: float = Field(default=3.0, ge=0, le=60)
    # Oura webhooks (docs/webhooks.md#receiver): both set turn /webhooks/oura on.
    OURA_WEBHOOK_VERIFICATION_TOKEN: SecretStr | None = None
    OURA_CLIENT_SECRET: SecretStr | None = None
    WEBHOOK_MAX_BODY_BYTES: int = Field(default=4096, ge=256, le=65_536)
    WEBHOOK_RATE_LIMIT_PER_MINUTE: int = Field(default=600, ge=1)
    WEBHOOK_REPLAY_WINDOW_SECONDS: int = Field(default=300, ge=10, le=3600)

    @property
    def webhooks_enabled(self) -> bool:
        return self.OURA_WEBHOOK_VERIFICATION_TOKEN is not None and (
            self.OURA_CLIENT_SECRET is not None
        )

    _tz = field_validator("USER_TIMEZONE")(classmethod(lambda cls, v: _zone(v)))

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return value

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
                raise ValueError(f"{origin!r} is not an origin like https://example.com")
        return value

    @field_validator("CORS_ORIGINS", "TRUSTED_PROXIES", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("JWT_SECRET")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 key)")
        return value

    @property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.USER_TIMEZONE)


class WebhookSettings(BaseServiceSettings):
    """`myhealth webhooks ...`: Oura's subscription API takes the application's credentials
    (docs/webhooks.md#subscriptions); no database is needed."""

    OURA_API_BASE_URL: AnyHttpUrl = AnyHttpUrl("https://api.ouraring.com")
    OURA_CLIENT_ID: str
    OURA_CLIENT_SECRET: SecretStr
    OURA_WEBHOOK_VERIFICATION_TOKEN: SecretStr | None = None
    WEBHOOK_CALLBACK_URL: AnyHttpUrl | None = None
    WEBHOOK_RENEW_WITHIN_DAYS: float = Field(default=7.0, gt=0, le=365)


class SandboxSettings(BaseServiceSettings):
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8090, ge=1, le=65535)
    SANDBOX_SEED: int = 42
    USER_TIMEZONE: str = "UTC"

    _tz = field_validator("USER_TIMEZONE")(classmethod(lambda cls, v: _zone(v)))


class McpSettings(DatabaseSettings):
    """`myhealth mcp` (docs/mcp.md); its transport and port are command-line options."""

    USER_TIMEZONE: str = "UTC"

    _tz = field_validator("USER_TIMEZONE")(classmethod(lambda cls, v: _zone(v)))


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(settings_class: type[SettingsT], environ: Mapping[str, str]) -> SettingsT:
    """Build `settings_class` from `environ` only; raise ConfigError naming the variable."""
    known = set(settings_class.model_fields)
    values = {key: value for key, value in environ.items() if key in known and value != ""}
    try:
        return settings_class.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = ".".join(str(part) for part in error["loc"]) or "configuration"
        if error["type"] == "missing":
            raise ConfigError(f"{variable} is required but not set") from None
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{variable} is invalid: {message}") from None
