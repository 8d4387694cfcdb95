"""Fault 1: the PostgreSQL server is killed (immediate shutdown) under steady concurrent traffic (list reads
and multi-statement pre-sale writes), then started again. Promise: while it is down every answer is a 503 with
Retry-After (never a 500, never a hang) and readiness is 503; once readiness is 200 again, every request
succeeds; no acknowledged write is lost and no write is left half done.

Nothing here depends on the machine's speed: each phase lasts until enough answers of that phase have come
(a condition, not a duration), and "never a hang" is every request answered before a client timeout far
beyond the service's own timeouts. Those are generous too: with the server down a connection is refused at
once, so they never set the pace, and a loaded machine cannot turn a healthy phase's slow answer into a 503.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.embedded import EmbeddedPostgres
from service.db.migrations import MigrationRunner
from tests.conftest import MIGRATIONS_DIR, make_settings
from tests.factories import bearer, create_customer, create_product, create_user
from tests.presales.helpers import body, item
from tests.support import free_port, live_server, wait_until, with_database

CONNECT_TIMEOUT = 5.0
ACQUIRE_TIMEOUT = 5.0
HEALTH_TIMEOUT = 5.0
CLIENT_TIMEOUT = 60.0  # far beyond the service's timeouts: reaching it is a hang, whatever the machine's speed
PHASE_WITHIN = 120.0  # a guard against waiting forever; each phase of a passing run takes well under a second
READERS = 6
WRITERS = 2
CLIENTS = READERS + WRITERS


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all (transport error or client timeout)
    retry_after: str | None
    code: str | None


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own: the session's server must keep running for the other tests."""
    # Durable (synchronous commit): an acknowledged write must survive the kill, so the test can count them.
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port(), durable=True)
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")


