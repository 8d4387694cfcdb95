"""Fault 7: a rolling restart of two instances behind a real HAProxy under load.

Promise (lame-duck shutdown, service/ops/shutdown.py): two instances of `flowcrm serve` (production mode,
2 workers each) behind HAProxy health-checking `GET /health/ready` every 500 ms (fall 2, rise 2) WITHOUT
retries or redispatch; under concurrent authenticated reads and writes (keep-alive and new connections),
each instance in turn gets SIGTERM, exits 0 and is started again: not one request fails. And the test can
fail: with SHUTDOWN_DELAY_SECONDS=0 the same restart fails requests (the instance stops accepting before
HAProxy notices).
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.factories import bearer, create_user, valid_cpf
from tests.faults.conftest import ServiceProcess, signing_settings
from tests.faults.haproxy import HAProxy, haproxy_binary
from tests.support import wait_until

pytestmark = pytest.mark.slow

CLIENTS = 8  # concurrent clients: half keep their connection alive, half open a new one per request
PRODUCTION = {"ENVIRONMENT": "production", "DB_POOL_MAX": "4"}


@dataclass
class Outcome:
    at: float  # time.monotonic() when the answer (or the error) came
    ok: bool
    served_by: str  # HAProxy's X-Served-By; "" when no server answered
    detail: str


@dataclass
class Load:
    """Authenticated reads (customer and product lists) and writes (customer creations) through HAProxy until
    stopped; every request's outcome is kept."""

    url: str
    headers: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(self, keepalive: bool) -> None:
        limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=60, limits=limits) as http:
            n = 0
            while not self.stopping.is_set():
                n += 1
                try:
                    if n % 3 == 0:
                        cpf = valid_cpf()
                        response = await http.post(
                            "/api/customers",
                            json={
                                "name": f"Cliente {cpf}",
                                "email": f"load-{cpf}@example.com",
                                "phone": "(11) 98765-4321",
                                "cpf": cpf,
                            },
                        )
                    else:
                        response = await http.get("/api/customers?page=1&limit=10" if n % 3 == 1 else "/api/products")
                    self.outcomes.append(
                        Outcome(
                            time.monotonic(),
                            response.status_code in (200, 201),
                            response.headers.get("x-served-by", ""),
                            f"{response.request.method} {response.request.url.path}: "
                            f"{response.status_code} {response.text[:200]}",
                        )
                    )
                except httpx.HTTPError as exc:
                    self.outcomes.append(Outcome(time.monotonic(), False, "", f"{type(exc).__name__}: {exc}"))
                await asyncio.sleep(0.005)  # pacing (bounded load: the machine is shared); no assertion depends on it

    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def served_between(self, start: float, end: float, by: str | None = None) -> int:
        return sum(
            outcome.ok and start <= outcome.at <= end and (by is None or outcome.served_by == by)
            for outcome in self.outcomes
        )


@dataclass
class Fleet:
    """Two instances behind HAProxy, restarted one at a time."""

    database_url: str
    logs: Path
    env: dict[str, str]
    instances: dict[str, ServiceProcess] = field(default_factory=dict)
    starts: int = 0

    def start(self, name: str, port: int | None = None) -> ServiceProcess:
        self.starts += 1
        self.instances[name] = ServiceProcess(
            self.database_url, self.logs / f"serve-{name}-{self.starts}.log", workers=2, port=port, **self.env
        )
        return self.instances[name]

    async def restart(self, name: str, haproxy: HAProxy) -> tuple[float, float]:
        """SIGTERM, exit 0, HAProxy sees it down, start it again on its port, HAProxy sees it up. Returns when
        the drain began and ended (the process's exit)."""
        old = self.instances[name]
        began = time.monotonic()
        old.process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(old.process.wait, 90)
        ended = time.monotonic()
        output = old.output()
        old.stop()
        assert returncode == 0, output
        assert output.count("database pool closed") == 2, output  # both workers ran the lifespan shutdown
        await haproxy.wait_status(name, "DOWN")  # as an orchestrator would replace it: not before it is gone
        new = self.start(name, port=old.port)

        async def up() -> bool:
            assert new.process.poll() is None, f"the restarted instance exited:\n{new.output()}"
            return (await haproxy.status()).get(name) == "UP"

        await wait_until(up, within=90, interval=0.05, what=f"HAProxy seeing the restarted {name} up")
        return began, ended

    def stop(self) -> None:
        for instance in self.instances.values():
            instance.stop()


