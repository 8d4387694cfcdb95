"""The first admin: `flowcrm users create-admin` and the ADMIN_EMAIL/ADMIN_PASSWORD bootstrap at start."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.auth.passwords import _verify
from tests.conftest import ROOT, make_settings
from tests.factories import PASSWORD, create_user
from tests.support import live_server


def admin_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
    return {**env, "DATABASE_URL": database_url, **extra}


def create_admin(
    database_url: str, *args: str, password: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`flowcrm users create-admin ARGS`, the password (if any) piped with --password-stdin."""
    if password is not None:
        args = (*args, "--password-stdin")
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "users", "create-admin", *args],
        env=env or admin_env(database_url),
        cwd=ROOT,
        input=password if password is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
    )


async def login_status(url: str, email: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await http.post("/api/auth/login", json={"email": email, "password": password})).status_code


async def test_cli_creates_then_updates_idempotently(database_url: str, db: asyncpg.Connection) -> None:
    first = create_admin(database_url, "--email", " Root@Example.com ", "--name", "Root", password="first-password")
    assert first.returncode == 0, first.stderr
    assert "Created admin user root@example.com" in first.stdout
    row = await db.fetchrow("SELECT * FROM users")
    assert (row["email"], row["name"], row["role"]) == ("root@example.com", "Root", "admin")
    assert row["password"].startswith("$argon2id$") and _verify(row["password"], "first-password")[0]

    second = create_admin(database_url, "--email", "ROOT@example.com", password="second-password")
    assert second.returncode == 0, second.stderr
    assert "Updated user root@example.com" in second.stdout
    rows = await db.fetch("SELECT * FROM users")
    assert len(rows) == 1 and rows[0]["id"] == row["id"]
    assert rows[0]["name"] == "Root"  # kept without --name
    assert _verify(rows[0]["password"], "second-password")[0] and not _verify(rows[0]["password"], "first-password")[0]
    assert rows[0]["tokens_valid_after"] > row["tokens_valid_after"]  # a password change ends earlier sessions

    third = create_admin(database_url, "--email", "root@example.com", password="second-password")
    assert third.returncode == 0 and "Updated" in third.stdout
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_cli_promotes_an_existing_user(database_url: str, db: asyncpg.Connection) -> None:
    employee = await create_user(db, "employee", email="staff@example.com", name="Staff")
    result = create_admin(database_url, "--email", "Staff@example.com", "--name", "Boss", password="now-an-admin")
    assert result.returncode == 0, result.stderr
    row = await db.fetchrow("SELECT * FROM users WHERE id = $1", employee["id"])
    assert (row["role"], row["name"]) == ("admin", "Boss")
    assert _verify(row["password"], "now-an-admin")[0]


@pytest.mark.parametrize(("email", "password"), [("not-an-email", "long-enough"), ("ok@example.com", "short")])
async def test_cli_rejects_invalid_input(database_url: str, db: asyncpg.Connection, email: str, password: str) -> None:
    result = create_admin(database_url, "--email", email, password=password)
    assert result.returncode != 0
    assert "create-admin" in result.stderr and password not in result.stderr
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_cli_takes_the_first_line_of_stdin_as_typed(database_url: str, db: asyncpg.Connection) -> None:
    result = create_admin(database_url, "--email", "root@example.com", password=" spaced  secret \nsecond line\n")
    assert result.returncode == 0, result.stderr
    assert _verify(await db.fetchval("SELECT password FROM users"), " spaced  secret ")[0]


async def test_cli_reads_the_password_from_admin_password(database_url: str, db: asyncpg.Connection) -> None:
    env = admin_env(database_url, ADMIN_PASSWORD="from-the-environment")
    result = create_admin(database_url, "--email", "root@example.com", env=env)
    assert result.returncode == 0, result.stderr
    assert _verify(await db.fetchval("SELECT password FROM users"), "from-the-environment")[0]