async def traffic(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    answers: list[Answer],
    stop: asyncio.Event,
    write: dict[str, Any] | None = None,
) -> None:
    """One client: list customers, or (with `write`) create pre-sales of two lines, until told to stop."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            if write is None:
                response = await http.get("/api/customers", headers=headers)
            else:
                response = await http.post("/api/presales", headers=headers, json=write)
        except httpx.HTTPError:
            answers.append(Answer(started, time.monotonic(), 0, None, None))
        else:
            code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
            answers.append(
                Answer(started, time.monotonic(), response.status_code, response.headers.get("Retry-After"), code)
            )
        await asyncio.sleep(0.005)  # pacing only (a 503 comes at once): no assertion depends on the rate


async def enough_answers(reads: list[Answer], writes: list[Answer], since: float, phase: str) -> None:
    """Wait until this phase has had its traffic: of the requests started after `since`, two per client (on
    average) answered, reads and writes each."""
    for answers, count in ((reads, 2 * READERS), (writes, 2 * WRITERS)):
        await wait_until(
            lambda answers=answers, count=count: sum(a.started > since for a in answers) >= count,
            within=PHASE_WITHIN,
            what=f"{count} answers {phase}",
        )


async def wait_readiness(http: httpx.AsyncClient, status: int) -> None:
    async def reached() -> bool:
        return (await http.get("/health/ready")).status_code == status

    await wait_until(reached, within=PHASE_WITHIN, what=f"readiness {status}")


@pytest.mark.slow
async def test_database_killed_under_traffic_answers_503_then_recovers(own_server: EmbeddedPostgres) -> None:
    url = with_database(own_server.url, "flowcrm")
    MigrationRunner(url, MIGRATIONS_DIR).up()
    seed = await asyncpg.connect(url)
    try:
        user = await create_user(seed, "admin")
        customers = [await create_customer(seed) for _ in range(3)]
        product = await create_product(seed, stock=1_000_000)
    finally:
        await seed.close()
    settings = make_settings(
        url,
        DB_CONNECT_TIMEOUT=CONNECT_TIMEOUT,
        DB_ACQUIRE_TIMEOUT=ACQUIRE_TIMEOUT,
        DB_POOL_MIN=1,
        DB_POOL_MAX=4,
        HEALTH_TIMEOUT=HEALTH_TIMEOUT,
    )
    headers = bearer(settings, user)
    answers: list[Answer] = []
    writes: list[Answer] = []
    stop = asyncio.Event()

    with live_server(create_app(settings)) as server:
        async with httpx.AsyncClient(
            base_url=server.url, timeout=CLIENT_TIMEOUT, limits=httpx.Limits(max_connections=CLIENTS + 2)
        ) as http:
            write = body(customers[0], item(product, "1"), item(product, "2"))
            clients = [asyncio.create_task(traffic(http, headers, answers, stop)) for _ in range(READERS)]
            clients += [asyncio.create_task(traffic(http, headers, writes, stop, write)) for _ in range(WRITERS)]
            try:
                await enough_answers(answers, writes, 0, "from a healthy database")

                kill_started = time.monotonic()
                await asyncio.to_thread(own_server.stop, mode="immediate")
                kill_done = time.monotonic()
                await wait_readiness(http, 503)
                ready = await http.get("/health/ready")
                assert ready.status_code == 503 and ready.headers["Retry-After"]
                assert ready.json()["database"]["status"] == "down"
                await enough_answers(answers, writes, kill_done, "while the database is down")

                restart_started = time.monotonic()
                await asyncio.to_thread(own_server.start)
                await wait_readiness(http, 200)
                ready_at = time.monotonic()
                await enough_answers(answers, writes, ready_at, "after recovery")
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*clients), timeout=CLIENT_TIMEOUT + 30)

    await check_writes(url, writes, kill_started, kill_done, restart_started, ready_at)
    assert answers, "no traffic"
    assert not [a for a in answers if a.status == 0], "a request got no HTTP answer (a hang or a dropped connection)"
    assert not [a for a in answers if a.status not in (200, 503)], sorted({a.status for a in answers})

    before = [a for a in answers if a.ended < kill_started]
    assert len(before) >= READERS and all(a.status == 200 for a in before)

    down = [a for a in answers if a.started > kill_done and a.ended < restart_started]
    assert len(down) >= READERS, "too little traffic while the database was down"
    assert all(a.status == 503 for a in down), sorted({a.status for a in down})
    assert all(a.retry_after and int(a.retry_after) >= 1 for a in down)
    assert {a.code for a in down} <= {"DATABASE_UNAVAILABLE", "DATABASE_BUSY"}

    every_503 = [a for a in answers if a.status == 503]
    assert all(a.retry_after for a in every_503)

    after = [a for a in answers if a.started > ready_at]
    assert len(after) >= READERS
    assert all(a.status == 200 for a in after), sorted((a.status, a.code) for a in after if a.status != 200)


async def check_writes(
    url: str,
    writes: list[Answer],
    kill_started: float,
    kill_done: float,
    restart_started: float,
    ready_at: float,
) -> None:
    assert not [a for a in writes if a.status not in (201, 503)], sorted({(a.status, a.code) for a in writes})
    assert all(a.status == 201 for a in writes if a.ended < kill_started)
    assert all(a.status == 503 and a.retry_after for a in writes if a.started > kill_done and a.ended < restart_started)
    assert all(a.status == 201 for a in writes if a.started > ready_at)
    assert len([a for a in writes if a.started > ready_at]) >= WRITERS

    conn = await asyncpg.connect(url)
    try:
        presales = await conn.fetchval("SELECT count(*) FROM presales")
        lines = await conn.fetch(
            "SELECT presale_id, count(*) AS n, sum(quantity) AS q FROM presale_items GROUP BY presale_id"
        )
    finally:
        await conn.close()
    # Whole pre-sales only: each with its two lines, none half written.
    assert len(lines) == presales and all((row["n"], row["q"]) == (2, 3) for row in lines)
    # Every 201 is in the database; beyond those, at most the writes cut off by the kill (their commit may have
    # happened with the answer lost, the ambiguity every client of a database has).
    acknowledged = sum(a.status == 201 for a in writes)
    cut_off = sum(a.status == 503 and a.started <= kill_done for a in writes)
    assert acknowledged <= presales <= acknowledged + cut_off
