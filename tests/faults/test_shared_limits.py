"""Rate limits shared by every process and instance (issue 12): two instances of `flowcrm serve --workers 2` on
one database, as behind a load balancer, each request on a new connection (so the workers of an instance take
turns accepting), alternating between the instances.

Promise: the configured number holds whatever the number of processes: the 6th failed login of an account is
refused, the 21st attempt of a client, the 21st stock adjustment of a user, each with a Retry-After that says
when the oldest counted hit leaves the window. The services run on the real clock, so a Retry-After is checked
against the bounds the test's own clock gives (before the first request, after the refused one)."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.factories import bearer, create_product, create_user
from tests.faults.conftest import ServiceProcess, cloned_database, running_instances, signing_settings

# Set up once per module (module-scoped fixtures): every test of the file runs on the same xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_shared_limits")]

WRONG = "not-the-password"


@pytest.fixture(scope="module")
def shared_url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as url:
        yield url


@pytest.fixture(scope="module")
def instances(shared_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServiceProcess]]:
    with running_instances(shared_url, tmp_path_factory.mktemp("shared-limits"), workers=2, DB_POOL_MAX="4") as started:
        yield started


@pytest.fixture
async def db(shared_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(shared_url, server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()


async def send(
    instances: list[ServiceProcess], n: int, method: str, path: str, *, source: str, **kwargs: object
) -> httpx.Response:
    """Request number n, to instance n % 2, on a connection of its own from the `source` loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=instances[n % 2].url, transport=transport, timeout=60) as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


def assert_retry_after(
    response: httpx.Response, *, window: float, first_sent: float, first_answered: float, sent: float, answered: float
) -> None:
    """429 with the seconds until the first counted hit (made between first_sent and first_answered, on the
    test's monotonic clock) leaves the window, as computed when the refused request was served."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    retry_after = int(response.headers["Retry-After"])
    assert response.json()["error"]["retryAfter"] == retry_after
    earliest = math.ceil(first_sent + window - answered)
    latest = math.ceil(first_answered + window - sent)
    assert max(1, earliest) <= retry_after <= latest, (retry_after, earliest, latest)


async def test_sixth_failed_login_is_refused_whichever_process_serves_it(
    instances: list[ServiceProcess], db: asyncpg.Connection
) -> None:
    await create_user(db, "employee", email="spread@example.com")
    statuses, times = [], []
    for n in range(12):
        sent = time.monotonic()
        response = await send(
            instances,
            n,
            "POST",
            "/api/auth/login",
            source="127.0.0.1",
            json={"email": "spread@example.com", "password": WRONG},
        )
        times.append((sent, time.monotonic()))
        statuses.append(response.status_code)
        if n >= 5:
            assert_retry_after(
                response,
                window=900,
                first_sent=times[0][0],
                first_answered=times[0][1],
                sent=sent,
                answered=times[-1][1],
            )
    assert statuses == [401] * 5 + [429] * 7
    assert (
        await db.fetchval(
            "SELECT cardinality(hits) FROM rate_limits WHERE bucket = 'login-failures-per-account'"
            " AND key = 'spread@example.com'"
        )
        == 5
    )


async def test_twenty_first_login_attempt_of_a_client_is_refused(instances: list[ServiceProcess]) -> None:
    statuses, times = [], []
    for n in range(24):
        sent = time.monotonic()
        response = await send(
            instances,
            n,
            "POST",
            "/api/auth/login",
            source="127.0.0.2",
            json={"email": f"nobody{n}@example.com", "password": WRONG},
        )
        times.append((sent, time.monotonic()))
        statuses.append(response.status_code)
        if n >= 20:
            assert_retry_after(
                response,
                window=60,
                first_sent=times[0][0],
                first_answered=times[0][1],
                sent=sent,
                answered=times[-1][1],
            )
    assert statuses == [401] * 20 + [429] * 4


async def test_twenty_first_stock_adjustment_of_a_user_is_refused(
    instances: list[ServiceProcess], db: asyncpg.Connection, shared_url: str
) -> None:
    user = await create_user(db, "employee", email="stocker@example.com")
    headers = bearer(signing_settings(shared_url), user)
    product = await create_product(db, stock=0)
    adjust = {"adjustmentType": "add", "quantity": 1, "reason": "Restock"}
    statuses = [
        (
            await send(
                instances,
                n,
                "POST",
                f"/api/products/{product['id']}/stock-adjustment",
                source="127.0.0.1",
                json=adjust,
                headers=headers,
            )
        ).status_code
        for n in range(24)
    ]
    assert statuses == [200] * 20 + [429] * 4
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 20
