"""Rate limits of the stock routes (contract 6.1, 3.5; quirk 9.16: separate counters).

The counters are in PostgreSQL (table rate_limits), emptied before each test with the other tables.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.config import Settings
from service.http.ratelimit import Limit, RateLimiter
from service.stock.ratelimit import ADJUST, HISTORY, STATE_KEY, limiter_for
from tests.conftest import make_settings
from tests.factories import create_product
from tests.stock.helpers import adjust_url, new_user, rows_of, stock_of
from tests.support import live_server

ADD = {"adjustmentType": "add", "quantity": 1, "reason": "Restock"}
HISTORY_URL = "/api/stock-adjustments"


class Clock:
    def __init__(self) -> None:
        self.now = 1_796_000_000.0

    def __call__(self) -> float:
        return self.now


# --- the limits -----------------------------------------------------------------------------------------------
# (the limiter itself, against the database: tests/test_rate_limits.py)


def test_default_limits_and_lazy_state() -> None:
    state: dict = {}
    first = limiter_for(state)
    assert first.limits == {ADJUST: Limit(20, 60.0), HISTORY: Limit(100, 60.0)}
    assert limiter_for(state) is first and state[STATE_KEY] is first
    own = RateLimiter({ADJUST: Limit(1, 1), HISTORY: Limit(1, 1)})
    assert limiter_for({STATE_KEY: own}) is own
    with pytest.raises(ValueError):
        Limit(0, 60)


# --- over HTTP against the session's app ----------------------------------------------------------------------


async def test_21st_adjustment_in_a_minute_is_429_but_reads_and_other_users_still_work(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, headers = await new_user(db, settings)
    _, other = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for n in range(20):
        response = await client.post(adjust_url(product["id"]), json=ADD, headers=headers)
        assert response.status_code == 200, (n, response.text)

    refused = await client.post(adjust_url(product["id"]), json=ADD, headers=headers)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["error"]["retryAfter"] == retry_after
    assert await stock_of(db, product["id"]) == 20  # the refused one changed nothing
    assert len(await rows_of(db, product["id"])) == 20

    reads = await client.get(HISTORY_URL, headers=headers)  # separate counter (quirk 9.16)
    assert reads.status_code == 200 and reads.json()["pagination"]["total"] == 20
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=other)).status_code == 200
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 429


async def test_101st_read_in_a_minute_is_429_but_adjustments_still_work(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, headers = await new_user(db, settings)
    _, other = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for batch in range(10):
        responses = await asyncio.gather(
            *(client.get(HISTORY_URL, params={"limit": 1}, headers=headers) for _ in range(10))
        )
        assert [r.status_code for r in responses] == [200] * 10, (batch, [r.text for r in responses])

    refused = await client.get(HISTORY_URL, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.json()["error"]["retryAfter"] == int(refused.headers["Retry-After"]) >= 1

    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
    assert (await client.get(HISTORY_URL, headers=other)).status_code == 200


async def test_invalid_requests_count_too(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """The slot is taken after authentication and before validation: 20 rejected bodies use up the minute."""
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for _ in range(20):
        assert (await client.post(adjust_url(product["id"]), json={"quantity": 0}, headers=headers)).status_code == 422
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 429
    assert await stock_of(db, product["id"]) == 0


async def test_unauthenticated_requests_do_not_use_anyones_slots(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for _ in range(25):
        assert (await client.post(adjust_url(product["id"]), json=ADD)).status_code == 401
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200


async def test_a_slot_frees_when_the_window_slides(
    database_url: str, settings: Settings, db: asyncpg.Connection
) -> None:
    """An app given its own limiter (other limits, a clock the test moves) before it starts."""
    app = create_app(settings)
    clock = Clock()
    app.state[STATE_KEY] = RateLimiter({ADJUST: Limit(2, 10.0), HISTORY: Limit(1, 10.0)}, clock=clock)
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    with live_server(app) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            clock.now += 3
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            assert (await http.get(HISTORY_URL, headers=headers)).status_code == 200
            refused = await http.post(adjust_url(product["id"]), json=ADD, headers=headers)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "7"
            assert (await http.get(HISTORY_URL, headers=headers)).headers["Retry-After"] == "10"
            clock.now += 7  # the first adjustment leaves the window; the read at 3 leaves at 13
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            assert (await http.get(HISTORY_URL, headers=headers)).headers["Retry-After"] == "3"
            clock.now += 3
            assert (await http.get(HISTORY_URL, headers=headers)).status_code == 200
    assert await stock_of(db, product["id"]) == 3


async def test_concurrent_adjustments_never_exceed_the_limit(
    database_url: str, db: asyncpg.Connection, settings: Settings
) -> None:
    """Forty adjustments at once by one user: exactly twenty go through, whichever requests win. (An app of its
    own with a generous acquire timeout: forty requests share five pooled connections on a busy machine.)"""
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    with live_server(create_app(make_settings(database_url, DB_ACQUIRE_TIMEOUT=60))) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=120) as http:
            responses = await asyncio.gather(
                *(http.post(adjust_url(product["id"]), json=ADD, headers=headers) for _ in range(40))
            )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 20 + [429] * 20, [r.text for r in responses if r.status_code not in (200, 429)]
    assert await stock_of(db, product["id"]) == 20
