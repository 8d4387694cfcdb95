"""Sliding-window rate limits counted in PostgreSQL, shared by every worker process and every instance of the
service (the table `rate_limits`, db/migrations/20261206000001_rate_limits.sql); the stock routes and the login
use it.

Each (bucket, key) pair has one row holding the times of the hits counted in the last `window` seconds; a hit is
refused while it holds `limit` of them, and the refusal says how many seconds remain until a slot frees (at
least 1). Refused hits are not recorded, so a client that keeps retrying is let in as soon as a slot frees.
Buckets are counted separately.

Atomic across processes with one statement and no session state (so it works through PgBouncer in transaction
pooling mode): `INSERT ... ON CONFLICT DO UPDATE ... WHERE` locks the pair's row, and under READ COMMITTED the
update sees the row as the last concurrent hit left it, so two processes can never both take the last slot. When
the WHERE (a free slot) fails, no row comes back: refused.

The clock is the service's, passed as a parameter (`clock`, wall-clock seconds, `time.time` unless a test gives
its own), rather than PostgreSQL's: tests then move time without sleeping and check exact waits. Instances on
different machines compare their clocks through the rows; NTP keeps them within milliseconds of each other,
which does not matter against windows of a minute or more. Times are whole microseconds (bigint) so the
arithmetic on them is exact and `Retry-After` never rounds up a wait that is a whole number of seconds.

Cleaned up by the service: a hit drops its row's expired times, and at most once per `sweep_every` seconds each
process deletes the rows whose every hit has expired (`expires_at`), so the table holds only the keys seen in
the longest window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import asyncpg
from pypika import PostgreSQLQuery as Query
from pypika import Table

from service import errors
from service.db.sql import P

MICROSECONDS = 1_000_000

rate_limits = Table("rate_limits")

# PyPika cannot write an ON CONFLICT action whose value and condition are subqueries over the conflicting row's
# array, so this one is plain SQL: $1 bucket, $2 key, $3 now, $4 window, $5 limit (times in microseconds). The
# row is dead `window` after its newest hit (greatest: another instance may have written a slightly later hit).
HIT_SQL = """
INSERT INTO rate_limits AS r (bucket, key, hits, expires_at)
VALUES ($1::text, $2::text, ARRAY[$3::bigint], $3::bigint + $4::bigint)
ON CONFLICT (bucket, key) DO UPDATE
SET hits = ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > $3::bigint - $4::bigint) || $3::bigint,
    expires_at = greatest(r.expires_at, $3::bigint + $4::bigint)
WHERE (SELECT count(*) FROM unnest(r.hits) AS h WHERE h > $3::bigint - $4::bigint) < $5::int
RETURNING true
""".strip()

# $1 bucket, $2 key.
_HITS = (
    Query.from_(rate_limits)
    .select(rate_limits.hits)
    .where((rate_limits.bucket == P[1]) & (rate_limits.key == P[2]))
    .get_sql()
)
_CLEAR = Query.from_(rate_limits).delete().where((rate_limits.bucket == P[1]) & (rate_limits.key == P[2])).get_sql()
# $1 now.
_SWEEP = Query.from_(rate_limits).delete().where(rate_limits.expires_at <= P[1]).get_sql()


@dataclass(frozen=True)
class Limit:
    limit: int
    window: float = 60.0  # seconds

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")

    @property
    def window_us(self) -> int:
        return round(self.window * MICROSECONDS)


def too_many(wait: int, message: str = "Too many requests, please try again later") -> errors.RateLimited:
    """429 RATE_LIMIT_EXCEEDED with Retry-After (and error.retryAfter in the body)."""
    return errors.RateLimited(message, headers={"Retry-After": str(wait)})


def seconds_until_a_slot_frees(hits: list[int], rule: Limit, now: int) -> int:
    """Whole seconds (>= 1) until the hits in the window are fewer than the limit: until the oldest leaves it,
    or a later one when the window holds more than the limit (the limit was lowered)."""
    live = sorted(hit for hit in hits if hit > now - rule.window_us)
    if len(live) < rule.limit:
        return 1  # a slot freed between the refusal and this read: the next try goes in
    frees_at = live[len(live) - rule.limit] + rule.window_us
    return max(1, -(-(frees_at - now) // MICROSECONDS))


class RateLimiter:
    """Sliding-window log per (bucket, key) in PostgreSQL; the limit of each bucket is set on the instance.
    Every call takes the connection to use (the request's): each is one statement outside any transaction."""

    def __init__(
        self, limits: Mapping[str, Limit], *, clock: Callable[[], float] = time.time, sweep_every: float = 60.0
    ) -> None:
        self.limits: dict[str, Limit] = dict(limits)
        self.clock = clock
        self.sweep_every = sweep_every
        self._last_sweep: float | None = None

    def _now(self) -> int:
        return round(self.clock() * MICROSECONDS)

    async def hit(self, conn: asyncpg.Connection, bucket: str, key: object) -> int | None:
        """Record a hit and return None, or return the seconds to wait (>= 1) when the key is over the limit."""
        rule = self.limits[bucket]
        now = self._now()
        admitted = await conn.fetchval(HIT_SQL, bucket, str(key), now, rule.window_us, rule.limit)
        await self._sweep(conn, now)
        if admitted:
            return None
        hits = await conn.fetchval(_HITS, bucket, str(key))
        return seconds_until_a_slot_frees(hits or [], rule, now)

    async def check(self, conn: asyncpg.Connection, bucket: str, key: object, message: str | None = None) -> None:
        """Record a hit or raise 429 RATE_LIMIT_EXCEEDED with Retry-After (error.retryAfter in the body)."""
        wait = await self.hit(conn, bucket, key)
        if wait is not None:
            raise too_many(wait, *(message,) if message else ())

    async def clear(self, conn: asyncpg.Connection, bucket: str, key: object) -> None:
        """Forget one key's hits in one bucket."""
        await conn.execute(_CLEAR, bucket, str(key))

    async def _sweep(self, conn: asyncpg.Connection, now: int) -> None:
        """Delete the rows whose every hit has expired, at most once per `sweep_every` seconds per process."""
        seconds = now / MICROSECONDS
        if self._last_sweep is not None and seconds - self._last_sweep < self.sweep_every:
            return
        self._last_sweep = seconds
        await conn.execute(_SWEEP, now)
