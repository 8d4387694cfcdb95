import httpx


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
