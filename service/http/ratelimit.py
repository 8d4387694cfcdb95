"""A small in-process sliding-window rate limiter, shared by the stock routes and the login.

Each (bucket, client) pair has its own log of the hits recorded in the last `window` seconds; a hit is refused
while the log holds `limit` entries, and the refusal says how many seconds remain until the oldest entry leaves
the window (at least 1). Refused hits are not recorded, so a client that keeps retrying is let in as soon as a
slot frees. Buckets are counted separately.

`hit`/`check` test and record in one step (every request counts). `wait`, `record` and `clear` let a caller
count only some outcomes (the login counts failed attempts per account and forgets them on a success).

The counters live in the process: behind several workers or replicas each one counts on its own, so the
effective limit is the per-process limit times the number of processes. A shared store (Redis, PostgreSQL)
would be needed for one global counter.

No await happens between reading and updating a log, so on one event loop a check-and-record is atomic.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from service import errors


@dataclass(frozen=True)
class Limit:
    limit: int
    window: float = 60.0  # seconds

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")


def too_many(wait: int, message: str = "Too many requests, please try again later") -> errors.RateLimited:
    """429 RATE_LIMIT_EXCEEDED with Retry-After (and error.retryAfter in the body)."""
    return errors.RateLimited(message, headers={"Retry-After": str(wait)})


class RateLimiter:
    """Sliding-window log per (bucket, client); the limit of each bucket is set on the instance."""

    def __init__(self, limits: Mapping[str, Limit], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits: dict[str, Limit] = dict(limits)
        self.clock = clock
        self._hits: dict[tuple[str, Hashable], deque[float]] = {}
        self._last_sweep = clock()

    def wait(self, bucket: str, client: Hashable) -> int | None:
        """None when the client may go on, else the seconds (>= 1) until a slot frees; records nothing."""
        rule = self.limits[bucket]
        now = self.clock()
        self._sweep(now)
        log = self._hits.get((bucket, client))
        if log is None:
            return None
        _expire(log, now - rule.window)
        if len(log) >= rule.limit:
            return max(1, math.ceil(log[0] + rule.window - now))
        return None

    def record(self, bucket: str, client: Hashable) -> None:
        """Count one hit, whatever the limit (callers that count outcomes test `wait` first)."""
        now = self.clock()
        log = self._hits.get((bucket, client))
        if log is None:
            log = self._hits[(bucket, client)] = deque()
        _expire(log, now - self.limits[bucket].window)
        log.append(now)

    def hit(self, bucket: str, client: Hashable) -> int | None:
        """Record a hit and return None, or return the seconds to wait (>= 1) when the client is over the limit."""
        wait = self.wait(bucket, client)
        if wait is None:
            self.record(bucket, client)
        return wait

    def check(self, bucket: str, client: Hashable, message: str | None = None) -> None:
        """Record a hit or raise 429 RATE_LIMIT_EXCEEDED with Retry-After (error.retryAfter in the body)."""
        wait = self.hit(bucket, client)
        if wait is not None:
            raise too_many(wait, *(message,) if message else ())

    def clear(self, bucket: str, client: Hashable) -> None:
        """Forget one client's hits in one bucket."""
        self._hits.pop((bucket, client), None)

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
