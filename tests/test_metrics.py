"""Metrics in one process (service/ops/metrics.py): the tests' server records into prometheus_client's default
registry exactly what `flowcrm serve`'s workers record into the shared directory (tests/faults/
test_operations_served.py scrapes those). Counters are global to the test process, so each test compares
before and after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from service import __version__
from service.app import create_app
from service.config import Settings
from tests.conftest import make_settings
from tests.factories import PASSWORD, bearer, create_product, create_user
from tests.routes_for_tests import serve_with_test_routes
from tests.support import live_server, wait_until


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests(method: str, route: str, status: int) -> float:
    return value("flowcrm_http_request_duration_seconds_count", method=method, route=route, status=str(status))


@pytest.fixture
async def api(database_url: str, shared_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own: two failed logins per account, a short statement timeout, straight to the server (a
    PgBouncer, when the suite runs behind one, would not carry the timeout), the test routes."""
    settings = make_settings(database_url, LOGIN_MAX_FAILURES_PER_ACCOUNT="2", DB_STATEMENT_TIMEOUT="0.3")
    settings = settings.model_copy(update={"database_url": shared_database_url, "db_pgbouncer": False})
    async for http in serve_with_test_routes(settings):
        yield http


async def test_requests_are_counted_by_route_template_never_the_raw_path(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    template = "/api/customers/{customer_id}"
    before = (
        requests("GET", template, 404),
        requests("GET", "<unmatched>", 404),
        requests("GET", "/api/test", 200),
        requests("OTHER", "<unmatched>", 405),
    )
    for _ in range(3):
        assert (await client.get(f"/api/customers/{uuid.uuid4()}", headers=admin_headers)).status_code == 404
    assert (await client.get(f"/no/such/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/api/test")).status_code == 200
    assert (await client.request("PROPFIND", "/api/test")).status_code == 405
    expected = (before[0] + 3, before[1] + 1, before[2] + 1, before[3] + 1)

    await wait_until(
        lambda: (
            (
                requests("GET", template, 404),
                requests("GET", "<unmatched>", 404),
                requests("GET", "/api/test", 200),
                requests("OTHER", "<unmatched>", 405),
            )
            == expected
        ),
        within=30,
        what="the counts",
    )
    routes = {
        sample.labels["route"]
        for metric in REGISTRY.collect()
        if metric.name == "flowcrm_http_request_duration_seconds"
        for sample in metric.samples
    }
    assert template in routes and not any(
        route.startswith(("/api/customers/", "/no/")) and "{" not in route for route in routes
    )
    methods = {
        sample.labels["method"]
        for metric in REGISTRY.collect()
        if metric.name == "flowcrm_http_request_duration_seconds"
        for sample in metric.samples
    }
    assert "PROPFIND" not in methods


async def test_database_errors_by_sqlstate_class_and_statement_timeouts(api: httpx.AsyncClient) -> None:
    unique, canceled, timeouts = (
        value("flowcrm_db_errors_total", sqlstate_class="23"),
        value("flowcrm_db_errors_total", sqlstate_class="57"),
        value("flowcrm_db_statement_timeouts_total"),
    )
    assert (await api.get("/test/duplicate-cpf")).status_code == 409
    response = await api.get("/test/sleep", params={"seconds": 5})
    assert response.status_code == 503 and response.json()["error"]["code"] == "QUERY_TIMEOUT"
    assert value("flowcrm_db_errors_total", sqlstate_class="23") == unique + 1
    assert value("flowcrm_db_errors_total", sqlstate_class="57") == canceled + 1
    assert value("flowcrm_db_statement_timeouts_total") == timeouts + 1


async def test_a_conflict_a_service_names_itself_is_counted_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    customer = {
        "name": "Maria Silva",
        "email": "maria@example.com",
        "phone": "(11) 98765-4321",
        "cpf": "529.982.247-25",
    }
    unique = value("flowcrm_db_errors_total", sqlstate_class="23")
    assert (await client.post("/api/customers", json=customer, headers=admin_headers)).status_code == 201
    again = await client.post("/api/customers", json={**customer, "email": "other@example.com"}, headers=admin_headers)
    assert again.status_code == 409, again.text
    assert value("flowcrm_db_errors_total", sqlstate_class="23") == unique + 1


async def test_rate_limit_refusals_are_counted_by_route(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await create_user(db, "employee")
    refused = value("flowcrm_rate_limited_total", route="/api/auth/login")
    statuses = [
        (await api.post("/api/auth/login", json={"email": user["email"], "password": "wrong-" + PASSWORD})).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    assert value("flowcrm_rate_limited_total", route="/api/auth/login") == refused + 1


async def test_token_cache_hits_and_misses(
    client: httpx.AsyncClient, server, admin_headers: dict[str, str], settings: Settings
) -> None:
    if settings.db_pgbouncer:  # no LISTEN through PgBouncer, so nothing is cached: every lookup misses
        expected_hits, expected_misses = 0, 3
    else:
        tokens = server.app.state.tokens
        await wait_until(lambda: tokens.trusted, within=30, what="the token cache to be trusted")
        expected_hits, expected_misses = 2, 1
    hits, misses = (
        value("flowcrm_token_cache_lookups_total", result="hit"),
        value("flowcrm_token_cache_lookups_total", result="miss"),
    )
    for _ in range(3):
        assert (await client.get("/api/customers", headers=admin_headers)).status_code == 200
    assert value("flowcrm_token_cache_lookups_total", result="miss") == misses + expected_misses
    assert value("flowcrm_token_cache_lookups_total", result="hit") == hits + expected_hits


async def test_pool_pending_migrations_start_time_and_version(
    client: httpx.AsyncClient, server, settings: Settings
) -> None:
    assert (await client.get("/health/ready")).status_code == 200
    assert value("flowcrm_pending_migrations") == 0
    assert value("flowcrm_build_info", version=__version__) == 1
    assert value("flowcrm_process_start_time_seconds") > 1.7e9
    pool = server.app.state.pool
    await wait_until(
        lambda: (
            value("flowcrm_db_pool_connections", state="idle") == pool.get_idle_size()
            and value("flowcrm_db_pool_connections", state="in_use") == pool.get_size() - pool.get_idle_size()
        ),
        within=30,
        what="the pool gauges to follow the pool",
    )
    assert value("flowcrm_db_pool_connections", state="waiting") == 0


async def test_the_page_cache_size_is_sampled(client: httpx.AsyncClient, admin_headers: dict, server) -> None:
    assert (await client.get("/api/customers?limit=7", headers=admin_headers)).status_code == 200
    pages = server.app.state.pages
    assert pages.size > 0
    await wait_until(
        lambda: value("flowcrm_page_cache_bytes") == pages.size, within=30, what="the gauge to follow the cache"
    )


async def test_requests_waiting_for_a_connection_are_counted(
    database_url: str, shared_database_url: str, db: asyncpg.Connection
) -> None:
    """A pool of one connection, held by an update blocked on a row the test locks: the next request waits."""
    settings = make_settings(database_url, DB_POOL_MIN="1", DB_POOL_MAX="1", DB_ACQUIRE_TIMEOUT="60")
    settings = settings.model_copy(update={"database_url": shared_database_url, "db_pgbouncer": False})
    admin = await create_user(db, "admin")
    product = await create_product(db)
    headers = bearer(settings, admin)
    waiting = "flowcrm_db_pool_connections"
    with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            lock = db.transaction()
            await lock.start()
            await db.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", product["id"])
            holder = asyncio.create_task(
                http.put(f"/api/products/{product['id']}", headers=headers, json={"name": "Cimento CP-II", "stock": 9})
            )
            await wait_until(lambda: server.app.state.pool.get_idle_size() == 0, within=30, what="the update")
            waiter = asyncio.create_task(http.get("/api/customers", headers=headers))
            await wait_until(lambda: value(waiting, state="waiting") == 1, within=30, what="a waiting request")
            await lock.rollback()
            assert [(await task).status_code for task in (holder, waiter)] == [200, 200]
    assert value(waiting, state="waiting") == 0
