"""Login rate limits (contract 9 item 13): per account and per client, 429 past either.

- Per account (the lower-cased email, whether or not such a user exists, so the answer never tells): at most
  LOGIN_MAX_FAILURES_PER_ACCOUNT failed logins in a sliding window of LOGIN_FAILURE_WINDOW_SECONDS (5 in 15
  minutes). Past that every attempt is refused, the right password too, until the oldest failure leaves the
  window. A successful login forgets the account's failures.
- Per client (the peer IP as the server saw it): at most LOGIN_MAX_ATTEMPTS_PER_CLIENT attempts, successful or
  not, in LOGIN_CLIENT_WINDOW_SECONDS (20 a minute).

Both are checked before the user is read and before the password hash is verified, so a refused attempt costs
neither a user query nor an argon2 verification. The counters are in PostgreSQL, shared by every process and
instance (service.http.ratelimit).

An admitted attempt counts as a failure of its account from the start, and a success then forgets them all:
counting the failure only once the password has been checked would let many concurrent attempts (which all
pass the check before any has failed) try far more passwords than the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import asyncpg

from service.config import Settings
from service.http.ratelimit import Limit, RateLimiter

ACCOUNT = "login-failures-per-account"
CLIENT = "login-attempts-per-client"
MESSAGE = "Too many login attempts, please try again later"
STATE_KEY = "login_rate_limiter"


class LoginLimiter:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.limiter = RateLimiter(
            {
                ACCOUNT: Limit(settings.login_max_failures_per_account, settings.login_failure_window_seconds),
                CLIENT: Limit(settings.login_max_attempts_per_client, settings.login_client_window_seconds),
            },
            clock=clock,
        )

    async def attempt(self, conn: asyncpg.Connection, email: str, client: str | None) -> None:
        """Count the client's attempt and the account's (presumed) failure, or raise 429 when either is over its
        limit (an attempt refused for the client counts against neither)."""
        await self.limiter.check(conn, CLIENT, client or "unknown", MESSAGE)
        await self.limiter.check(conn, ACCOUNT, email, MESSAGE)

    async def succeeded(self, conn: asyncpg.Connection, email: str) -> None:
        await self.limiter.clear(conn, ACCOUNT, email)


def login_limiter_for(state: MutableMapping[str, Any]) -> LoginLimiter:
    """The app's login limiter, created on first use with the app's settings. An app may be given its own
    beforehand (`app.state[STATE_KEY] = LoginLimiter(settings, clock=...)`)."""
    limiter: LoginLimiter | None = state.get(STATE_KEY)
    if limiter is None:
        limiter = state.setdefault(STATE_KEY, LoginLimiter(state["settings"]))
    return limiter
