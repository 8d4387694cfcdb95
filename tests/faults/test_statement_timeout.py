"""Fault 3: a real statement outlasts DB_STATEMENT_TIMEOUT (it waits on a row lock the test holds).

Promise: PostgreSQL cancels it, the client gets 503 QUERY_TIMEOUT with Retry-After, nothing is written, and
the very same pooled connection serves the next requests (no reconnect, pool size unchanged)."""

from __future__ import annotations

import time

import asyncpg
import httpx

from service.app import create_app
from tests.conftest import make_settings
from tests.factories import bearer, create_product, create_user
from tests.faults.conftest import app_backends
from tests.support import live_server

STATEMENT_TIMEOUT = 0.5


async def test_statement_timeout_answers_503_and_the_connection_serves_again(
    fault_database_url: str, fault_db: asyncpg.Connection
) -> None:
    settings = make_settings(fault_database_url, DB_STATEMENT_TIMEOUT=STATEMENT_TIMEOUT, DB_POOL_MIN=1, DB_POOL_MAX=1)
    bouncer = getattr(settings, "db_pgbouncer", False)
    if bouncer:  # statement_timeout cannot travel through PgBouncer: the database holds it (README, tests/conftest.py)
        name = await fault_db.fetchval("SELECT current_database()")
        await fault_db.execute(f"ALTER DATABASE \"{name}\" SET statement_timeout = '{int(STATEMENT_TIMEOUT * 1000)}ms'")
    user = await create_user(fault_db, "admin")
    headers = bearer(settings, user)
    product = await create_product(fault_db, name="Cimento", stock=7)
    url = f"/api/products/{product['id']}"

    with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            assert (await http.get(url, headers=headers)).status_code == 200
            backends_before = [row["pid"] for row in await app_backends(fault_db)]  # the pool's one + readiness'
            pool_before = (await http.get("/health/ready")).json()["database"]["connections"]
            assert pool_before["total"] == 1

            locker = fault_db.transaction()
            await locker.start()
            try:
                await fault_db.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", product["id"])
                started = time.monotonic()
                response = await http.put(url, headers=headers, json={"name": "Cimento CP-II", "stock": 9})
                elapsed = time.monotonic() - started
            finally:
                await locker.rollback()

            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"]["code"] == "QUERY_TIMEOUT"
            assert response.json()["error"]["requestId"] == response.headers["x-request-id"]
            # Cancelled by the server's statement_timeout (SQLSTATE 57014, QUERY_TIMEOUT above): the client-side
            # command timeout would have answered DATABASE_UNAVAILABLE. No upper bound: a busy machine is slow.
            assert STATEMENT_TIMEOUT - 0.05 <= elapsed, elapsed
            row = await fault_db.fetchrow("SELECT name, stock FROM products WHERE id = $1", product["id"])
            assert (row["name"], row["stock"]) == ("Cimento", 7)
            assert await fault_db.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'update'") == 0

            # The lock is gone: the same connection answers again, with no reconnect.
            updated = await http.put(url, headers=headers, json={"name": "Cimento CP-II", "stock": 9})
            assert updated.status_code == 200, updated.text
            assert updated.json()["data"]["stock"] == 9
            for _ in range(5):
                assert (await http.get(url, headers=headers)).status_code == 200
            if not bouncer:  # behind PgBouncer the server connections are the bouncer's, shared and reassigned
                assert [row["pid"] for row in await app_backends(fault_db)] == backends_before
            assert (await http.get("/health/ready")).json()["database"]["connections"]["total"] == 1
