"""Readiness: is the database answering, how busy is the pool, are migrations pending.

The check runs on a dedicated connection, not one from the pool, so it answers even when every pooled
connection is taken; results are cached briefly so several load balancers polling every second cost one
query a second. A broken dedicated connection is replaced on the next check, so readiness returns to 200
by itself when the database comes back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pypika import PostgreSQLQuery as Query
from pypika import Table

from service.config import Settings
from service.db.migrations import migration_versions
from service.db.pool import connect_options, pool_stats
from service.ops.metrics import PENDING_MIGRATIONS

log = logging.getLogger(__name__)

_migrations = Table("schema_migrations")
_APPLIED_VERSIONS = Query.from_(_migrations).select(_migrations.version).get_sql()


async def applied_versions(conn: asyncpg.Connection) -> set[str]:
    """The migration versions dbmate recorded (read without dbmate, which the Docker image does not have)."""
    try:
        return {row["version"] for row in await conn.fetch(_APPLIED_VERSIONS)}
    except asyncpg.UndefinedTableError:
        return set()  # reachable, but never migrated


@dataclass
class HealthResult:
    up: bool
    response_time_ms: float
    connections: dict[str, int]
    pending_migrations: list[str] | None
    error: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ready(self) -> bool:
        return self.up and not self.pending_migrations

    def to_json(self) -> dict[str, Any]:
        database: dict[str, Any] = {
            "status": "up" if self.up else "down",
            "responseTime": round(self.response_time_ms, 2),
            "connections": self.connections,
        }
        if self.error:
            database["error"] = self.error
        return {
            "status": "ready" if self.ready else "unavailable",
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "database": database,
            "migrations": {"pending": self.pending_migrations},
        }


class HealthChecker:
    def __init__(self, settings: Settings, migrations_dir: Path | None = None) -> None:
        self._settings = settings
        self._known_versions = migration_versions(migrations_dir or settings.migrations_dir)
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._cached: HealthResult | None = None
        self._cached_at = 0.0

    async def check(self, pool: asyncpg.Pool | None) -> HealthResult:
        async with self._lock:  # concurrent polls share one query
            fresh = time.monotonic() - self._cached_at < self._settings.health_cache_seconds
            if self._cached is None or not fresh:
                self._cached = await self._probe()
                self._cached_at = time.monotonic()
            self._cached.connections = pool_stats(pool)  # free to read, so always current
            return self._cached

    async def _probe(self) -> HealthResult:
        started = time.perf_counter()
        try:
            applied = await asyncio.wait_for(self._applied_versions(), self._settings.health_timeout)
        except Exception as exc:  # any failure means "not ready"; the reason is logged, not leaked
            await self._drop_connection()
            elapsed = (time.perf_counter() - started) * 1000
            reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("readiness check failed after %.0f ms: %s", elapsed, reason)
            return HealthResult(False, elapsed, {}, None, error=reason)
        elapsed = (time.perf_counter() - started) * 1000
        pending = None if self._known_versions is None else sorted(set(self._known_versions) - applied)
        if pending is not None:
            PENDING_MIGRATIONS.set(len(pending))
        return HealthResult(True, elapsed, {}, pending)

    async def _applied_versions(self) -> set[str]:
        for attempt in (1, 2):  # a connection broken by a database restart is replaced at once
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(**connect_options(self._settings))
            try:
                return await applied_versions(self._conn)
            except Exception:
                await self._drop_connection()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        await self._drop_connection()
