"""The first-run admin: only in development, only with no user at all, one even when two starts race."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.auth.passwords import _verify
from service.users.first_admin import create_first_run_admin, wants_first_run_admin
from tests.conftest import make_settings
from tests.factories import create_user


@pytest.mark.parametrize(
    ("environment", "admin_password", "wanted"),
    [
        ("development", None, True),
        ("development", "set-by-the-operator", False),  # the start-up bootstrap makes that one
        ("test", None, False),
        ("production", None, False),
    ],
)
def test_only_in_development(environment: str, admin_password: str | None, wanted: bool) -> None:
    settings = make_settings(
        "postgresql://x@h/db", ENVIRONMENT=environment, ADMIN_PASSWORD=admin_password, JWT_SECRET="x" * 40
    )
    assert wants_first_run_admin(settings) is wanted


async def test_two_first_runs_at_once_make_one_admin(database_url: str, db: asyncpg.Connection) -> None:
    settings = make_settings(database_url, ENVIRONMENT="development")
    made = await asyncio.gather(*(create_first_run_admin(settings, database_url) for _ in range(3)))
    accounts = [account for account in made if account is not None]
    assert len(accounts) == 1
    row = await db.fetchrow("SELECT email, role::text, password FROM users")
    assert (row["email"], row["role"]) == ("admin@example.com", "admin")
    assert _verify(row["password"], accounts[0].password)[0]


async def test_admin_email_names_the_first_admin(database_url: str, db: asyncpg.Connection) -> None:
    settings = make_settings(database_url, ENVIRONMENT="development", ADMIN_EMAIL="Me@Example.com")
    account = await create_first_run_admin(settings, database_url)
    assert account is not None and account.email == "me@example.com"
    assert await db.fetchval("SELECT email FROM users") == "me@example.com"


async def test_never_when_any_user_exists(database_url: str, db: asyncpg.Connection) -> None:
    await create_user(db, "employee")
    settings = make_settings(database_url, ENVIRONMENT="development")
    assert await create_first_run_admin(settings, database_url) is None
    assert await db.fetchval("SELECT count(*) FROM users WHERE role = 'admin'") == 0
