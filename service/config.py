"""Settings from the environment: one validated object, read once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JWT_SECRET = "dev-only-insecure-secret-change-me"


def redact_url(url: str) -> str:
    """The URL with its password replaced, safe for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field("development", alias="ENVIRONMENT")
    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(3000, ge=1, le=65535, alias="PORT")

    # Database. Without DATABASE_URL `flowcrm serve` starts an embedded PostgreSQL in EMBEDDED_PG_DIR.
    database_url: str | None = Field(None, alias="DATABASE_URL")
    embedded_pg_dir: Path = Field(Path(".data/postgres"), alias="EMBEDDED_PG_DIR")
    migrations_dir: Path = Field(PROJECT_ROOT / "db" / "migrations", alias="MIGRATIONS_DIR")

    db_pool_min: int = Field(2, ge=0, alias="DB_POOL_MIN")
    db_pool_max: int = Field(20, ge=1, alias="DB_POOL_MAX")
    db_idle_timeout: float = Field(30.0, gt=0, alias="DB_IDLE_TIMEOUT")
    db_connect_timeout: float = Field(2.0, gt=0, alias="DB_CONNECT_TIMEOUT")
    db_acquire_timeout: float = Field(2.0, gt=0, alias="DB_ACQUIRE_TIMEOUT")
    db_statement_timeout: float = Field(10.0, gt=0, alias="DB_STATEMENT_TIMEOUT")
    db_startup_timeout: float = Field(30.0, ge=0, alias="DB_STARTUP_TIMEOUT")
    db_ssl_mode: Literal["disable", "require", "verify-full"] | None = Field(None, alias="DB_SSL_MODE")
    db_ssl_root_cert: Path | None = Field(None, alias="DB_SSL_ROOT_CERT")
    # DATABASE_URL is a PgBouncer in transaction pooling mode: no statement cache, and statement_timeout is
    # set on the database role instead of per connection (README, "Scaling out behind PgBouncer").
    db_pgbouncer: bool = Field(False, alias="DB_PGBOUNCER")

    health_timeout: float = Field(1.5, gt=0, alias="HEALTH_TIMEOUT")
    health_cache_seconds: float = Field(1.0, ge=0, alias="HEALTH_CACHE_SECONDS")

    jwt_secret: str = Field(DEFAULT_JWT_SECRET, alias="JWT_SECRET")
    jwt_expires_in: int = Field(24 * 3600, gt=0, alias="JWT_EXPIRES_IN_SECONDS")
    # How long a process may reuse a token it verified (service/auth/token_cache.py); 0 verifies every request.
    auth_cache_seconds: float = Field(10.0, ge=0, alias="AUTH_CACHE_SECONDS")
    # Memory per worker for pages of the big lists kept while their tables are unchanged (service/db/page_cache.py);
    # 0 turns the cache off.
    page_cache_mb: float = Field(16.0, ge=0, alias="PAGE_CACHE_MB")

    # Login rate limits, counted in PostgreSQL for every process and instance (README, "Security"): failed
    # logins per account (lower-cased email) in a sliding window, and login attempts per client IP.
    login_max_failures_per_account: int = Field(5, ge=1, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT")
    login_failure_window_seconds: float = Field(15 * 60.0, gt=0, alias="LOGIN_FAILURE_WINDOW_SECONDS")
    login_max_attempts_per_client: int = Field(20, ge=1, alias="LOGIN_MAX_ATTEMPTS_PER_CLIENT")
    login_client_window_seconds: float = Field(60.0, gt=0, alias="LOGIN_CLIENT_WINDOW_SECONDS")

    # Lame-duck shutdown of `flowcrm serve` (service/ops/shutdown.py): after SIGTERM/SIGINT readiness answers 503
    # and the service keeps serving for SHUTDOWN_DELAY_SECONDS (unset: 5 in production, where a load balancer
    # must notice first, else 0), then stops accepting and gives requests in flight SHUTDOWN_TIMEOUT_SECONDS.
    shutdown_delay_seconds: float | None = Field(None, ge=0, alias="SHUTDOWN_DELAY_SECONDS")
    shutdown_timeout_seconds: int = Field(30, ge=1, alias="SHUTDOWN_TIMEOUT_SECONDS")

    @model_validator(mode="after")
    def _default_shutdown_delay(self) -> Settings:
        if self.shutdown_delay_seconds is None:
            self.shutdown_delay_seconds = 5.0 if self.environment == "production" else 0.0
        return self

    # First admin, created at start when no user has ADMIN_EMAIL (never overwrites an existing password).
    admin_email: str | None = Field(None, alias="ADMIN_EMAIL")
    admin_password: SecretStr | None = Field(None, alias="ADMIN_PASSWORD")
    admin_name: str | None = Field(None, alias="ADMIN_NAME")

    # Comma-separated in the environment: CORS_ORIGINS=https://app.example.com,http://localhost:5173
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173", "http://localhost:3000"],
        alias="CORS_ORIGINS",
    )

    # Peers whose X-Forwarded-For names the real client (a reverse proxy on this host by default, as uvicorn
    # does): the client address of the audit log and of the login limits. Empty: always the peer address.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"], alias="FORWARDED_ALLOW_IPS"
    )

    # Operations (README, "Metrics" and "Logs"): the Prometheus listener `flowcrm serve` runs (off without
    # METRICS_PORT) and the directory its workers share; the log format (json by default in production) and
    # which requests get an access line.
    metrics_port: int | None = Field(None, ge=1, le=65535, alias="METRICS_PORT")
    metrics_host: str = Field("127.0.0.1", alias="METRICS_HOST")
    metrics_dir: Path | None = Field(None, alias="PROMETHEUS_MULTIPROC_DIR")
    log_format: Literal["json", "text"] | None = Field(None, alias="LOG_FORMAT")
    access_log: Literal["all", "errors", "off"] = Field("all", alias="ACCESS_LOG")

    @field_validator("metrics_port", "log_format", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("DB_POOL_MIN must not exceed DB_POOL_MAX")
        if self.db_ssl_mode == "verify-full" and self.db_ssl_root_cert is None:
            raise ValueError("DB_SSL_MODE=verify-full needs DB_SSL_ROOT_CERT (the CA file)")
        if self.environment == "production" and (self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < 32):
            raise ValueError("JWT_SECRET must be set to a random value of at least 32 characters in production")
        return self

    @property  # not cached: `flowcrm serve` copies the settings with the embedded server's URL
    def database_url_redacted(self) -> str:
        return redact_url(self.database_url or "")
