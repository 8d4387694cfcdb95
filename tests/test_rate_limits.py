"""The sliding-window limiter counted in PostgreSQL (service/http/ratelimit.py), against the real database with
an injected clock: the window, exact waits, separate buckets, clearing, the sweep, and atomicity under real
concurrency (many connections taking the last slots at once)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service import errors
from service.http.ratelimit import Limit, RateLimiter
from tests.support import Clock


async def test_sliding_window_admits_the_limit_then_says_when_a_slot_frees(db: asyncpg.Connection) -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(3, 60)}, clock=clock)
    assert await limiter.hit(db, "b", "u") is None  # at 0
    clock.now += 5
    assert [await limiter.hit(db, "b", "u") for _ in range(2)] == [None, None]  # at 5
    assert await limiter.hit(db, "b", "u") == 55  # the hit at 0 leaves at 60
    clock.now += 10.2
    assert await limiter.hit(db, "b", "u") == 45  # ceil(60 - 15.2)
    clock.now += 44.7
    assert await limiter.hit(db, "b", "u") == 1  # 0.1 s left: never 0
    clock.now += 0.2
    assert await limiter.hit(db, "b", "u") is None  # the hit at 0 left the window; refusals were never counted
    assert await limiter.hit(db, "b", "u") == 5  # the two hits at 5 leave at 65


async def test_sliding_window_is_not_a_fixed_window(db: asyncpg.Connection) -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(2, 10)}, clock=clock)
    assert await limiter.hit(db, "b", "u") is None
    clock.now += 9
    assert await limiter.hit(db, "b", "u") is None
    clock.now += 2  # the first hit is 11 s old, the second 2 s: only one slot is free
    assert await limiter.hit(db, "b", "u") is None
    assert await limiter.hit(db, "b", "u") == 8  # a fixed window reset at 10 would have admitted it


async def test_hits_at_the_same_instant_are_each_counted(db: asyncpg.Connection) -> None:
    limiter = RateLimiter({"b": Limit(3, 60)}, clock=Clock())
    assert [await limiter.hit(db, "b", "u") for _ in range(4)] == [None, None, None, 60]


async def test_a_lowered_limit_waits_for_enough_hits_to_leave(db: asyncpg.Connection) -> None:
    """Hits counted under a higher limit (another instance's settings, or before a restart) still count."""
    clock = Clock()
    generous = RateLimiter({"b": Limit(3, 60)}, clock=clock)
    for _ in range(3):
        assert await generous.hit(db, "b", "u") is None
        clock.now += 10
    strict = RateLimiter({"b": Limit(2, 60)}, clock=clock)  # at 30; hits at 0, 10, 20
    assert await strict.hit(db, "b", "u") == 40  # one slot frees when the hit at 10 leaves, at 70


async def test_buckets_and_keys_count_separately(db: asyncpg.Connection) -> None:
    limiter = RateLimiter({"adjust": Limit(1, 60), "history": Limit(2, 60)}, clock=Clock())
    assert await limiter.hit(db, "adjust", "a") is None
    assert await limiter.hit(db, "adjust", "a") == 60
    assert await limiter.hit(db, "history", "a") is None and await limiter.hit(db, "history", "a") is None
    assert await limiter.hit(db, "history", "a") == 60
    assert await limiter.hit(db, "adjust", "b") is None


async def test_check_raises_429_with_retry_after(db: asyncpg.Connection) -> None:
    limiter = RateLimiter({"b": Limit(1, 30)}, clock=Clock())
    await limiter.check(db, "b", "a")
    with pytest.raises(errors.RateLimited) as caught:
        await limiter.check(db, "b", "a")
    assert caught.value.status_code == 429 and caught.value.code == "RATE_LIMIT_EXCEEDED"
    assert caught.value.headers == {"Retry-After": "30"}


async def test_clear_forgets_one_key_in_one_bucket(db: asyncpg.Connection) -> None:
    limiter = RateLimiter({"b": Limit(1, 60), "c": Limit(1, 60)}, clock=Clock())
    for key in ("x", "y"):
        await limiter.hit(db, "b", key)
        await limiter.hit(db, "c", key)
    await limiter.clear(db, "b", "x")
    assert await limiter.hit(db, "b", "x") is None
    assert await limiter.hit(db, "c", "x") == 60 and await limiter.hit(db, "b", "y") == 60


async def test_expired_rows_are_swept_at_most_once_per_interval(db: asyncpg.Connection) -> None:
    clock = Clock()
    limiter = RateLimiter({"short": Limit(5, 10), "long": Limit(5, 600)}, clock=clock, sweep_every=60)
    for key in range(100):
        await limiter.hit(db, "short", key)
    await limiter.hit(db, "long", "kept")
    assert await db.fetchval("SELECT count(*) FROM rate_limits") == 101
    clock.now += 59  # the short window has passed, the sweep interval has not
    await limiter.hit(db, "short", "fresh")
    assert await db.fetchval("SELECT count(*) FROM rate_limits") == 102
    clock.now += 1
    await limiter.hit(db, "short", "fresh")
    rows = await db.fetch("SELECT bucket, key FROM rate_limits ORDER BY 1")
    assert [tuple(row) for row in rows] == [("long", "kept"), ("short", "fresh")]


async def test_a_row_keeps_only_the_hits_in_its_window(db: asyncpg.Connection) -> None:
    clock = Clock()
    limiter = RateLimiter({"b": Limit(3, 10)}, clock=clock)
    for _ in range(3):  # at 0, 6 and 12
        await limiter.hit(db, "b", "u")
        clock.now += 6
    assert await db.fetchval("SELECT cardinality(hits) FROM rate_limits") == 2  # the hit at 0 was dropped


async def test_concurrent_hits_never_let_more_than_the_limit_through(database_url: str) -> None:
    """Forty connections (as forty processes would) race for the last slots of one key, many rounds."""
    limiter = RateLimiter({"b": Limit(7, 60)}, clock=Clock())
    pool = await asyncpg.create_pool(database_url, min_size=40, max_size=40)
    try:

        async def one_hit(key: str) -> int | None:
            async with pool.acquire() as conn:
                return await limiter.hit(conn, "b", key)

        for round_ in range(5):
            results = await asyncio.gather(*(one_hit(f"key{round_}") for _ in range(40)))
            assert results.count(None) == 7, results
            assert all(wait == 60 for wait in results if wait is not None)
            hits = await pool.fetchval("SELECT cardinality(hits) FROM rate_limits WHERE key = $1", f"key{round_}")
            assert hits == 7
    finally:
        await pool.close()
