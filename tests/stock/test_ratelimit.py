"""Rate limits of the stock routes (contract 6.1, 3.5; quirk 9.16: separate counters).

The session's app keeps its limiter for the whole session; counters are per user and every test creates new
users, so each test starts with empty counters.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from service import errors
from service.app import create_app
from service.config import Settings
from service.http.ratelimit import Limit, RateLimiter
from service.stock.ratelimit import ADJUST, HISTORY, STATE_KEY, limiter_for
from tests.factories import create_product
from tests.stock.helpers import adjust_url, new_user, rows_of, stock_of
from tests.support import live_server

ADD = {"adjustmentType": "add", "quantity": 1, "reason": "Restock"}
HISTORY_URL = "/api/stock-adjustments"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter on its own -----------------------------------------------------------------------------------

def test_sliding_window_admits_the_limit_then_says_when_a_slot_frees() -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(3, 60)}, clock=clock)
    assert limiter.hit("b", "u") is None  # at 0
    clock.now += 5
    assert [limiter.hit("b", "u") for _ in range(2)] == [None, None]  # at 5
    assert limiter.hit("b", "u") == 55  # the hit at 0 leaves at 60
    clock.now += 10.2
    assert limiter.hit("b", "u") == 45  # ceil(60 - 15.2)
    clock.now += 44.7
    assert limiter.hit("b", "u") == 1  # 0.1 s left: never 0
    clock.now += 0.2
    assert limiter.hit("b", "u") is None  # the hit at 0 left the window; refusals were never counted
    assert limiter.hit("b", "u") == 5  # the two hits at 5 leave at 65


def test_sliding_window_is_not_a_fixed_window() -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(2, 10)}, clock=clock)
    assert limiter.hit("b", "u") is None
    clock.now += 9
    assert limiter.hit("b", "u") is None
    clock.now += 2  # the first hit is 11 s old, the second 2 s: only one slot is free
    assert limiter.hit("b", "u") is None
    assert limiter.hit("b", "u") == 8  # a fixed window reset at 10 would have admitted it


def test_buckets_and_clients_count_separately() -> None:
    clock = Clock()
    limiter = RateLimiter({ADJUST: Limit(1, 60), HISTORY: Limit(2, 60)}, clock=clock)
    assert limiter.hit(ADJUST, "a") is None
    assert limiter.hit(ADJUST, "a") == 60
    assert limiter.hit(HISTORY, "a") is None and limiter.hit(HISTORY, "a") is None
    assert limiter.hit(HISTORY, "a") == 60
    assert limiter.hit(ADJUST, "b") is None


def test_check_raises_429_with_retry_after() -> None:
    limiter = RateLimiter({ADJUST: Limit(1, 30)}, clock=Clock())
    limiter.check(ADJUST, "a")
    with pytest.raises(errors.RateLimited) as caught:
        limiter.check(ADJUST, "a")
    assert caught.value.status_code == 429 and caught.value.code == "RATE_LIMIT_EXCEEDED"
    assert caught.value.headers == {"Retry-After": "30"}


def test_reset_one_client_or_all() -> None:
    limiter = RateLimiter({"b": Limit(1, 60), "c": Limit(1, 60)}, clock=Clock())
    for client in ("x", "y"):
        limiter.hit("b", client)
        limiter.hit("c", client)
    limiter.reset("x")
    assert limiter.hit("b", "x") is None and limiter.hit("c", "x") is None
    assert limiter.hit("b", "y") == 60
    limiter.reset()
    assert limiter.hit("b", "y") is None


def test_idle_clients_are_swept() -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(5, 60)}, clock=clock)
    for client in range(100):
        limiter.hit("b", client)
    assert len(limiter._hits) == 100
    clock.now += 61
    limiter.hit("b", "fresh")
    assert list(limiter._hits) == [("b", "fresh")]


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
        responses = await asyncio.gather(*(client.get(HISTORY_URL, params={"limit": 1}, headers=headers)
                                           for _ in range(10)))
        assert [r.status_code for r in responses] == [200] * 10, (batch, [r.text for r in responses])

    refused = await client.get(HISTORY_URL, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.json()["error"]["retryAfter"] == int(refused.headers["Retry-After"]) >= 1

    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
    assert (await client.get(HISTORY_URL, headers=other)).status_code == 200


async def test_invalid_requests_count_too(client: httpx.AsyncClient, db: asyncpg.Connection,
                                          settings: Settings) -> None:
    """The slot is taken after authentication and before validation: 20 rejected bodies use up the minute."""
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for _ in range(20):
        assert (await client.post(adjust_url(product["id"]), json={"quantity": 0},
                                  headers=headers)).status_code == 422
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 429
    assert await stock_of(db, product["id"]) == 0


async def test_unauthenticated_requests_do_not_use_anyones_slots(client: httpx.AsyncClient, db: asyncpg.Connection,
                                                                 settings: Settings) -> None:
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    for _ in range(25):
        assert (await client.post(adjust_url(product["id"]), json=ADD)).status_code == 401
    assert (await client.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200


async def test_a_slot_frees_when_the_window_slides(database_url: str, settings: Settings,
                                                   db: asyncpg.Connection) -> None:
    """An app given its own limiter (short window) before it starts: limits are set on the instance."""
    app = create_app(settings)
    app.state[STATE_KEY] = RateLimiter({ADJUST: Limit(2, 1.0), HISTORY: Limit(1, 1.0)})
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=0)
    with live_server(app) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            assert (await http.get(HISTORY_URL, headers=headers)).status_code == 200
            refused = await http.post(adjust_url(product["id"]), json=ADD, headers=headers)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
            assert (await http.get(HISTORY_URL, headers=headers)).status_code == 429
            await asyncio.sleep(1.05)  # every accepted hit happened before the refusal
            assert (await http.post(adjust_url(product["id"]), json=ADD, headers=headers)).status_code == 200
            assert (await http.get(HISTORY_URL, headers=headers)).status_code == 200
    assert await stock_of(db, product["id"]) == 3
