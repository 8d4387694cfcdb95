"""The way in: `flowcrm users create-admin`, and on a development machine's first run an admin made up.

Both go through `UserService.create_or_promote_admin` on a connection of their own, in the main process
(never in the server's workers, so several workers never race to create it).
"""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Any, Literal

import asyncpg

from service.config import Settings
from service.db.pool import connect_options, init_connection
from service.users import queries
from service.users.schemas import AdminAccount
from service.users.service import UserService, admin_account

FIRST_RUN_EMAIL = "admin@example.com"


async def _connect(settings: Settings, url: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(**{**connect_options(settings), "dsn": url})
    await init_connection(conn)
    return conn


async def create_admin(
    settings: Settings, url: str, account: AdminAccount
) -> tuple[Literal["created", "updated"], dict[str, Any]]:
    """`flowcrm users create-admin`: create the admin, or make the user with that email an admin."""
    conn = await _connect(settings, url)
    try:
        return await UserService(conn).create_or_promote_admin(account)
    finally:
        await conn.close()


def check_admin_settings(settings: Settings) -> None:
    """ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME as the start-up bootstrap (service/users/service.py) will read them:
    ValueError now, once, in the main process, instead of a failed start in every worker."""
    password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    if settings.admin_email and password:
        admin_account(settings.admin_email, password, settings.admin_name)


def wants_first_run_admin(settings: Settings) -> bool:
    """Only in development, and not when ADMIN_PASSWORD names the first admin's password (the start-up
    bootstrap creates that one)."""
    return settings.environment == "development" and not settings.admin_password


async def create_first_run_admin(settings: Settings, url: str) -> AdminAccount | None:
    """With no user at all: an admin (ADMIN_EMAIL, else admin@example.com) with a random password, which the
    caller shows once. None when any user exists. Concurrent first runs on one database make one admin."""
    conn = await _connect(settings, url)
    try:
        async with conn.transaction():
            await conn.execute(*queries.lock_first_admin())
            if await conn.fetchval(*queries.any_user()) is not None:
                return None
            account = admin_account(
                settings.admin_email or FIRST_RUN_EMAIL, secrets.token_urlsafe(12), settings.admin_name
            )
            await UserService(conn).create_or_promote_admin(account)
            return account
    finally:
        await conn.close()


def first_run_notice(account: AdminAccount) -> str:
    return (
        f"\nFirst run: no user existed, so an admin was created. Log in with\n"
        f"    e-mail:   {account.email}\n"
        f"    password: {account.password}\n"
        f"This password is shown only now. Set your own with "
        f"`flowcrm users create-admin --email {account.email}`.\n"
    )


def read_admin_password(settings: Settings, *, from_stdin: bool) -> str:
    """The password for `create-admin`, never from the command line (process list, shell history): the first
    line of stdin with --password-stdin, else ADMIN_PASSWORD, else a prompt (asked twice) on a terminal."""
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")  # taken as typed, but for the line end
    if settings.admin_password is not None and settings.admin_password.get_secret_value():
        return settings.admin_password.get_secret_value()
    if not sys.stdin.isatty():
        raise ValueError(
            "no password given: type it at the prompt (on a terminal), pipe it with "
            "--password-stdin, or set ADMIN_PASSWORD"
        )
    password = getpass.getpass("Password for the admin: ")
    if getpass.getpass("The same password again: ") != password:
        raise ValueError("the two passwords differ")
    return password
