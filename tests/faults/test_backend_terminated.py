"""Fault 2: the app's backend is terminated (pg_terminate_backend) in the middle of a write: a transaction of
several statements (a conversion), or the one statement that creates a pre-sale.

Promise: the request ends in a clean 503 DATABASE_UNAVAILABLE with Retry-After (not a 500), nothing of its
transaction remains, and the next requests succeed on a connection the pool opened in place of the dead one.
The write is paused for real inside the service (after its first statements ran, or inside the statement, waiting
for a row lock the test holds) so the test can kill the backend while the transaction is open."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.presales.service import PresaleService
from tests.conftest import make_settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.faults.conftest import app_backends
from tests.presales.helpers import body, item
from tests.support import live_server, wait_until


class Pause:
    """Wraps a service method: the first call runs it, then waits until the test releases it (60 s at most, a
    guard: the test releases it as soon as it has terminated the backend).

    The app runs on the server's thread and loop, so the hand-over uses threading events."""

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.paused = threading.Event()
        self.release = threading.Event()
        self.used = False

    def method(self) -> Callable[..., Any]:
        pause = self

        async def paused_after(service: PresaleService, *args: Any) -> Any:
            result = await pause.original(service, *args)
            if not pause.used:
                pause.used = True
                pause.paused.set()
                await asyncio.to_thread(pause.release.wait, 60)
            return result

        return paused_after


async def terminate_open_transaction(db: asyncpg.Connection) -> int:
    """Terminate the app's backend holding the open transaction; return its pid once it is gone."""
    rows = [row for row in await app_backends(db) if row["state"] in ("idle in transaction", "active")]
    assert len(rows) == 1, rows
    pid = rows[0]["pid"]
    assert rows[0]["state"] == "idle in transaction"
    assert await db.fetchval("SELECT pg_terminate_backend($1)", pid) is True

    async def gone() -> bool:
        return pid not in {row["pid"] for row in await app_backends(db)}

    await wait_until(gone, within=30, what="the terminated backend to go away")
    return pid


def assert_clean_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "DATABASE_UNAVAILABLE"
    assert error["requestId"] == response.headers["x-request-id"]  # every error names its request


async def count(db: asyncpg.Connection, table: str) -> int:
    return await db.fetchval(f'SELECT count(*) FROM "{table}"')


async def test_backend_terminated_during_presale_create_leaves_nothing(
    fault_database_url: str, fault_db: asyncpg.Connection
) -> None:
    """Creating is one statement (no transaction around it): the backend is terminated in the middle of that
    statement, after its pre-sale, item and audit rows went in and while its foreign-key check waits for the
    customer's row, which the test holds locked."""
    settings = make_settings(fault_database_url, DB_POOL_MIN=1, DB_POOL_MAX=1)  # one connection: it must be replaced
    user = await create_user(fault_db, "admin")
    headers = bearer(settings, user)
    customer = await create_customer(fault_db)
    product = await create_product(fault_db, stock=10)
    holder = await asyncpg.connect(fault_database_url)
    try:
        with live_server(create_app(settings)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                lock = holder.transaction()
                await lock.start()
                await holder.execute("SELECT FROM customers WHERE id = $1 FOR UPDATE", customer["id"])
                request = asyncio.create_task(
                    http.post(
                        "/api/presales", headers=headers, json=body(customer, item(product, "2"), item(product, "3"))
                    )
                )

                async def writing() -> list[asyncpg.Record]:
                    return [row for row in await app_backends(fault_db) if row["wait_event_type"] == "Lock"]

                await wait_until(writing, within=60, what="the create statement waiting for the customer's row")
                [waiting] = await writing()
                assert await fault_db.fetchval("SELECT pg_terminate_backend($1)", waiting["pid"]) is True
                await lock.rollback()
                assert_clean_503(await request)

                assert (await count(fault_db, "presales"), await count(fault_db, "presale_items")) == (0, 0)
                assert await count(fault_db, "audit_logs") == 0

                # The pool's only connection died; the next requests get a new one and succeed.
                for _ in range(3):
                    created = await http.post("/api/presales", headers=headers, json=body(customer, item(product, "1")))
                    assert created.status_code == 201, created.text
                assert (await http.get("/api/presales", headers=headers)).json()["pagination"]["total"] == 3
                assert waiting["pid"] not in {row["pid"] for row in await app_backends(fault_db)}
    finally:
        await holder.close()


async def test_backend_terminated_during_conversion_deducts_nothing(
    fault_database_url: str, fault_db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(fault_database_url, DB_POOL_MIN=1, DB_POOL_MAX=1)
    user = await create_user(fault_db, "admin")
    headers = bearer(settings, user)
    customer = await create_customer(fault_db)
    a = await create_product(fault_db, stock=10)
    b = await create_product(fault_db, stock=5)
    presale = await create_presale(
        fault_db,
        customer["id"],
        [(a["id"], Decimal("4"), Decimal("15.00")), (b["id"], Decimal("5"), Decimal("15.00"))],
        status="approved",
        created_by=user["id"],
    )
    # Paused after the stock is deducted and the history rows written, before the status update and commit.
    pause = Pause(PresaleService._change_status)
    monkeypatch.setattr(PresaleService, "_change_status", pause.method())

    async def stocks() -> tuple[int, int]:
        rows = await fault_db.fetch("SELECT id, stock FROM products WHERE id = ANY($1::uuid[])", [a["id"], b["id"]])
        by_id = {row["id"]: row["stock"] for row in rows}
        return by_id[a["id"]], by_id[b["id"]]

    with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            url = f"/api/presales/{presale['id']}/convert"
            request = asyncio.create_task(http.post(url, headers=headers))
            assert await asyncio.to_thread(pause.paused.wait, 60), "the conversion never reached the pause"
            await terminate_open_transaction(fault_db)
            pause.release.set()
            assert_clean_503(await request)

            assert await stocks() == (10, 5)
            assert await count(fault_db, "stock_adjustments") == 0
            assert await fault_db.fetchval("SELECT status FROM presales WHERE id = $1", presale["id"]) == "approved"
            assert await count(fault_db, "audit_logs") == 0

            # Retrying the same conversion on the replaced connection deducts exactly once.
            retried = await http.post(url, headers=headers)
            assert retried.status_code == 200, retried.text
            assert retried.json()["data"]["status"] == "converted"
            assert await stocks() == (6, 0)
            assert await count(fault_db, "stock_adjustments") == 2
            assert (
                await http.get(f"/api/presales/{uuid.UUID(str(presale['id']))}", headers=headers)
            ).status_code == 200
