"""`flowcrm serve`'s check in the main process, before any worker starts: the database answers (retried as the
pool does), and which migrations are still to apply."""

from __future__ import annotations

import asyncpg

from service.config import Settings
from service.db.health import applied_versions
from service.db.migrations import migration_versions
from service.db.pool import connect_options, with_startup_retries


async def pending_migrations(settings: Settings) -> list[str]:
    """The versions of the migration files the database has not applied; DatabaseUnavailable (one-line message)
    when it does not answer within DB_STARTUP_TIMEOUT."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(**connect_options(settings))

    conn, _attempts = await with_startup_retries(settings, connect)
    try:
        applied = await applied_versions(conn)
    finally:
        await conn.close()
    return sorted(set(migration_versions(settings.migrations_dir) or []) - applied)
