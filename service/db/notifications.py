"""LISTEN on one channel over a dedicated connection that is re-established whenever it is lost.

Pooled connections cannot listen (a notification would reach whichever request holds the connection), so a
listener owns one connection of its own. Its owner learns three things: each notification (`on_notify`), that
the listener is connected and hears everything from now on (`on_connected`), and, as soon as asyncpg notices,
that the connection is gone and notifications may have been missed (`on_lost`). Reconnection uses exponential
backoff with jitter up to 5 s, so a database outage costs one attempt every few seconds per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import asyncpg

from service.config import Settings
from service.db.pool import connect_options

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class ChannelListener:
    def __init__(
        self,
        settings: Settings,
        channel: str,
        *,
        on_notify: Callable[[str], None],
        on_connected: Callable[[asyncpg.Connection], Awaitable[None]],
        on_lost: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._channel = channel
        self._on_notify = on_notify
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen {self._channel}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._connect()
                delay = 0.1
                await self._lost.wait()
                log.warning("the %s listener lost its database connection; reconnecting", self._channel)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("the %s listener could not connect (%s); retrying in %.1f s", self._channel, exc, delay)
            self._on_lost()  # again after a failed attempt: harmless, and covers a failure inside on_connected
            await self._disconnect()
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, MAX_BACKOFF)

    async def _connect(self) -> None:
        self._lost.clear()
        options = connect_options(self._settings)
        options["server_settings"] = {**options["server_settings"], "application_name": f"flowcrm-{self._channel}"}
        conn = await asyncpg.connect(**options)
        self._conn = conn
        conn.add_termination_listener(lambda _conn: self._connection_lost())
        await conn.add_listener(self._channel, lambda _conn, _pid, _channel, payload: self._on_notify(payload))
        # Only now is every later notification certain to arrive: the owner may start trusting what it caches.
        await self._on_connected(conn)

    def _connection_lost(self) -> None:
        self._on_lost()  # at once: the owner must not trust its cache a moment longer
        self._lost.set()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2)
            if not conn.is_closed():
                conn.terminate()
