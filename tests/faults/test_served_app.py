"""What `flowcrm serve` (granian) runs in front of the app (service.app.create_server_app): X-Forwarded-For
trusted only from FORWARDED_ALLOW_IPS (default 127.0.0.1), the client address of the audit log and the login
limits; and liveness answered before the framework, exactly as the route would."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from service.config import Settings
from service.http.health import LivenessFirst
from tests.factories import PASSWORD, create_user
from tests.faults.conftest import ServiceProcess, cloned_database

# Set up once per module (module-scoped fixtures): every test of the file runs on the same xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_served_app")]


@pytest.fixture(scope="module")
def url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as cloned:
        yield cloned


@pytest.mark.parametrize(
    ("trusted", "recorded"), [(None, "203.0.113.7"), ("", "127.0.0.1"), ("10.0.0.0/8", "127.0.0.1")]
)
async def test_login_is_audited_from_the_forwarded_client_only_behind_a_trusted_proxy(
    url: str, tmp_path, trusted: str | None, recorded: str
) -> None:
    env = {} if trusted is None else {"FORWARDED_ALLOW_IPS": trusted}
    service = ServiceProcess(url, tmp_path / "serve.log", **env)
    db = await asyncpg.connect(url)
    try:
        await service.wait_ready()
        user = await create_user(db, "employee")
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
            response = await http.post(
                "/api/auth/login",
                json={"email": user["email"], "password": PASSWORD},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        assert response.status_code == 200, response.text
        assert (
            await db.fetchval("SELECT ip_address FROM audit_logs WHERE user_id = $1 AND action = 'login'", user["id"])
            == recorded
        )
    finally:
        await db.close()
        service.stop()
    assert service.process.returncode == 0, service.output()


async def test_served_liveness_answers_like_the_route(url: str, tmp_path, client: httpx.AsyncClient) -> None:
    """`flowcrm serve` answers GET /health before the framework (LivenessFirst): the same body and headers as
    the Litestar route that the in-process test server (the `client` fixture) goes through."""
    service = ServiceProcess(url, tmp_path / "serve.log")
    try:
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
            fast = await http.get("/health")
            browser = await http.get("/health", headers={"Origin": "http://localhost:5173"})
        routed = await client.get("/health")
    finally:
        service.stop()
    for response in (fast, browser, routed):
        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["status", "timestamp", "environment", "version"] and body["status"] == "ok"
        assert body["timestamp"].endswith("Z")
    assert fast.json()["environment"] == routed.json()["environment"] == "test"
    ignored = {"date", "server", "x-request-id"}  # each response has an id of its own
    assert all(len(response.headers["x-request-id"]) == 32 for response in (fast, browser, routed))
    assert {k: v for k, v in fast.headers.items() if k not in ignored} == {
        k: v for k, v in routed.headers.items() if k not in ignored
    }
    # A browser's request goes through the app, which adds CORS for an allowed origin.
    assert browser.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "access-control-allow-origin" not in fast.headers
    assert service.process.returncode == 0, service.output()


async def test_liveness_first_answers_without_the_app_unless_a_browser_asks(settings: Settings) -> None:
    calls: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        calls.append(scope["path"])

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    def request(path: str, *headers: tuple[bytes, bytes], method: str = "GET") -> dict:
        return {"type": "http", "path": path, "method": method, "headers": [(b"host", b"x"), *headers]}

    wrapped = LivenessFirst(app, settings)
    await wrapped(request("/health"), receive, send)
    assert calls == [] and sent[0]["status"] == 200 and b'"status":"ok"' in sent[1]["body"]
    await wrapped(request("/health", (b"origin", b"http://localhost:5173")), receive, send)
    await wrapped(request("/health", method="POST"), receive, send)
    await wrapped(request("/health/ready"), receive, send)
    assert calls == ["/health", "/health", "/health/ready"]
