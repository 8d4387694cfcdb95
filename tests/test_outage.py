"""A real PostgreSQL stopped and started again under a running service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.db.embedded import EmbeddedPostgres
from service.db.migrations import MigrationRunner
from tests.conftest import MIGRATIONS_DIR
from tests.support import free_port, live_server, wait_until, with_database
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


# "Promptly, not hanging": the service's own bounds (HEALTH_TIMEOUT 1.5 s, DB_CONNECT/ACQUIRE_TIMEOUT 1 s)
# are far below this client timeout, which only a hang reaches, however busy the machine.
HANG = 15


async def wait_for_status(http: httpx.AsyncClient, path: str, status: int) -> None:
    async def answers() -> bool:
        return (await http.get(path)).status_code == status

    await wait_until(answers, within=30, interval=0.1, what=f"{path} answering {status}")


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
            down = await http.get("/health/ready", timeout=HANG)
            assert down.status_code == 503
            assert down.json()["database"]["status"] == "down"
            assert (await http.get("/health")).status_code == 200  # liveness never touches the database

            failed = await http.get("/test/sleep", params={"seconds": 0}, timeout=HANG)
            assert failed.status_code == 503
            assert failed.headers["Retry-After"]
            assert failed.json()["error"]["code"] in {"DATABASE_UNAVAILABLE", "DATABASE_BUSY"}

            own_server.start()
            await wait_for_status(http, "/health/ready", 200)
            # The pool drops its dead connections and serves again, without a restart.
            await wait_for_status(http, "/test/sleep?seconds=0", 200)
            results = [await http.get("/test/sleep", params={"seconds": 0}) for _ in range(5)]
            assert [r.status_code for r in results] == [200] * 5
