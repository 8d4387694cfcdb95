"""Settings from the environment: validation at start, secrets, SSL options."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys

import pytest
from pydantic import ValidationError

from service.config import Settings, redact_url
from service.db.pool import connect_options


def test_production_refuses_the_default_or_a_weak_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(ENVIRONMENT="production", DATABASE_URL="postgresql://x@h/db")
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(ENVIRONMENT="production", JWT_SECRET="short")
    assert Settings(ENVIRONMENT="production", JWT_SECRET="x" * 40).jwt_secret == "x" * 40


def test_serve_in_production_without_a_secret_exits_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    env.update(ENVIRONMENT="production", DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


def test_pool_limits_are_checked() -> None:
    with pytest.raises(ValidationError):
        Settings(DB_POOL_MIN=30, DB_POOL_MAX=20)


def test_the_page_cache_size_is_checked() -> None:
    with pytest.raises(ValidationError, match="PAGE_CACHE_MB"):
        Settings(PAGE_CACHE_MB=-1)
    assert Settings(PAGE_CACHE_MB=0).page_cache_mb == 0  # off
    assert Settings().page_cache_mb == 16


def test_ssl_modes() -> None:
    assert "ssl" not in connect_options(Settings(DATABASE_URL="postgresql://x@h/db"))
    assert connect_options(Settings(DATABASE_URL="postgresql://x@h/db", DB_SSL_MODE="require"))["ssl"] == "require"
    with pytest.raises(ValidationError, match="DB_SSL_ROOT_CERT"):
        Settings(DB_SSL_MODE="verify-full")
    context = connect_options(
        Settings(
            DATABASE_URL="postgresql://x@h/db",
            DB_SSL_MODE="verify-full",
            DB_SSL_ROOT_CERT=ssl.get_default_verify_paths().openssl_cafile,
        )
    )["ssl"]
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_statement_timeout_and_utc_are_set_on_every_connection() -> None:
    options = connect_options(Settings(DATABASE_URL="postgresql://x@h/db", DB_STATEMENT_TIMEOUT=3))
    assert options["server_settings"]["statement_timeout"] == "3000"
    assert options["server_settings"]["timezone"] == "UTC"
    assert options["timeout"] == 2.0


def test_passwords_never_reach_the_logs() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/crm") == "postgresql://app:***@db:5432/crm"
    assert redact_url("postgresql://app@db/crm") == "postgresql://app@db/crm"


def test_cors_origins_from_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://crm.example.com, http://localhost:5173")
    assert Settings().cors_origins == ["https://crm.example.com", "http://localhost:5173"]


def test_the_shutdown_delay_defaults_to_5_seconds_in_production_only() -> None:
    assert Settings(ENVIRONMENT="production", JWT_SECRET="x" * 40).shutdown_delay_seconds == 5
    assert Settings(ENVIRONMENT="development").shutdown_delay_seconds == 0
    assert Settings(ENVIRONMENT="test").shutdown_delay_seconds == 0
    assert (
        Settings(ENVIRONMENT="production", JWT_SECRET="x" * 40, SHUTDOWN_DELAY_SECONDS="0.5").shutdown_delay_seconds
        == 0.5
    )
    assert Settings().shutdown_timeout_seconds == 30
    with pytest.raises(ValidationError):
        Settings(SHUTDOWN_DELAY_SECONDS="-1")
