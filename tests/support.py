"""Test plumbing: a real PostgreSQL per session, a fresh database per test, a live HTTP server."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvicorn
from litestar import Litestar


class Clock:
    """Seconds that only a test moves, for code that takes a `clock` (rate limits, the token cache): windows
    pass without sleeping, whatever the machine's speed. A realistic epoch, so microsecond arithmetic is
    exercised."""

    def __init__(self, now: float = 1_796_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], *, within: float, interval: float = 0.02, what: str = "condition"
) -> None:
    """Poll a predicate (plain or async) until it holds; AssertionError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if await result if inspect.isawaitable(result) else result:
            return
        await asyncio.sleep(interval)  # between polls of the condition
    raise AssertionError(f"{what} not reached within {within}s")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin_execute_async(server_url: str, *statements: str) -> None:
    """Run maintenance statements (CREATE/DROP DATABASE) on the server."""
    conn = await asyncpg.connect(server_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def admin_execute(server_url: str, *statements: str) -> None:
    """The same, from synchronous fixtures."""
    asyncio.run(admin_execute_async(server_url, *statements))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The app served by uvicorn on a thread of its own: real sockets, real concurrency, real lifespan."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=10
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)  # polls the condition above

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def live_server(app: Litestar) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
