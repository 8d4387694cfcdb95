"""A real PostgreSQL stopped and started again under a running service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.db.embedded import EmbeddedPostgres
from service.db.migrations import MigrationRunner
from tests.conftest import MIGRATIONS_DIR
from tests.support import free_port, live_server, with_database
from tests.test_pool import app_with_test_routes


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own (the session's server must keep running for the others)."""
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port(), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")


async def wait_for_status(http: httpx.AsyncClient, path: str, status: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await http.get(path)).status_code == status:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} did not answer {status} within {within}s")


@pytest.mark.slow
async def test_readiness_turns_503_when_database_stops_and_recovers_by_itself(own_server: EmbeddedPostgres) -> None:
    url = with_database(own_server.url, "flowcrm")
    MigrationRunner(url, MIGRATIONS_DIR).up()
    app = app_with_test_routes(url, DB_CONNECT_TIMEOUT=1, DB_ACQUIRE_TIMEOUT=1)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            assert (await http.get("/health/ready")).status_code == 200
            assert (await http.get("/test/sleep", params={"seconds": 0})).status_code == 200

            own_server.stop(mode="fast")
            started = time.monotonic()
            down = await http.get("/health/ready")
            # Promptly, not after the client's 30 s: bounded by HEALTH_TIMEOUT (generously: the machine may be busy).
            assert down.status_code == 503 and time.monotonic() - started < 15
            assert down.json()["database"]["status"] == "down"
            assert (await http.get("/health")).status_code == 200  # liveness never touches the database

            started = time.monotonic()
            failed = await http.get("/test/sleep", params={"seconds": 0})
            assert failed.status_code == 503 and time.monotonic() - started < 15  # DB_CONNECT/ACQUIRE_TIMEOUT=1
            assert failed.headers["Retry-After"]
            assert failed.json()["error"]["code"] in {"DATABASE_UNAVAILABLE", "DATABASE_BUSY"}

            own_server.start()
            await wait_for_status(http, "/health/ready", 200, within=30)
            # The pool drops its dead connections and serves again, without a restart.
            await wait_for_status(http, "/test/sleep?seconds=0", 200, within=30)
            results = [await http.get("/test/sleep", params={"seconds": 0}) for _ in range(5)]
            assert [r.status_code for r in results] == [200] * 5
