"""Fault 6: two service processes on one database, as behind a load balancer.

Promise: correctness rests on the database (row locks, unique indexes), not on anything held in one process:
conversions sharing a product never oversell, concurrent stock adjustments end at the exact stock, and the same
CPF created through both processes at once ends in exactly one 201."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from tests.factories import bearer, create_customer, create_presale, create_product, create_user, valid_cpf
from tests.faults.conftest import ServiceProcess, cloned_database, running_instances, signing_settings
from tests.support import wait_until

# Set up once per module (module-scoped fixtures): every test of the file runs on the same xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_two_processes")]


@pytest.fixture(scope="module")
def shared_url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as url:
        yield url


@pytest.fixture(scope="module")
def services(shared_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServiceProcess]]:
    with running_instances(shared_url, tmp_path_factory.mktemp("two-processes"), DB_POOL_MAX="10") as started:
        yield started


@pytest.fixture
async def db(shared_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(shared_url, server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()


async def across(
    services: list[ServiceProcess], requests: list[tuple[str, str, dict | None]], headers: dict[str, str]
) -> list[httpx.Response]:
    """Send every request at once, alternating between the two processes."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(requests))) as http:
        return await asyncio.gather(
            *[
                http.request(method, services[n % 2].url + path, json=payload, headers=headers)
                for n, (method, path, payload) in enumerate(requests)
            ]
        )


async def test_conversions_split_across_processes_never_oversell(
    services: list[ServiceProcess], shared_url: str, db: asyncpg.Connection
) -> None:
    user = await create_user(db, "admin")
    headers = bearer(signing_settings(shared_url), user)
    customer = await create_customer(db)
    scarce = await create_product(db, stock=10)
    plenty = await create_product(db, stock=100)
    presales = []
    for n in range(16):  # 16 pre-sales of 1 scarce + 2 plenty each, lines in either order
        lines = [(scarce["id"], Decimal("1"), Decimal("15.00")), (plenty["id"], Decimal("2"), Decimal("15.00"))]
        presales.append(
            await create_presale(
                db, customer["id"], lines[:: 1 if n % 2 else -1], status="approved", created_by=user["id"]
            )
        )
    random.shuffle(presales)

    answers = await across(services, [("POST", f"/api/presales/{p['id']}/convert", None) for p in presales], headers)

    assert all("/convert" in service.output() for service in services)  # both processes took a share
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {200: 10, 409: 6}, [r.text for r in answers if r.status_code not in (200, 409)]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"INSUFFICIENT_STOCK"}
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", scarce["id"]) == 0
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", plenty["id"]) == 80
    rows = await db.fetch(
        "SELECT product_id, quantity, previous_stock, new_stock FROM stock_adjustments "
        "WHERE product_id = ANY($1::uuid[])",
        [scarce["id"], plenty["id"]],
    )
    assert len(rows) == 20
    assert Counter(row["product_id"] for row in rows) == {scarce["id"]: 10, plenty["id"]: 10}
    # Each deduction started from the stock the previous one left: every previous value appears exactly once.
    assert sorted(row["previous_stock"] for row in rows if row["product_id"] == scarce["id"]) == list(range(1, 11))
    assert sorted(row["new_stock"] for row in rows if row["product_id"] == plenty["id"]) == list(range(80, 100, 2))
    assert (
        await db.fetchval(
            "SELECT count(*) FROM presales WHERE id = ANY($1::uuid[]) AND status = 'converted'",
            [p["id"] for p in presales],
        )
        == 10
    )


