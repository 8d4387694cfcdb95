"""The asyncpg pool: opened with retries at start, one connection per request, closed at stop."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
from litestar.datastructures import State

from service.config import Settings
from service.errors import DatabaseUnavailable, Unavailable
from service.ops.metrics import POOL_WAITING

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a database that is down, unreachable or starting up raises on connect.
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup, once when the connection opens: jsonb as Python objects."""
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads)


async def _no_session_state_reset(conn: asyncpg.Connection) -> None:
    """Replace asyncpg's reset query on release (one round trip per request).

    asyncpg still rolls back an open transaction before calling this. The service never changes session
    state (no SET outside a transaction's SET LOCAL, no LISTEN, session advisory locks or temp tables), so
    there is nothing else to reset.
    """


def connect_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for asyncpg.connect / create_pool shared by the pool and the health checker.

    timezone and application_name travel as startup parameters; PgBouncer tracks both per client and sets
    them on whichever server connection serves a transaction. statement_timeout is not one PgBouncer
    tracks (it refuses the connection), so with DB_PGBOUNCER it comes from the role or database settings.
    """
    server_settings = {
        "timezone": "UTC",  # timestamps are stored without zone, in UTC
        "application_name": "flowcrm",
    }
    options: dict[str, Any] = {
        "dsn": settings.database_url,
        "timeout": settings.db_connect_timeout,
        # A client-side bound past the server's statement_timeout, so a dead network cannot hang a request.
        "command_timeout": settings.db_statement_timeout + 2,
        "server_settings": server_settings,
    }
    if settings.db_pgbouncer:
        # Transaction pooling: consecutive transactions may run on different server connections, so no
        # named prepared statements (PgBouncer < 1.21 cannot carry them over); asyncpg then re-parses an
        # unnamed statement in the same round trip as its execution.
        options["statement_cache_size"] = 0
    else:
        server_settings["statement_timeout"] = str(_timeout_ms(settings))
    if settings.db_ssl_mode == "verify-full":
        context = ssl.create_default_context(cafile=str(settings.db_ssl_root_cert))
        context.check_hostname = True
        options["ssl"] = context
    elif settings.db_ssl_mode is not None:
        options["ssl"] = settings.db_ssl_mode
    return options


def _timeout_ms(settings: Settings) -> int:
    return int(settings.db_statement_timeout * 1000)


_SESSION_DEFAULTS = (
    "SELECT current_setting('TimeZone') AS timezone,"
    " (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout') AS statement_timeout"
)


async def check_session_defaults(pool: asyncpg.Pool, settings: Settings) -> None:
    """Behind PgBouncer: warn when the server's time zone or statement_timeout is not what the service needs."""
    try:
        async with pool.acquire(timeout=settings.db_acquire_timeout) as conn:
            row = await conn.fetchrow(_SESSION_DEFAULTS)
    except _CONNECT_ERRORS as exc:
        log.warning("could not read the server connections' time zone and statement_timeout: %s", exc)
        return
    assert row is not None  # a SELECT without FROM gives one row
    if row["timezone"] != "UTC":
        log.error(
            "server connections use time zone %s, not UTC: timestamps would be stored wrong; PgBouncer "
            "must not drop the timezone startup parameter (or: ALTER DATABASE ... SET timezone = 'UTC')",
            row["timezone"],
        )
    if row["statement_timeout"] != _timeout_ms(settings):
        log.warning(
            "statement_timeout on server connections is %d ms, DB_STATEMENT_TIMEOUT says %d ms; behind "
            "PgBouncer set it on the role: ALTER ROLE <user> SET statement_timeout = '%dms'",
            row["statement_timeout"],
            _timeout_ms(settings),
            _timeout_ms(settings),
        )