def on_a_terminal(database_url: str, answers: list[str]) -> tuple[int, str, str]:
    """create-admin with a pseudo-terminal as stdin and stderr (getpass's prompts): each answer typed once its
    prompt has appeared. The exit status, the terminal's transcript and stdout."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "users", "create-admin", "--email", "root@example.com"],
        env=admin_env(database_url),
        cwd=ROOT,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    os.close(slave)
    transcript = ""

    def read_until(done: Callable[[str], bool]) -> None:
        nonlocal transcript
        deadline = time.monotonic() + 120
        while not done(transcript) and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    transcript += os.read(master, 1024).decode()
                except OSError:  # the child closed the terminal (Linux: EIO)
                    return

    try:
        for number, answer in enumerate(answers, start=1):
            read_until(
                lambda text, number=number: text.lower().count("password") >= number and text.rstrip(" ").endswith(":")
            )
            os.write(master, f"{answer}\n".encode())
        stdout, _ = process.communicate(timeout=120)
        read_until(lambda _text: False)  # the rest, up to the terminal's end
    finally:
        process.kill()
        os.close(master)
    return process.returncode, transcript, stdout


async def test_cli_prompts_twice_on_a_terminal(database_url: str, db: asyncpg.Connection) -> None:
    status, transcript, stdout = on_a_terminal(database_url, ["typed-at-the-prompt", "typed-at-the-prompt"])
    assert status == 0, transcript
    assert "Created admin user root@example.com" in stdout
    assert "typed-at-the-prompt" not in transcript  # not echoed
    assert _verify(await db.fetchval("SELECT password FROM users"), "typed-at-the-prompt")[0]


async def test_cli_refuses_two_different_answers(database_url: str, db: asyncpg.Connection) -> None:
    status, transcript, _stdout = on_a_terminal(database_url, ["first-answer", "second-answer"])
    assert status == 2
    assert "the two passwords differ" in transcript
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_cli_refuses_a_password_on_the_command_line(database_url: str, db: asyncpg.Connection) -> None:
    result = create_admin(database_url, "--email", "root@example.com", "--password", "in-the-process-list")
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr and "ADMIN_PASSWORD" in result.stderr
    assert "in-the-process-list" not in result.stderr + result.stdout
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_cli_without_a_terminal_or_a_password_says_how(database_url: str, db: asyncpg.Connection) -> None:
    result = create_admin(database_url, "--email", "root@example.com")  # stdin is a pipe, no ADMIN_PASSWORD
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr and "ADMIN_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_bootstrap_creates_the_admin_once(database_url: str, db: asyncpg.Connection) -> None:
    settings = make_settings(
        database_url, ADMIN_EMAIL="Boot@Example.com", ADMIN_PASSWORD="bootstrap-pass", ADMIN_NAME="Boot Admin"
    )
    with live_server(create_app(settings)) as server:
        assert await login_status(server.url, "boot@example.com", "bootstrap-pass") == 200
    row = await db.fetchrow("SELECT * FROM users")
    assert (row["email"], row["name"], row["role"]) == ("boot@example.com", "Boot Admin", "admin")

    # A restart with another password changes nothing: the bootstrap never overwrites an existing account.
    restarted = make_settings(database_url, ADMIN_EMAIL="boot@example.com", ADMIN_PASSWORD="another-password")
    with live_server(create_app(restarted)) as server:
        assert await login_status(server.url, "boot@example.com", "bootstrap-pass") == 200
        assert await login_status(server.url, "boot@example.com", "another-password") == 401
    rows = await db.fetch("SELECT id, password FROM users")
    assert len(rows) == 1 and rows[0]["id"] == row["id"] and rows[0]["password"] == row["password"]


async def test_bootstrap_leaves_an_existing_user_alone(database_url: str, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="boot@example.com")
    settings = make_settings(database_url, ADMIN_EMAIL="boot@example.com", ADMIN_PASSWORD="bootstrap-pass")
    with live_server(create_app(settings)) as server:
        assert await login_status(server.url, "boot@example.com", PASSWORD) == 200
        assert await login_status(server.url, "boot@example.com", "bootstrap-pass") == 401
    assert await db.fetchval("SELECT role::text FROM users") == "employee"


async def test_without_admin_settings_nothing_is_created(database_url: str, db: asyncpg.Connection) -> None:
    with live_server(create_app(make_settings(database_url, ADMIN_EMAIL="half@example.com"))):
        pass
    assert await db.fetchval("SELECT count(*) FROM users") == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # uvicorn's exit on its thread
def test_bootstrap_with_an_invalid_password_refuses_to_start(database_url: str) -> None:
    settings = make_settings(database_url, ADMIN_EMAIL="boot@example.com", ADMIN_PASSWORD="short")
    with pytest.raises(RuntimeError, match="did not start"), live_server(create_app(settings)):
        pass
