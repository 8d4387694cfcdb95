"""Login rate limits (contract 9 item 13): per account (failed logins) and per client (attempts), 429 past either.

The counters are in PostgreSQL (service/http/ratelimit.py). Every test gives the limiter a clock of its own, so
the windows pass without sleeping and every Retry-After is exact; a second client is a second loopback source
address (127.0.0.2). Two instances of two workers each sharing the counters: tests/faults/test_shared_limits.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from service import errors
from service.app import create_app
from service.auth.ratelimit import STATE_KEY, LoginLimiter
from service.config import Settings
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_user
from tests.support import Clock, LiveServer, live_server

WRONG = "not-the-password"


# --- the limiter on its own -----------------------------------------------------------------------------------


def test_defaults_and_environment_names() -> None:
    defaults = Settings(DATABASE_URL="postgresql://x@localhost/x")
    assert (
        defaults.login_max_failures_per_account,
        defaults.login_failure_window_seconds,
        defaults.login_max_attempts_per_client,
        defaults.login_client_window_seconds,
    ) == (5, 900, 20, 60)
    custom = Settings(
        DATABASE_URL="postgresql://x@localhost/x",
        LOGIN_MAX_FAILURES_PER_ACCOUNT="3",
        LOGIN_FAILURE_WINDOW_SECONDS="30",
        LOGIN_MAX_ATTEMPTS_PER_CLIENT="7",
        LOGIN_CLIENT_WINDOW_SECONDS="10",
    )
    assert (
        custom.login_max_failures_per_account,
        custom.login_failure_window_seconds,
        custom.login_max_attempts_per_client,
        custom.login_client_window_seconds,
    ) == (3, 30, 7, 10)
    with pytest.raises(ValueError):
        Settings(DATABASE_URL="postgresql://x@localhost/x", LOGIN_MAX_FAILURES_PER_ACCOUNT="0")


def limiter(clock: Clock, **overrides: object) -> LoginLimiter:
    settings = Settings(DATABASE_URL="postgresql://x@localhost/x", **overrides)
    return LoginLimiter(settings, clock=clock)


async def test_failures_lock_the_account_until_the_oldest_leaves_the_window(db: asyncpg.Connection) -> None:
    clock = Clock()
    login = limiter(clock)
    for _ in range(5):
        await login.attempt(db, "a@example.com", "10.0.0.1")  # each admitted attempt counts as a failure
        clock.now += 60
    with pytest.raises(errors.RateLimited) as caught:
        await login.attempt(db, "a@example.com", "10.0.0.2")  # another client: the account is locked for everyone
    assert caught.value.headers == {"Retry-After": str(900 - 300)}
    await login.attempt(db, "b@example.com", "10.0.0.3")  # other accounts are not
    clock.now += 900 - 300  # the first failure leaves the window: one more try
    await login.attempt(db, "a@example.com", "10.0.0.2")
    with pytest.raises(errors.RateLimited) as caught:
        await login.attempt(db, "a@example.com", "10.0.0.2")
    assert caught.value.headers == {"Retry-After": "60"}  # the second failure leaves a minute later


async def test_a_success_forgets_the_failures(db: asyncpg.Connection) -> None:
    clock = Clock()
    login = limiter(clock)
    for _ in range(5):
        await login.attempt(db, "a@example.com", "10.0.0.1")
    await login.succeeded(db, "a@example.com")  # the fifth attempt succeeded
    for _ in range(5):
        await login.attempt(db, "a@example.com", "10.0.0.1")
    with pytest.raises(errors.RateLimited):
        await login.attempt(db, "a@example.com", "10.0.0.1")


async def test_client_attempts_count_successes_and_failures_alike(db: asyncpg.Connection) -> None:
    clock = Clock()
    login = limiter(clock, LOGIN_MAX_ATTEMPTS_PER_CLIENT=3, LOGIN_CLIENT_WINDOW_SECONDS=10)
    for n in range(3):
        await login.attempt(db, f"user{n}@example.com", "10.0.0.1")
    await login.succeeded(db, "user0@example.com")
    with pytest.raises(errors.RateLimited) as caught:
        await login.attempt(db, "fresh@example.com", "10.0.0.1")
    assert caught.value.code == "RATE_LIMIT_EXCEEDED" and caught.value.headers == {"Retry-After": "10"}
    await login.attempt(db, "fresh@example.com", "10.0.0.9")
    clock.now += 10
    await login.attempt(db, "fresh@example.com", "10.0.0.1")


async def test_an_attempt_refused_for_its_client_is_not_counted_against_the_account(db: asyncpg.Connection) -> None:
    login = limiter(Clock(), LOGIN_MAX_ATTEMPTS_PER_CLIENT=1)
    await login.attempt(db, "a@example.com", "10.0.0.1")
    for _ in range(10):
        with pytest.raises(errors.RateLimited):
            await login.attempt(db, "a@example.com", "10.0.0.1")
    for n in range(4):  # the account has one failure: four more are allowed
        await login.attempt(db, "a@example.com", f"10.0.1.{n}")
    with pytest.raises(errors.RateLimited):
        await login.attempt(db, "a@example.com", "10.0.2.1")


# --- over HTTP ------------------------------------------------------------------------------------------------


class LimitedServer(LiveServer):
    clock: Clock


@pytest.fixture
def limited_server(database_url: str, request: pytest.FixtureRequest) -> Iterator[LimitedServer]:
    """An app of its own with the settings the test names, its login limiter on a clock the test moves."""
    settings = make_settings(database_url, **getattr(request, "param", {}))
    app = create_app(settings)
    clock = Clock()
    app.state[STATE_KEY] = LoginLimiter(settings, clock=clock)
    with live_server(app) as server:
        server.clock = clock  # type: ignore[attr-defined]
        yield server  # type: ignore[misc]


@asynccontextmanager
async def client_from(server: LiveServer, source: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=60) as http:
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


async def test_sixth_wrong_password_locks_the_account_even_for_the_right_one(
    limited_server: LimitedServer, db: asyncpg.Connection
) -> None:
    await create_user(db, "employee", email="locked@example.com")
    await create_user(db, "employee", email="other@example.com")
    async with client_from(limited_server) as http:
        for _ in range(5):
            response = await login(http, "locked@example.com", WRONG)
            assert response.status_code == 401 and response.json()["error"]["code"] == "LOGIN_FAILED"
            limited_server.clock.now += 10
        # The email is lower-cased; the first failure (50 s ago) leaves the 900 s window in 850 s.
        assert assert_429(await login(http, "LOCKED@example.com ", WRONG)) == 850
        assert_429(await login(http, "locked@example.com", PASSWORD))  # the right password is refused too
        assert (await login(http, "other@example.com", PASSWORD)).status_code == 200  # others unaffected
        assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'login'") == 1

        limited_server.clock.now += 849.5
        assert assert_429(await login(http, "locked@example.com", PASSWORD)) == 1  # half a second: never 0
        limited_server.clock.now += 0.5  # the window passes
        ok = await login(http, "locked@example.com", PASSWORD)
        assert ok.status_code == 200, ok.text


async def test_a_successful_login_clears_the_failures(limited_server: LimitedServer, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="forgetful@example.com")
    async with client_from(limited_server) as http:
        for _ in range(4):
            assert (await login(http, "forgetful@example.com", WRONG)).status_code == 401
        assert (await login(http, "forgetful@example.com", PASSWORD)).status_code == 200
        # Without the reset the second failure below would be the account's sixth.
        for _ in range(5):
            assert (await login(http, "forgetful@example.com", WRONG)).status_code == 401
        assert assert_429(await login(http, "forgetful@example.com", PASSWORD)) == 900


async def test_an_unknown_email_is_limited_like_a_real_one(limited_server: LimitedServer) -> None:
    """The answers never tell whether an account exists: five 401s, then 429s."""
    async with client_from(limited_server) as http:
        statuses = [(await login(http, "nobody@example.com", WRONG)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize(
    "limited_server", [{"LOGIN_MAX_ATTEMPTS_PER_CLIENT": 3, "LOGIN_CLIENT_WINDOW_SECONDS": 2}], indirect=True
)
async def test_a_client_may_make_a_few_attempts_per_window(
    limited_server: LimitedServer, db: asyncpg.Connection
) -> None:
    for n in range(3):
        await create_user(db, "employee", email=f"user{n}@example.com")
    async with client_from(limited_server) as first, client_from(limited_server, "127.0.0.2") as second:
        assert (await login(first, "user0@example.com", PASSWORD)).status_code == 200
        limited_server.clock.now += 0.5
        assert (await login(first, "user1@example.com", WRONG)).status_code == 401
        assert (await login(first, "ghost@example.com", WRONG)).status_code == 401
        assert assert_429(await login(first, "user2@example.com", PASSWORD)) == 2  # successes count too
        assert (await login(second, "user2@example.com", PASSWORD)).status_code == 200  # another client
        limited_server.clock.now += 1.5  # the first attempt leaves the window
        assert (await login(first, "user2@example.com", PASSWORD)).status_code == 200


# Thirty requests share five pooled connections and argon2 is slow on a busy machine: a generous acquire timeout.
@pytest.mark.parametrize(
    "limited_server", [{"LOGIN_MAX_ATTEMPTS_PER_CLIENT": 1000, "DB_ACQUIRE_TIMEOUT": 60}], indirect=True
)
async def test_concurrent_wrong_passwords_never_try_more_than_the_limit(
    limited_server: LimitedServer, db: asyncpg.Connection
) -> None:
    """Thirty wrong passwords for one account at once: exactly five are verified (401), the rest refused."""
    await create_user(db, "employee", email="target@example.com")
    async with client_from(limited_server) as http:
        responses = await asyncio.gather(*(login(http, "target@example.com", f"guess-{n}") for n in range(30)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * 5 + [429] * 25, [response.text for response in responses if response.status_code >= 500]