async def with_startup_retries(settings: Settings, connect: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """`connect()` retried with exponential backoff and jitter until DB_STARTUP_TIMEOUT runs out; its result and
    the number of attempts. Shared by the pool (each worker) and `flowcrm serve`'s check before the workers start.
    DatabaseUnavailable, with the whole reason in its one-line message, once the time is up."""
    deadline = time.monotonic() + settings.db_startup_timeout
    delay = 0.25
    attempt = 0
    while True:
        attempt += 1
        try:
            return await connect(), attempt
        except _CONNECT_ERRORS as exc:
            remaining = deadline - time.monotonic()
            reason = f"{type(exc).__name__}: {exc}"
            if remaining <= 0:
                raise DatabaseUnavailable(
                    f"could not connect to the database at {settings.database_url_redacted} after {attempt} "
                    f"attempt(s) in {settings.db_startup_timeout:.0f}s; last error: {reason}. Check DATABASE_URL "
                    "and that PostgreSQL is running"
                ) from exc
            pause = min(delay * random.uniform(0.5, 1.5), remaining)
            log.warning("database connection attempt %d failed (%s); retrying in %.2fs", attempt, reason, pause)
            await asyncio.sleep(pause)
            delay = min(delay * 2, 5.0)


async def open_pool(settings: Settings) -> asyncpg.Pool:
    """Create the pool, retrying (with_startup_retries) until DB_STARTUP_TIMEOUT runs out."""

    async def create() -> asyncpg.Pool:
        return await asyncpg.create_pool(
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            max_inactive_connection_lifetime=settings.db_idle_timeout,
            reset=_no_session_state_reset,
            init=init_connection,
            **connect_options(settings),
        )

    try:
        pool, attempts = await with_startup_retries(settings, create)
    except DatabaseUnavailable as exc:
        log.critical("%s; giving up.", exc.message)
        raise
    log.info(
        "database pool open (attempt %d): %s, min %d, max %d%s",
        attempts,
        settings.database_url_redacted,
        settings.db_pool_min,
        settings.db_pool_max,
        ", through PgBouncer (transaction pooling)" if settings.db_pgbouncer else "",
    )
    if settings.db_pgbouncer:
        await check_session_defaults(pool, settings)
    return pool


# The pool hands out a PoolConnectionProxy: not a Connection subclass, but asyncpg gives it every Connection method
# (forwarded to the connection it holds), so the code takes it as the Connection it stands for (the casts).
async def acquire(state: State) -> asyncpg.Connection:
    """A pooled connection for one request; give it back with `state.pool.release(conn)`.

    When no connection frees up within DB_ACQUIRE_TIMEOUT the request ends in 503 with Retry-After,
    so an overloaded or unreachable database never makes a request hang.
    """
    pool: asyncpg.Pool = state.pool
    try:
        if pool.get_idle_size():
            # A connection is free: take it without arming the timeout, which on Python < 3.12 makes asyncpg
            # run the acquisition as a task of its own (a visible share of a simple read's CPU, bench/README.md).
            # Free connections wait in a LIFO queue, so this one was in use a moment ago.
            return cast(asyncpg.Connection, await pool.acquire())
        with POOL_WAITING.track_inprogress():  # the pool's "waiting" gauge (service/ops/metrics.py)
            return cast(asyncpg.Connection, await pool.acquire(timeout=state.settings.db_acquire_timeout))
    except TimeoutError as exc:
        raise Unavailable("All database connections are busy, please retry", code="DATABASE_BUSY") from exc
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable() from exc


async def provide_connection(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Litestar dependency `conn` for the public routes (login, logout); protected routes get theirs with the
    verified user in one dependency (`session`, service/auth/current_user.py)."""
    conn = await acquire(state)
    try:
        yield conn
    finally:
        await state.pool.release(conn)


def pool_stats(pool: asyncpg.Pool | None) -> dict[str, int]:
    if pool is None:
        return {"active": 0, "idle": 0, "total": 0, "max": 0}
    total = pool.get_size()
    idle = pool.get_idle_size()
    return {"active": total - idle, "idle": idle, "total": total, "max": pool.get_max_size()}
