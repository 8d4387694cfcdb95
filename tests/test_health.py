from pathlib import Path

import httpx
import pytest

from service.ops.shutdown import DRAIN_FILE_ENV


async def test_liveness_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["environment"] == "test"
    assert body["version"] == "1.0.0"
    assert body["timestamp"].endswith("Z")


async def test_readiness_reports_database_pool_and_migrations(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["status"] == "up"
    assert body["database"]["responseTime"] >= 0
    assert set(body["database"]["connections"]) == {"active", "idle", "total", "max"}
    assert body["database"]["connections"]["max"] == 5
    assert body["migrations"]["pending"] == []


async def test_readiness_answers_503_while_draining_and_liveness_stays_200(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flowcrm serve` marks the workers draining with a file (service/ops/shutdown.py); here the app runs
    in this process, so the test plays the main process's part."""
    drain_file = tmp_path / "draining"
    monkeypatch.setenv(DRAIN_FILE_ENV, str(drain_file))
    assert (await client.get("/health/ready")).status_code == 200

    drain_file.touch()
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["status"] == "draining"
    assert (await client.get("/health")).status_code == 200
