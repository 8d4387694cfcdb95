"""What the service measures, as Prometheus metrics (README, "Metrics").

Under `flowcrm serve` with METRICS_PORT, PROMETHEUS_MULTIPROC_DIR is set before any worker starts, so every
value below lives in a file of that directory that the main process's listener (service/ops/metrics_server.py)
aggregates over the workers; gauges per worker carry a `pid` label there. Anywhere else (the tests' server,
`flowcrm serve` without METRICS_PORT) the values live in this process's default registry.

Per request the cost is one histogram observation on a label child looked up in a dict (`observe_request`);
the pool's in-use and idle counts and the page cache's size are sampled once a second, not on every acquire and
release.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncGenerator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, multiprocess

from service import __version__

UNMATCHED_ROUTE = "<unmatched>"  # the route label of a request no route matched (404, 405)
POOL_SAMPLE_SECONDS = 1.0
# Any other method is counted as OTHER: clients choose the method, and every label value is a series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_DURATION = Histogram(
    "flowcrm_http_request_duration_seconds",
    "HTTP requests by method, route template and status: duration in seconds (its _count is the request count)",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_CONNECTIONS = Gauge(
    "flowcrm_db_pool_connections",
    "Database pool of each worker: connections in use and idle, and requests waiting to acquire one",
    ["state"],
    multiprocess_mode="liveall",
)
DB_ERRORS = Counter(
    "flowcrm_db_errors_total", "PostgreSQL errors that reached a response, by SQLSTATE class", ["sqlstate_class"]
)
STATEMENT_TIMEOUTS = Counter(
    "flowcrm_db_statement_timeouts_total", "Statements cancelled by statement_timeout (SQLSTATE 57014)"
)
TOKEN_CACHE_LOOKUPS = Counter(
    "flowcrm_token_cache_lookups_total",
    "Bearer tokens looked up in the process's token cache, by result (hit, miss)",
    ["result"],
)
PAGE_CACHE_LOOKUPS = Counter(
    "flowcrm_page_cache_lookups_total",
    "Pages of the big lists looked up in the worker's page cache, by list and result (hit, miss)",
    ["list", "result"],
)
RATE_LIMITED = Counter(
    "flowcrm_rate_limited_total", "Requests refused with 429 by a rate limit, by route template", ["route"]
)
PENDING_MIGRATIONS = Gauge(
    "flowcrm_pending_migrations",
    "Migrations the service knows of that the database has not applied (last health check)",
    multiprocess_mode="livemostrecent",
)
PAGE_CACHE_BYTES = Gauge(
    "flowcrm_page_cache_bytes",
    "Memory each worker's page cache counts (kept pages' bytes, 1 KB each for its key; at most PAGE_CACHE_MB)",
    multiprocess_mode="liveall",
)
START_TIME = Gauge(
    "flowcrm_process_start_time_seconds", "When each worker process started (Unix time)", multiprocess_mode="liveall"
)
BUILD_INFO = Gauge("flowcrm_build_info", "The running version (always 1)", ["version"], multiprocess_mode="livemax")

TOKEN_CACHE_HIT = TOKEN_CACHE_LOOKUPS.labels("hit")
TOKEN_CACHE_MISS = TOKEN_CACHE_LOOKUPS.labels("miss")
POOL_IN_USE = POOL_CONNECTIONS.labels("in_use")
POOL_IDLE = POOL_CONNECTIONS.labels("idle")
POOL_WAITING = POOL_CONNECTIONS.labels("waiting")

_request_children: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if method not in _METHODS:
        method = "OTHER"
    key = (method, route, status)
    child = _request_children.get(key)
    if child is None:
        child = _request_children[key] = REQUEST_DURATION.labels(method, route, str(status))
    child.observe(seconds)


def count_database_error(sqlstate: str) -> None:
    DB_ERRORS.labels(sqlstate[:2] or "unknown").inc()
    if sqlstate == "57014":
        STATEMENT_TIMEOUTS.inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def sample_pool(pool: Any) -> None:
    if pool is None:
        return
    idle = pool.get_idle_size()
    POOL_IN_USE.set(pool.get_size() - idle)
    POOL_IDLE.set(idle)


async def _sample_forever(app: Any) -> None:
    while True:
        sample_pool(app.state.pool)
        PAGE_CACHE_BYTES.set(app.state.pages.size)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


@contextlib.asynccontextmanager
async def worker_metrics(app: Any) -> AsyncGenerator[None, None]:
    """App lifespan (after the pool's): this process's start time and version, its pool and page cache sampled
    every second;
    at shutdown its per-process gauges are removed from the shared directory."""
    START_TIME.set(time.time())
    BUILD_INFO.labels(__version__).set(1)
    sampler = asyncio.create_task(_sample_forever(app))
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if multiprocess_dir():
            multiprocess.mark_process_dead(os.getpid())
