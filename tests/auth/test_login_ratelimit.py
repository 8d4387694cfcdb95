"""Login rate limits (contract 9 item 13): per account (failed logins) and per client (attempts), 429 past either.

The HTTP tests run an app of their own with short windows, so the wait for a window to pass is a couple of
seconds; a second client is a second loopback source address (127.0.0.2).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from service import errors
from service.app import create_app
from service.auth.ratelimit import LoginLimiter
from service.config import Settings
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_user
from tests.support import LiveServer, live_server

WRONG = "not-the-password"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter on its own -----------------------------------------------------------------------------------

def test_defaults_and_environment_names() -> None:
    defaults = Settings(DATABASE_URL="postgresql://x@localhost/x")
    assert (defaults.login_max_failures_per_account, defaults.login_failure_window_seconds,
            defaults.login_max_attempts_per_client, defaults.login_client_window_seconds) == (5, 900, 20, 60)
    custom = Settings(DATABASE_URL="postgresql://x@localhost/x", LOGIN_MAX_FAILURES_PER_ACCOUNT="3",
                      LOGIN_FAILURE_WINDOW_SECONDS="30", LOGIN_MAX_ATTEMPTS_PER_CLIENT="7",
                      LOGIN_CLIENT_WINDOW_SECONDS="10")
    assert (custom.login_max_failures_per_account, custom.login_failure_window_seconds,
            custom.login_max_attempts_per_client, custom.login_client_window_seconds) == (3, 30, 7, 10)
    with pytest.raises(ValueError):
        Settings(DATABASE_URL="postgresql://x@localhost/x", LOGIN_MAX_FAILURES_PER_ACCOUNT="0")


def limiter(clock: Clock, **overrides: object) -> LoginLimiter:
    settings = Settings(DATABASE_URL="postgresql://x@localhost/x", **overrides)
    return LoginLimiter(settings, clock=clock)


def test_failures_lock_the_account_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    login = limiter(clock)
    for _ in range(5):
        login.attempt("a@example.com", "10.0.0.1")
        login.failed("a@example.com")
        clock.now += 60
    with pytest.raises(errors.RateLimited) as caught:
        login.attempt("a@example.com", "10.0.0.2")  # another client: the account is locked for everyone
    assert caught.value.headers == {"Retry-After": str(900 - 300)}
    login.attempt("b@example.com", "10.0.0.3")  # other accounts are not
    clock.now += 900 - 300  # the first failure leaves the window: one more try
    login.attempt("a@example.com", "10.0.0.2")
    login.failed("a@example.com")
    with pytest.raises(errors.RateLimited) as caught:
        login.attempt("a@example.com", "10.0.0.2")
    assert caught.value.headers == {"Retry-After": "60"}  # the second failure leaves a minute later


def test_a_success_forgets_the_failures() -> None:
    clock = Clock()
    login = limiter(clock)
    for _ in range(4):
        login.attempt("a@example.com", "10.0.0.1")
        login.failed("a@example.com")
    login.succeeded("a@example.com")
    for _ in range(5):
        login.attempt("a@example.com", "10.0.0.1")
        login.failed("a@example.com")
    with pytest.raises(errors.RateLimited):
        login.attempt("a@example.com", "10.0.0.1")


def test_client_attempts_count_successes_and_failures_alike() -> None:
    clock = Clock()
    login = limiter(clock, LOGIN_MAX_ATTEMPTS_PER_CLIENT=3, LOGIN_CLIENT_WINDOW_SECONDS=10)
    for n in range(3):
        login.attempt(f"user{n}@example.com", "10.0.0.1")
    with pytest.raises(errors.RateLimited) as caught:
        login.attempt("fresh@example.com", "10.0.0.1")
    assert caught.value.code == "RATE_LIMIT_EXCEEDED" and caught.value.headers == {"Retry-After": "10"}
    login.attempt("fresh@example.com", "10.0.0.9")
    clock.now += 10
    login.attempt("fresh@example.com", "10.0.0.1")


# --- over HTTP ------------------------------------------------------------------------------------------------

@pytest.fixture
def limited_server(database_url: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    overrides = getattr(request, "param", {})
    with live_server(create_app(make_settings(database_url, **overrides))) as server:
        yield server


@asynccontextmanager
async def client_from(server: LiveServer, source: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=30) as http:
        yield http


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"email": email, "password": password})


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["message"] == body["error"]["message"] and body["path"] == "/api/auth/login"
    retry_after = int(response.headers["Retry-After"])
    assert body["error"]["retryAfter"] == retry_after and retry_after >= 1
    return retry_after


@pytest.mark.parametrize("limited_server", [{"LOGIN_FAILURE_WINDOW_SECONDS": 3}], indirect=True)
async def test_sixth_wrong_password_locks_the_account_even_for_the_right_one(
        limited_server: LiveServer, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="locked@example.com")
    await create_user(db, "employee", email="other@example.com")
    async with client_from(limited_server) as http:
        for n in range(5):
            response = await login(http, "locked@example.com", WRONG)
            assert response.status_code == 401 and response.json()["error"]["code"] == "LOGIN_FAILED"
            if n == 0:
                first_failure = time.monotonic()  # at the latest
        assert assert_429(await login(http, "LOCKED@example.com ", WRONG)) <= 3  # the email is lower-cased
        assert_429(await login(http, "locked@example.com", PASSWORD))  # the right password is refused too
        assert (await login(http, "other@example.com", PASSWORD)).status_code == 200  # others unaffected
        assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'login'") == 1

        await asyncio.sleep(max(0.0, first_failure + 3.1 - time.monotonic()))  # the window passes
        ok = await login(http, "locked@example.com", PASSWORD)
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("limited_server", [{"LOGIN_FAILURE_WINDOW_SECONDS": 60}], indirect=True)
async def test_a_successful_login_clears_the_failures(limited_server: LiveServer, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="forgetful@example.com")
    async with client_from(limited_server) as http:
        for _ in range(4):
            assert (await login(http, "forgetful@example.com", WRONG)).status_code == 401
        assert (await login(http, "forgetful@example.com", PASSWORD)).status_code == 200
        # Without the reset the second failure below would be the account's sixth.
        for _ in range(5):
            assert (await login(http, "forgetful@example.com", WRONG)).status_code == 401
        assert assert_429(await login(http, "forgetful@example.com", PASSWORD)) > 50


@pytest.mark.parametrize("limited_server", [{"LOGIN_FAILURE_WINDOW_SECONDS": 60}], indirect=True)
async def test_an_unknown_email_is_limited_like_a_real_one(limited_server: LiveServer) -> None:
    """The answers never tell whether an account exists: five 401s, then 429s."""
    async with client_from(limited_server) as http:
        statuses = [(await login(http, "nobody@example.com", WRONG)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize("limited_server", [{"LOGIN_MAX_ATTEMPTS_PER_CLIENT": 3, "LOGIN_CLIENT_WINDOW_SECONDS": 2}],
                         indirect=True)
async def test_a_client_may_make_a_few_attempts_per_window(limited_server: LiveServer,
                                                           db: asyncpg.Connection) -> None:
    for n in range(3):
        await create_user(db, "employee", email=f"user{n}@example.com")
    async with client_from(limited_server) as first, client_from(limited_server, "127.0.0.2") as second:
        assert (await login(first, "user0@example.com", PASSWORD)).status_code == 200
        started = time.monotonic()  # the first attempt was counted before
        assert (await login(first, "user1@example.com", WRONG)).status_code == 401
        assert (await login(first, "ghost@example.com", WRONG)).status_code == 401
        assert assert_429(await login(first, "user2@example.com", PASSWORD)) <= 2  # successes count too
        assert (await login(second, "user2@example.com", PASSWORD)).status_code == 200  # another client
        await asyncio.sleep(max(0.0, started + 2.1 - time.monotonic()))
        assert (await login(first, "user2@example.com", PASSWORD)).status_code == 200
