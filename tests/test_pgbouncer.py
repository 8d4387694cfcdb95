"""The service's connections are in UTC with the statement timeout in effect, directly and behind PgBouncer.

These run in every run; in `.ci/run`'s PgBouncer run (TEST_PGBOUNCER_URL) the apps connect through a
PgBouncer in transaction pooling mode, where consecutive transactions share server connections with other
clients, so they check that the scheme of README "Scaling out behind PgBouncer" holds there.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from service.auth.token_cache import TokenCache, listen_for_auth_changes
from service.config import Settings
from service.db.pool import connect_options, open_pool
from tests.conftest import PGBOUNCER_URL, make_settings

# Server and test clocks may differ a little (another host); a time zone mistake is an hour or more.
CLOCK_SKEW = timedelta(seconds=5)


def utc_wall_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_behind_pgbouncer_no_statement_cache_and_no_statement_timeout_startup_parameter() -> None:
    direct = connect_options(Settings(DATABASE_URL="postgresql://x@h/db", DB_STATEMENT_TIMEOUT=3))
    assert "statement_cache_size" not in direct and direct["server_settings"]["statement_timeout"] == "3000"

    bounced = connect_options(Settings(DATABASE_URL="postgresql://x@h/db", DB_PGBOUNCER=True))
    assert bounced["statement_cache_size"] == 0
    assert bounced["server_settings"] == {"timezone": "UTC", "application_name": "flowcrm"}  # PgBouncer tracks these


def test_behind_pgbouncer_tokens_are_not_cached() -> None:
    """LISTEN needs a session of its own, which transaction pooling does not give: no listener, no cache."""
    cache = TokenCache(10)
    assert listen_for_auth_changes(Settings(DATABASE_URL="postgresql://x@h/db", DB_PGBOUNCER=True), cache) is None
    assert listen_for_auth_changes(Settings(DATABASE_URL="postgresql://x@h/db", AUTH_CACHE_SECONDS=0), cache) is None
    assert not cache.trusted


async def test_every_pooled_connection_is_utc_with_the_statement_timeout(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, DB_POOL_MIN=0, DB_POOL_MAX=4)
    assert settings.db_pgbouncer == bool(PGBOUNCER_URL)
    # Another client of the same database in another time zone goes first: behind PgBouncer it leaves its
    # time zone on the server connections that the service's transactions get next.
    foreign = await asyncpg.connect(
        settings.database_url, statement_cache_size=0, server_settings={"timezone": "America/Sao_Paulo"}
    )
    try:
        assert await foreign.fetchval("SELECT current_setting('TimeZone')") == "America/Sao_Paulo"
    finally:
        await foreign.close()

    with caplog.at_level(logging.WARNING, logger="service.db.pool"):
        pool = await open_pool(settings)
    try:
        assert not caplog.records  # the start-up check found UTC and the statement timeout

        all_read = asyncio.Barrier(4)

        async def probe() -> asyncpg.Record:
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT current_setting('TimeZone') AS tz, now()::timestamp AS local_now,"
                    " (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout') AS timeout_ms"
                )
                # Held until all four have read: four connections (server connections behind PgBouncer) at once.
                await asyncio.wait_for(all_read.wait(), 30)
                return row

        before = utc_wall_clock()
        rows = await asyncio.gather(*(probe() for _ in range(4)))
        after = utc_wall_clock()
        for row in rows:
            assert row["tz"] == "UTC"
            assert row["timeout_ms"] == int(settings.db_statement_timeout * 1000)
            # what a `timestamp without time zone DEFAULT now()` column stores: the UTC wall clock
            assert before - CLOCK_SKEW <= row["local_now"] <= after + CLOCK_SKEW
    finally:
        await pool.close()


async def test_created_at_is_the_utc_now(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    before = datetime.now(UTC)
    created = await client.post(
        "/api/customers",
        headers=admin_headers,
        json={
            "name": "Maria da Silva",
            "email": "maria@example.com",
            "phone": "(11) 98765-4321",
            "cpf": "529.982.247-25",
        },
    )
    assert created.status_code == 201, created.text
    stamp = datetime.fromisoformat(created.json()["data"]["createdAt"])  # aware: its offset counts
    assert before - CLOCK_SKEW <= stamp <= datetime.now(UTC) + CLOCK_SKEW
