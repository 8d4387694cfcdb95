"""The first admin: `flowcrm users create-admin` and the ADMIN_EMAIL/ADMIN_PASSWORD bootstrap at start."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.auth.passwords import _verify
from tests.conftest import ROOT, make_settings
from tests.factories import PASSWORD, create_user
from tests.support import live_server


def create_admin(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "service.cli", "users", "create-admin", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def login_status(url: str, email: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await http.post("/api/auth/login", json={"email": email, "password": password})).status_code


async def test_cli_creates_then_updates_idempotently(database_url: str, db: asyncpg.Connection) -> None:
    first = create_admin(database_url, "--email", " Root@Example.com ", "--password", "first-password",
                         "--name", "Root")
    assert first.returncode == 0, first.stderr
    assert "Created admin user root@example.com" in first.stdout
    row = await db.fetchrow("SELECT * FROM users")
    assert (row["email"], row["name"], row["role"]) == ("root@example.com", "Root", "admin")
    assert row["password"].startswith("$argon2id$") and _verify(row["password"], "first-password")[0]

    second = create_admin(database_url, "--email", "ROOT@example.com", "--password", "second-password")
    assert second.returncode == 0, second.stderr
    assert "Updated user root@example.com" in second.stdout
    rows = await db.fetch("SELECT * FROM users")
    assert len(rows) == 1 and rows[0]["id"] == row["id"]
    assert rows[0]["name"] == "Root"  # kept without --name
    assert _verify(rows[0]["password"], "second-password")[0] and not _verify(rows[0]["password"], "first-password")[0]
    assert rows[0]["tokens_valid_after"] > row["tokens_valid_after"]  # a password change ends earlier sessions

    third = create_admin(database_url, "--email", "root@example.com", "--password", "second-password")
    assert third.returncode == 0 and "Updated" in third.stdout
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_cli_promotes_an_existing_user(database_url: str, db: asyncpg.Connection) -> None:
    employee = await create_user(db, "employee", email="staff@example.com", name="Staff")
    result = create_admin(database_url, "--email", "Staff@example.com", "--password", "now-an-admin", "--name", "Boss")
    assert result.returncode == 0, result.stderr
    row = await db.fetchrow("SELECT * FROM users WHERE id = $1", employee["id"])
    assert (row["role"], row["name"]) == ("admin", "Boss")
    assert _verify(row["password"], "now-an-admin")[0]


@pytest.mark.parametrize(("email", "password"), [("not-an-email", "long-enough"), ("ok@example.com", "short")])
async def test_cli_rejects_invalid_input(database_url: str, db: asyncpg.Connection, email: str, password: str) -> None:
    result = create_admin(database_url, "--email", email, "--password", password)
    assert result.returncode != 0
    assert "create-admin" in result.stderr and password not in result.stderr
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_bootstrap_creates_the_admin_once(database_url: str, db: asyncpg.Connection) -> None:
    settings = make_settings(database_url, ADMIN_EMAIL="Boot@Example.com", ADMIN_PASSWORD="bootstrap-pass",
                             ADMIN_NAME="Boot Admin")
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
