"""One `flowcrm db up` at a time on a database, without deadlocking a concurrent index build.

dbmate's own `--migration-lock` makes the second dbmate wait inside `SELECT pg_advisory_lock(...)`, a statement
that holds a snapshot. CREATE INDEX CONCURRENTLY, run by the first dbmate, waits for every transaction older
than its own snapshot: for that waiter, which waits for the first: a deadlock, which PostgreSQL ends by
cancelling one of them, possibly the build (an INVALID index left; tests/test_migrations_online.py). Here the
waiter polls `pg_try_advisory_lock`, each try a transaction that ends at once, and the holder's session stays
idle while dbmate works, so no build ever waits for either. The key is not dbmate's, so a `dbmate
--migration-lock` somewhere else never enters the same cycle.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg

MIGRATION_LOCK_KEY = 7_466_000_012  # arbitrary, fixed: every flowcrm process must use the same
WAIT_SECONDS = 300  # as long as dbmate's --migration-lock-timeout: another `db up` may be building indexes
POLL_SECONDS = 0.5


class MigrationLockTimeout(RuntimeError):
    """Another `flowcrm db up` held the lock longer than WAIT_SECONDS."""


class _Holder(threading.Thread):
    """Takes the lock on a connection of its own (on a thread with its own event loop, so callers may be
    synchronous or inside a running loop) and keeps the session open until told to let go."""

    def __init__(self, database_url: str, create_database: Callable[[], None]) -> None:
        super().__init__(name="flowcrm-migration-lock", daemon=True)
        self.database_url = database_url
        self.create_database = create_database
        self.acquired = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._hold())
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
            self.acquired.set()

    async def _connect(self) -> asyncpg.Connection:
        settings = {"application_name": "flowcrm-migrations"}
        try:
            return await asyncpg.connect(self.database_url, server_settings=settings)
        except asyncpg.InvalidCatalogNameError:  # `dbmate up` creates a missing database: so do we, first
            self.create_database()
            return await asyncpg.connect(self.database_url, server_settings=settings)

    async def _hold(self) -> None:
        conn = await self._connect()
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY):
                if time.monotonic() > deadline:
                    raise MigrationLockTimeout(
                        f"another `flowcrm db up` has been migrating this database for more than {WAIT_SECONDS} s"
                    )
                await asyncio.sleep(POLL_SECONDS)
            self.acquired.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        finally:
            await conn.close()  # the session ends: the lock is released


@contextmanager
def migration_lock(database_url: str, *, create_database: Callable[[], None]) -> Iterator[None]:
    holder = _Holder(database_url, create_database)
    holder.start()
    holder.acquired.wait()
    try:
        if holder.error is not None:
            raise holder.error
        yield
    finally:
        holder.release.set()
        holder.join()
