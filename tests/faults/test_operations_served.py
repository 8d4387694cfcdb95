"""`flowcrm serve --workers 2` with METRICS_PORT and LOG_FORMAT=json, as an operator runs it: the metrics
listener aggregates both workers (requests by route template add up to exactly what was sent, pool gauges
and start times per worker pid), and every line of output is a JSON object, the access lines with their fields."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import __version__
from tests.factories import bearer, create_customer, create_user, valid_cpf
from tests.faults.conftest import ServiceProcess, cloned_database, signing_settings
from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow

REQUESTS = "flowcrm_http_request_duration_seconds"


@pytest.fixture
def url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as cloned:
        yield cloned


class Scrape:
    def __init__(self, text: str) -> None:
        self.samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]

    def requests(self) -> Counter[tuple[str, str, str]]:
        return Counter(
            {
                (s.labels["method"], s.labels["route"], s.labels["status"]): int(s.value)
                for s in self.samples
                if s.name == f"{REQUESTS}_count"
            }
        )

    def value(self, name: str, **labels: str) -> float | None:
        return next((s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()), None)

    def pids(self, name: str, **labels: str) -> set[str]:
        return {s.labels["pid"] for s in self.samples if s.name == name and labels.items() <= s.labels.items()}


def worker_pids(output: str) -> set[str]:
    """From granian's own lines ("Spawning worker-1 with PID: 123"), JSON like every other line."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {line["message"].rsplit(" ", 1)[1] for line in lines if line["message"].startswith("Spawning worker")}


async def test_two_workers_metrics_add_up_and_every_log_line_is_json(url: str, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")  # unreadable: must be removed at start
    port = free_port()
    service = ServiceProcess(
        url,
        tmp_path / "serve.log",
        workers=2,
        METRICS_PORT=str(port),
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    db = await asyncpg.connect(url)
    try:
        await service.wait_ready()
        admin = await create_user(db, "admin")
        headers = bearer(signing_settings(url), admin)
        customers = [await create_customer(db) for _ in range(3)]
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as metrics,
            httpx.AsyncClient(base_url=service.url, timeout=30) as http,
        ):

            async def scrape() -> Scrape:
                response = await metrics.get("/metrics")
                assert response.status_code == 200, response.text
                assert response.headers["content-type"].startswith("text/plain")
                return Scrape(response.text)

            async def both_workers_started() -> bool:
                return len((await scrape()).pids("flowcrm_process_start_time_seconds")) == 2

            await wait_until(both_workers_started, within=60, what="both workers to start")
            before = (await scrape()).requests()
            errors_before = (await scrape()).value("flowcrm_db_errors_total", sqlstate_class="23") or 0

            sent = [http.get(f"/api/customers/{customer['id']}", headers=headers) for customer in customers * 2]
            sent += [http.get("/api/customers") for _ in range(4)]
            sent += [http.get(f"/api/nope/{uuid.uuid4()}") for _ in range(3)]
            sent += [http.post("/api/customers", json={"name": ""}, headers=headers) for _ in range(2)]
            statuses = Counter(response.status_code for response in await asyncio.gather(*sent))
            assert statuses == {200: 6, 401: 4, 404: 3, 422: 2}
            new = {"name": "Joana Lima", "email": "joana@example.com", "phone": "(11) 98765-4321", "cpf": valid_cpf()}
            created = await http.post("/api/customers", json=new, headers={**headers, "X-Request-ID": "served-1"})
            assert created.status_code == 201 and created.headers["x-request-id"] == "served-1"
            duplicate = await http.post("/api/customers", json={**new, "email": "other@example.com"}, headers=headers)
            assert duplicate.status_code == 409

            expected = Counter(
                {
                    ("GET", "/api/customers/{customer_id}", "200"): 6,
                    ("GET", "/api/customers", "401"): 4,
                    ("GET", "<unmatched>", "404"): 3,
                    ("POST", "/api/customers", "422"): 2,
                    ("POST", "/api/customers", "201"): 1,
                    ("POST", "/api/customers", "409"): 1,
                }
            )

            async def counted() -> bool:
                after = (await scrape()).requests()
                return (
                    Counter({key: after[key] - before[key] for key in after if after[key] != before[key]}) == expected
                )

            # Summed over both workers' files: exactly the 17 requests sent, under route templates only.
            await wait_until(counted, within=30, what="the request counts to add up")
            final = await scrape()
            assert sum(final.requests().values()) - sum(before.values()) == 17
            assert not any(str(customer["id"]) in route for (_, route, _) in final.requests() for customer in customers)
            assert final.value("flowcrm_db_errors_total", sqlstate_class="23") == errors_before + 1
            assert final.value("flowcrm_build_info", version=__version__) == 1
            assert final.value("flowcrm_pending_migrations") == 0
            pids = worker_pids(service.output())
            assert len(pids) == 2
            for state in ("in_use", "idle", "waiting"):
                assert final.pids("flowcrm_db_pool_connections", state=state) == pids, state
            assert final.pids("flowcrm_process_start_time_seconds") == pids
            assert (await metrics.get("/metrics")).status_code == 200
    finally:
        await db.close()
        service.stop()
    assert service.process.returncode == 0, service.output()
    # Each worker removed its per-process gauges on the way out.
    assert not list(metrics_dir.glob("gauge_live*")), list(metrics_dir.iterdir())

    lines = [json.loads(line) for line in service.log_path.read_text().splitlines() if line.strip()]  # all JSON
    [access] = [line for line in lines if line.get("request_id") == "served-1"]
    assert access["logger"] == "flowcrm.access" and access["level"] == "INFO" and access["time"].endswith("Z")
    assert {key: access[key] for key in ("method", "route", "status", "user_id", "client")} == {
        "method": "POST",
        "route": "/api/customers",
        "status": 201,
        "user_id": str(admin["id"]),
        "client": "127.0.0.1",
    }
    assert access["duration_ms"] > 0
    assert sum(line["logger"] == "flowcrm.access" for line in lines) >= 17
    assert not any(line["logger"] == "granian.access" for line in lines)
