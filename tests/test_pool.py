"""The pool limit holds: excess requests wait, and past the acquire timeout end in a clean 503."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from service.app import create_app
from tests.conftest import make_settings
from tests.routes_for_tests import TEST_ROUTES, WAIT_LOCK
from tests.support import live_server, wait_until


def app_with_test_routes(database_url: str, **overrides: object):
    app = create_app(make_settings(database_url, **overrides))
    for route in TEST_ROUTES:
        app.register(route)
    return app


async def flowcrm_statements(db: asyncpg.Connection) -> int:
    """Statements of the service running now on this database. What runs, not what is open: behind PgBouncer
    the server connections are shared, and outlive the apps that used them."""
    return await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'flowcrm' AND datname = current_database() AND state = 'active'"
    )


async def flowcrm_statements_are(db: asyncpg.Connection, count: int) -> bool:
    return await flowcrm_statements(db) == count


async def test_more_requests_than_connections_wait_their_turn(database_url: str, db: asyncpg.Connection) -> None:
    # A generous acquire timeout: the four that wait for a connection must not give up however slow the machine.
    app = app_with_test_routes(database_url, DB_POOL_MIN=1, DB_POOL_MAX=2, DB_ACQUIRE_TIMEOUT=60)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=90) as http:
            # Six requests against two connections, all held on a lock the test owns: a state that lasts until
            # the test ends it, so what is counted does not depend on sampling the right moment.
            locker = await asyncpg.connect(database_url)
            lock = locker.transaction()
            await lock.start()
            await locker.execute("SELECT pg_advisory_xact_lock($1)", WAIT_LOCK)
            requests = [asyncio.create_task(http.get("/test/wait-for-lock")) for _ in range(6)]
            await wait_until(lambda: flowcrm_statements_are(db, 2), within=30, what="both connections in use")
            assert (await http.get("/health/ready")).json()["database"]["connections"] == {
                "active": 2,
                "idle": 0,
                "total": 2,
                "max": 2,
            }
            assert await flowcrm_statements(db) == 2  # two at once, never more
            assert not any(r.done() for r in requests)  # the other four wait for a connection, not refused

            await lock.rollback()
            await locker.close()
            assert [(await r).status_code for r in requests] == [200] * 6
            pool = (await http.get("/health/ready")).json()["database"]["connections"]
    assert pool["total"] == pool["max"] == 2


async def test_exhausted_pool_answers_503_with_retry_after_and_health_still_answers(
    database_url: str, db: asyncpg.Connection
) -> None:
    app = app_with_test_routes(database_url, DB_POOL_MIN=1, DB_POOL_MAX=2, DB_ACQUIRE_TIMEOUT=0.5)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            # Both connections held until the test lets go of the lock: no race with a sleep's end. (Its own
            # connection: inside a transaction, pg_stat_activity would show one snapshot.)
            locker = await asyncpg.connect(database_url)
            lock = locker.transaction()
            await lock.start()
            await locker.execute("SELECT pg_advisory_xact_lock($1)", WAIT_LOCK)
            holders = [asyncio.create_task(http.get("/test/wait-for-lock")) for _ in range(2)]
            await wait_until(lambda: flowcrm_statements_are(db, 2), within=30, what="both connections held")

            refused = await http.get("/test/sleep", params={"seconds": 0})  # answered while the holders still wait
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"]["code"] == "DATABASE_BUSY"
            # Without a token a protected route answers 401 at once: it never waits for a connection.
            anonymous = await http.get("/api/customers")
            assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "UNAUTHORIZED"

            assert (await http.get("/health")).status_code == 200
            ready = await http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["database"]["connections"] == {"active": 2, "idle": 0, "total": 2, "max": 2}

            await lock.rollback()
            await locker.close()
            assert [(await h).status_code for h in holders] == [200, 200]
            assert (await http.get("/test/sleep", params={"seconds": 0})).status_code == 200
