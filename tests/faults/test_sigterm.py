"""Fault 5: SIGTERM to `flowcrm serve` while requests are in flight.

Promise: the server stops accepting connections at once, the requests already in flight (here pre-sale
creations held up on a row lock the test owns) complete with 2xx, then the pool closes and the process exits 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.factories import bearer, create_customer, create_product, create_user
from tests.faults.conftest import ServiceProcess, app_backends, signing_settings
from tests.presales.helpers import body, item
from tests.support import wait_until

SLOW = 5


@pytest.mark.slow
async def test_sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_zero(
    fault_database_url: str, fault_db: asyncpg.Connection, tmp_path: Path
) -> None:
    service = ServiceProcess(fault_database_url, tmp_path / "serve.log", DB_POOL_MAX="10")
    try:
        user = await create_user(fault_db, "admin")
        headers = bearer(signing_settings(fault_database_url), user)
        customer = await create_customer(fault_db)
        product = await create_product(fault_db, stock=100)
        method = await fault_db.fetchval("SELECT id FROM payment_methods WHERE is_active ORDER BY code LIMIT 1")
        await service.wait_ready()

        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            fast = await asyncio.gather(*[http.get("/api/customers", headers=headers) for _ in range(10)])
            assert [r.status_code for r in fast] == [200] * 10

            # Each creation share-locks the payment method row; while the test holds it FOR UPDATE they wait.
            locker = fault_db.transaction()
            await locker.start()
            try:
                await fault_db.execute("SELECT 1 FROM payment_methods WHERE id = $1 FOR UPDATE", method)
                slow = [
                    asyncio.create_task(
                        http.post(
                            "/api/presales",
                            headers=headers,
                            json=body(
                                customer, item(product, "1"), paymentMethodId=str(method), notes=f"in flight {n}"
                            ),
                        )
                    )
                    for n in range(SLOW)
                ]

                async def all_waiting() -> bool:
                    return sum(row["wait_event_type"] == "Lock" for row in await app_backends(fault_db)) == SLOW

                await wait_until(all_waiting, within=30, what="every slow request waiting on the lock")
                service.process.send_signal(signal.SIGTERM)

                async def refusing() -> bool:
                    # Refused, or (in the instant the listening socket closes) accepted by the kernel and
                    # closed without an answer: either way no new request is served. A timeout is not refusal
                    # (nor a failure: a busy machine may be slow to close the socket); ask again.
                    try:
                        async with httpx.AsyncClient(timeout=1) as fresh:
                            await fresh.get(f"{service.url}/health")
                    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                        return True
                    except httpx.TimeoutException:
                        return False
                    return False

                await wait_until(refusing, within=30, interval=0.05, what="new connections refused")
                assert not any(task.done() for task in slow), "an in-flight request ended before its lock was free"
                assert service.process.poll() is None  # still draining
            finally:
                await locker.rollback()

            answers = await asyncio.wait_for(asyncio.gather(*slow), timeout=60)
            assert [r.status_code for r in answers] == [201] * SLOW, [r.text for r in answers]

        returncode = await asyncio.to_thread(service.process.wait, 30)
        output = service.output()
        assert returncode == 0, output
        assert "database pool closed" in output
        assert output.index("database pool closed") > output.rindex("POST /api/presales")  # after the last answer
        assert await fault_db.fetchval("SELECT count(*) FROM presales WHERE notes LIKE 'in flight %'") == SLOW
        assert await fault_db.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 100
    finally:
        service.stop()
