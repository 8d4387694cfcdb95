"""Rate limits of the stock routes (contract 6.1, quirk 9.16), on the shared sliding-window limiter
(service.http.ratelimit): 20 adjustments and 100 history reads per minute per user, each on its own counter,
counted in PostgreSQL and shared by every process and instance.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from service.http.ratelimit import Limit, RateLimiter

ADJUST = "stock-adjustment"
HISTORY = "stock-history"

# Contract 6.1: 20 adjustments and 100 history reads per minute per client, each on its own counter.
DEFAULT_LIMITS: dict[str, Limit] = {ADJUST: Limit(20, 60.0), HISTORY: Limit(100, 60.0)}

STATE_KEY = "stock_rate_limiter"


def limiter_for(state: MutableMapping[str, Any]) -> RateLimiter:
    """The app's limiter, created on first use. An app may be given its own beforehand
    (`app.state[STATE_KEY] = RateLimiter({...})`), e.g. with other limits."""
    limiter: RateLimiter | None = state.get(STATE_KEY)
    if limiter is None:
        limiter = state.setdefault(STATE_KEY, RateLimiter(DEFAULT_LIMITS))
    return limiter