async def test_stock_adjustments_across_processes_end_at_the_exact_stock(
    services: list[ServiceProcess], shared_url: str, db: asyncpg.Connection
) -> None:
    user = await create_user(db, "admin")
    headers = bearer(signing_settings(shared_url), user)
    mixed = await create_product(db, stock=100)
    scarce = await create_product(db, stock=6)

    def adjust(product: asyncpg.Record, kind: str, quantity: int) -> tuple[str, str, dict]:
        return (
            "POST",
            f"/api/products/{product['id']}/stock-adjustment",
            {"adjustmentType": kind, "quantity": quantity, "reason": f"{kind} {quantity} from the fault test"},
        )

    # 10 adds of 3 and 10 removes of 2 (never short): 100 + 30 - 20 (under the per-process rate limit of 20).
    requests = [adjust(mixed, "add", 3) for _ in range(10)] + [adjust(mixed, "remove", 2) for _ in range(10)]
    random.shuffle(requests)
    answers = await across(services, requests, headers)
    assert [r.status_code for r in answers] == [200] * 20, [r.text for r in answers if r.status_code != 200]
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", mixed["id"]) == 110
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments WHERE product_id = $1", mixed["id"]) == 20

    # Ten removals of 1 from a stock of 6 through both processes (another user: its own rate-limit counters).
    other = bearer(signing_settings(shared_url), await create_user(db, "admin"))
    answers = await across(services, [adjust(scarce, "remove", 1) for _ in range(10)], other)
    assert Counter(r.status_code for r in answers) == {200: 6, 400: 4}
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", scarce["id"]) == 0
    rows = await db.fetch("SELECT previous_stock, new_stock FROM stock_adjustments WHERE product_id = $1", scarce["id"])
    assert sorted((row["previous_stock"], row["new_stock"]) for row in rows) == [(n, n - 1) for n in range(1, 7)]


async def test_the_same_cpf_through_both_processes_is_created_once(
    services: list[ServiceProcess], shared_url: str, db: asyncpg.Connection
) -> None:
    user = await create_user(db, "admin")
    headers = bearer(signing_settings(shared_url), user)
    cpf = valid_cpf()
    requests = [
        (
            "POST",
            "/api/customers",
            {"name": f"Cliente {n}", "email": f"cliente{n}-{cpf}@example.com", "phone": "(11) 98765-4321", "cpf": cpf},
        )
        for n in range(10)
    ]
    answers = await across(services, requests, headers)
    assert Counter(r.status_code for r in answers) == {201: 1, 409: 9}, [r.text for r in answers]
    assert await db.fetchval("SELECT count(*) FROM customers WHERE cpf = $1", cpf) == 1


async def test_a_logout_or_demotion_in_one_process_ends_the_session_in_the_other(
    services: list[ServiceProcess], shared_url: str, db: asyncpg.Connection
) -> None:
    """Each process keeps the tokens it verified for a few seconds (README, "Token cache"); the database
    announces every session change to all of them at commit, so the other process follows at once."""
    settings = signing_settings(shared_url)
    admin_headers = bearer(settings, await create_user(db, "admin"))
    employee = await create_user(db, "employee")
    employee_headers = bearer(settings, employee)
    first, second = services
    async with httpx.AsyncClient(timeout=10) as http:

        async def status(service: ServiceProcess, path: str, headers: dict[str, str]) -> int:
            return (await http.get(service.url + path, headers=headers)).status_code

        async def answers(service: ServiceProcess, path: str, headers: dict[str, str], expected: int) -> bool:
            return await status(service, path, headers) == expected

        for service in services:  # both processes have verified (and keep) both tokens
            assert await status(service, "/api/users", admin_headers) == 200
            assert await status(service, "/api/auth/me", employee_headers) == 200

        response = await http.put(
            f"{first.url}/api/users/{employee['id']}", headers=admin_headers, json={"role": "manager"}
        )
        assert response.status_code == 200, response.text
        # A role change ends the session, in the other process too.
        await wait_until(
            lambda: answers(second, "/api/auth/me", employee_headers, 401),
            within=30,
            what="the other process refusing the demoted user's token",
        )

        assert (await http.post(f"{first.url}/api/auth/logout", headers=admin_headers)).status_code == 200
        await wait_until(
            lambda: answers(second, "/api/users", admin_headers, 401),
            within=30,
            what="the other process refusing the logged-out token",
        )
