"""Fault 7: a release pipeline runs `dbmate up` while the service serves traffic (issue 12).

Promise: a new index built CONCURRENTLY and a new nullable column, applied while authenticated clients read and
write the very table they change, fail no request; and the service keeps working on the new schema (it names
its columns, so a column it does not know changes none of its answers)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.factories import bearer, create_customer, create_user, valid_cpf
from tests.faults.conftest import ServiceProcess, signing_settings
from tests.online_migrations import (
    NEW_COLUMN,
    NEW_INDEX,
    NEW_MIGRATIONS,
    fetch,
    invalid_indexes,
    migrations_with_new_ones,
    run_pipeline,
)
from tests.support import wait_until

pytestmark = pytest.mark.slow

READERS, WRITERS = 3, 2
ROUNDS_AFTER = 5  # rounds every client makes on the new schema, once the migrations are applied
GENEROUS = 300  # seconds: the machine may be slow
CUSTOMER_KEYS = {"id", "name", "email", "phone", "cpf", "address", "createdAt", "updatedAt"}


@dataclass
class Load:
    migrated: asyncio.Event = field(default_factory=asyncio.Event)
    during: int = 0  # requests answered while the migrations ran
    after: int = 0
    failures: list[str] = field(default_factory=list)

    async def send(
        self, http: httpx.AsyncClient, method: str, path: str, expected: int, payload: dict | None = None
    ) -> httpx.Response | None:
        started_migrated = self.migrated.is_set()
        try:
            response = await http.request(method, path, json=payload)
        except httpx.TransportError as exc:
            self.failures.append(f"{method} {path}: {exc!r}")
            return None
        if response.status_code != expected:
            self.failures.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
        if started_migrated:
            self.after += 1
        elif not self.migrated.is_set():
            self.during += 1
        return response


async def reader(http: httpx.AsyncClient, load: Load, customer_ids: list[uuid.UUID], n: int) -> None:
    await load.send(http, "GET", "/api/customers?sortBy=name&limit=20", 200)
    await load.send(http, "GET", "/api/customers?search=customer&limit=10", 200)
    await load.send(http, "GET", f"/api/customers/{customer_ids[n % len(customer_ids)]}", 200)


async def writer(http: httpx.AsyncClient, load: Load, _customer_ids: list[uuid.UUID], _n: int) -> None:
    cpf = valid_cpf()
    created = await load.send(
        http,
        "POST",
        "/api/customers",
        201,
        {"name": f"Load {cpf}", "email": f"load-{cpf}@example.com", "phone": "(11) 98765-4321", "cpf": cpf},
    )
    if created is not None and created.status_code == 201:
        await load.send(http, "PUT", f"/api/customers/{created.json()['data']['id']}", 200, {"name": f"Renamed {cpf}"})


async def client(url: str, headers: dict[str, str], load: Load, customer_ids: list[uuid.UUID], work) -> None:
    """Rounds of `work` until the migrations are applied, then ROUNDS_AFTER more (bounded by GENEROUS)."""
    deadline = time.monotonic() + GENEROUS
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        n, after = 0, 0
        while after < ROUNDS_AFTER and time.monotonic() < deadline:
            migrated = load.migrated.is_set()
            await work(http, load, customer_ids, n)
            n += 1
            after += migrated


async def test_a_concurrent_index_and_a_nullable_column_applied_under_load_fail_no_request(
    fault_database_url: str, fault_db: asyncpg.Connection, tmp_path: Path
) -> None:
    migrations = migrations_with_new_ones(tmp_path / "migrations")
    headers = bearer(signing_settings(fault_database_url), await create_user(fault_db, "admin"))
    customer_ids = [(await create_customer(fault_db))["id"] for _ in range(200)]
    service = ServiceProcess(fault_database_url, tmp_path / "serve.log", DB_POOL_MAX="10")
    try:
        await service.wait_ready()
        load = Load()
        clients = [
            asyncio.create_task(client(service.url, headers, load, customer_ids, work))
            for work in [reader] * READERS + [writer] * WRITERS
        ]
        await wait_until(lambda: load.during >= 2 * (READERS + WRITERS), within=GENEROUS, what="traffic flowing")
        result = await asyncio.wait_for(run_pipeline(fault_database_url, migrations), GENEROUS)
        load.migrated.set()
        await asyncio.wait_for(asyncio.gather(*clients), GENEROUS)

        assert result.returncode == 0, result.output
        assert all(f"Applying: {name}" in result.output for name in NEW_MIGRATIONS), result.output
        assert load.failures == [], "\n".join(load.failures[:20])
        assert load.during > 0 and load.after >= ROUNDS_AFTER * (READERS + WRITERS)
        assert await invalid_indexes(fault_database_url) == []
        assert await fetch(fault_database_url, "SELECT 1 FROM pg_indexes WHERE indexname = $1", NEW_INDEX)

        # The new column holds data: the service's answers about customers are the same as before.
        await fault_db.execute(f"UPDATE customers SET {NEW_COLUMN} = 'nick'")
        async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=60) as http:
            listed = await http.get("/api/customers?limit=5")
            one = await http.get(f"/api/customers/{customer_ids[0]}")
        assert listed.status_code == 200 and one.status_code == 200, (listed.text, one.text)
        assert all(set(row) == CUSTOMER_KEYS for row in listed.json()["data"])
        assert set(one.json()["data"]) == CUSTOMER_KEYS
    finally:
        service.stop()
    assert service.process.returncode == 0, service.output()