@pytest.fixture
def fleet_logs(tmp_path: Path) -> Path:
    haproxy_binary()  # skip (or fail with REQUIRE_HAPROXY=1) before starting anything
    return tmp_path


async def rolling_restart(
    database_url: str,
    logs: Path,
    env: dict[str, str],
    restart: tuple[str, ...],
    *,
    retries: int = 0,
    redispatch: bool = False,
) -> tuple[Load, dict[str, tuple[float, float]]]:
    """The scenario: start the fleet and HAProxy, run the load, restart the named instances in turn, stop the
    load. Returns the load's outcomes and each restart's drain window."""
    db = await asyncpg.connect(database_url)
    try:
        headers = bearer(signing_settings(database_url), await create_user(db, "admin"))
    finally:
        await db.close()
    fleet = Fleet(database_url, logs, env)
    haproxy: HAProxy | None = None
    try:
        for name in ("a", "b"):
            fleet.start(name)
        await asyncio.gather(*(instance.wait_ready(within=90) for instance in fleet.instances.values()))
        haproxy = HAProxy(
            logs,
            {name: instance.port for name, instance in fleet.instances.items()},
            retries=retries,
            redispatch=redispatch,
        )
        for name in fleet.instances:
            await haproxy.wait_status(name, "UP")

        load = Load(haproxy.url, headers)
        clients = [asyncio.create_task(load.client(keepalive=n % 2 == 0)) for n in range(CLIENTS)]
        try:
            drains = {}
            for name in restart:
                await wait_until(lambda: sum(o.ok for o in load.outcomes) >= 50, within=60, what="the load under way")
                before = len(load.outcomes)
                drains[name] = await fleet.restart(name, haproxy)
                await wait_until(
                    lambda before=before: len(load.outcomes) >= before + 50,
                    within=60,
                    what="the load going on after the restart",
                )
        finally:
            load.stopping.set()
            await asyncio.gather(*clients)
        return load, drains
    finally:
        if haproxy is not None:
            haproxy.stop()
        fleet.stop()


def summary(load: Load, drains: dict[str, tuple[float, float]]) -> str:
    parts = [f"{len(load.outcomes)} requests, {len(load.failures())} failed"]
    for name, (began, ended) in drains.items():
        parts.append(
            f"during {name}'s drain ({ended - began:.1f} s): {load.served_between(began, ended)} served, "
            f"{load.served_between(began, ended, by=name)} of them by {name}"
        )
    return "; ".join(parts)


async def test_a_rolling_restart_behind_haproxy_without_retries_fails_no_request(
    fault_database_url: str, fleet_logs: Path
) -> None:
    # SHUTDOWN_DELAY_SECONDS unset: production's default of 5 s, more than HAProxy's 2 x 500 ms to notice.
    load, drains = await rolling_restart(fault_database_url, fleet_logs, PRODUCTION, restart=("a", "b"))
    print(summary(load, drains))
    failures = load.failures()
    assert not failures, f"{summary(load, drains)}; first failures: {[f.detail for f in failures[:5]]}"
    for began, ended in drains.values():  # each restart happened under load
        assert load.served_between(began, ended) > 0, summary(load, drains)
    assert {outcome.served_by for outcome in load.outcomes} == {"a", "b"}


async def test_without_the_shutdown_delay_the_same_restart_fails_requests(
    fault_database_url: str, fleet_logs: Path
) -> None:
    """The control: the test above can fail. One restart is enough."""
    load, drains = await rolling_restart(
        fault_database_url, fleet_logs, {**PRODUCTION, "SHUTDOWN_DELAY_SECONDS": "0"}, restart=("a",)
    )
    print(summary(load, drains))
    assert load.failures(), summary(load, drains)
