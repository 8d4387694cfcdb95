"""Fault tests: each one provokes a real failure (a killed server, a terminated backend, a lock that outlasts
the statement timeout, a real serialization failure or deadlock, SIGTERM, two processes on one database)
and checks what the service promises about it.

Every test here gets a database of its own, cloned from the session's migrated template, so what it sees in
pg_stat_activity (backends of `application_name = 'flowcrm'` on `current_database()`) is its own app's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.conftest import ROOT, make_settings
from tests.support import admin_execute, free_port, unique_name, with_database

JWT_SECRET = "faults-test-secret-0123456789-abcdefghijklmnop"  # shared by the subprocesses and the signer


@contextmanager
def cloned_database(server_url: str, template: str) -> Iterator[str]:
    name = unique_name("flowcrm_fault")
    admin_execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    try:
        yield with_database(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fault_database_url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as url:
        yield url


@pytest.fixture
async def fault_db(fault_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test's own connection (application_name is not 'flowcrm', so it never counts as the app's)."""
    conn = await asyncpg.connect(
        fault_database_url, server_settings={"timezone": "UTC", "application_name": "fault-test"}
    )
    try:
        yield conn
    finally:
        await conn.close()


def signing_settings(database_url: str) -> Settings:
    """Settings whose JWT_SECRET is the one given to the service subprocesses."""
    return make_settings(database_url, JWT_SECRET=JWT_SECRET)


async def app_backends(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT pid, state, wait_event_type FROM pg_stat_activity "
        "WHERE application_name = 'flowcrm' AND datname = current_database() ORDER BY pid"
    )


class ServiceProcess:
    """`python -m service.cli serve --workers N` (default 1) as a real process, its output in a file; `port`
    given: that port again (a restarted instance behind a load balancer)."""

    def __init__(
        self, database_url: str, log_path: Path, *, workers: int = 1, port: int | None = None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._log = log_path.open("w")
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "ENVIRONMENT": "test",
            "JWT_SECRET": JWT_SECRET,
            "DB_STARTUP_TIMEOUT": "10",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--workers", str(workers)],
            env=environment,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    async def wait_ready(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"the service exited early:\n{self.output()}"
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # polls readiness (the condition above)
        raise AssertionError(f"the service did not become ready:\n{self.output()}")

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not exited 15 s later (a test's process must never outlive it)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def running_instances(url: str, logs: Path, count: int = 2, **options: Any) -> Iterator[list[ServiceProcess]]:
    """`count` instances of `flowcrm serve` on one database, all ready; stopped after, each having exited 0."""
    started = [ServiceProcess(url, logs / f"serve-{n}.log", **options) for n in range(1, count + 1)]
    try:

        async def ready() -> None:
            await asyncio.gather(*(service.wait_ready(within=120) for service in started))

        asyncio.run(ready())
        yield started
    finally:
        for service in started:
            service.stop()
        for service in started:
            assert service.process.returncode == 0, service.output()
