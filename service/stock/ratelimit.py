"""A small in-process sliding-window rate limiter for the stock routes (contract 6.1, quirk 9.16).

Each (bucket, client) pair has its own log of the hits accepted in the last `window` seconds; a hit is refused
while the log holds `limit` entries, and the refusal says how many seconds remain until the oldest entry leaves
the window (at least 1). Refused hits are not recorded, so a client that keeps retrying is let in as soon as a
slot frees. Buckets are counted separately: stock adjustments and history reads never share a counter.

The counters live in the process: behind several workers or replicas each one counts on its own, so the
effective limit is the per-process limit times the number of processes. A shared store (Redis, PostgreSQL)
would be needed for one global counter.

No await happens between reading and updating a log, so on one event loop a check-and-record is atomic.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from service import errors

ADJUST = "stock-adjustment"
HISTORY = "stock-history"


@dataclass(frozen=True)
class Limit:
    limit: int
    window: float = 60.0  # seconds

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")


# Contract 6.1: 20 adjustments and 100 history reads per minute per client, each on its own counter.
DEFAULT_LIMITS: dict[str, Limit] = {ADJUST: Limit(20, 60.0), HISTORY: Limit(100, 60.0)}


class RateLimiter:
    """Sliding-window log per (bucket, client); the limit of each bucket is set on the instance."""

    def __init__(self, limits: Mapping[str, Limit] | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits: dict[str, Limit] = dict(DEFAULT_LIMITS if limits is None else limits)
        self.clock = clock
        self._hits: dict[tuple[str, Hashable], deque[float]] = {}
        self._last_sweep = clock()

    def hit(self, bucket: str, client: Hashable) -> int | None:
        """Record a hit and return None, or return the seconds to wait (>= 1) when the client is over the limit."""
        rule = self.limits[bucket]
        now = self.clock()
        self._sweep(now)
        key = (bucket, client)
        log = self._hits.get(key)
        if log is None:
            log = self._hits[key] = deque()
        _expire(log, now - rule.window)
        if len(log) >= rule.limit:
            wait = log[0] + rule.window - now
            return max(1, math.ceil(wait))
        log.append(now)
        return None

    def check(self, bucket: str, client: Hashable) -> None:
        """Record a hit or raise 429 RATE_LIMIT_EXCEEDED with Retry-After (error.retryAfter in the body)."""
        wait = self.hit(bucket, client)
        if wait is not None:
            raise errors.RateLimited("Too many requests, please try again later",
                                     headers={"Retry-After": str(wait)})

    def reset(self, client: Hashable | None = None) -> None:
        """Forget every counter, or only one client's (all buckets)."""
        if client is None:
            self._hits.clear()
        else:
            for key in [key for key in self._hits if key[1] == client]:
                del self._hits[key]

    def _sweep(self, now: float) -> None:
        """Drop the logs of idle clients, at most once per longest window (keeps memory bounded)."""
        longest = max((rule.window for rule in self.limits.values()), default=60.0)
        if now - self._last_sweep < longest:
            return
        self._last_sweep = now
        for key in list(self._hits):
            rule = self.limits.get(key[0])
            log = self._hits[key]
            if rule is not None:
                _expire(log, now - rule.window)
            if not log:
                del self._hits[key]


def _expire(log: deque[float], before: float) -> None:
    while log and log[0] <= before:
        log.popleft()


STATE_KEY = "stock_rate_limiter"


def limiter_for(state: MutableMapping[str, Any]) -> RateLimiter:
    """The app's limiter, created on first use. An app may be given its own beforehand
    (`app.state[STATE_KEY] = RateLimiter({...})`), e.g. with other limits."""
    limiter = state.get(STATE_KEY)
    if limiter is None:
        limiter = state.setdefault(STATE_KEY, RateLimiter())
    return limiter
