"""`flowcrm serve` (granian) names the client by X-Forwarded-For only when the peer is a trusted proxy
(FORWARDED_ALLOW_IPS, default 127.0.0.1): the address the audit log and the login limits use."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.factories import PASSWORD, create_user
from tests.faults.conftest import ServiceProcess, cloned_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(server_url: str, template_database: str) -> Iterator[str]:
    with cloned_database(server_url, template_database) as cloned:
        yield cloned


@pytest.mark.parametrize(("trusted", "recorded"), [(None, "203.0.113.7"), ("", "127.0.0.1"),
                                                   ("10.0.0.0/8", "127.0.0.1")])
async def test_login_is_audited_from_the_forwarded_client_only_behind_a_trusted_proxy(
        url: str, tmp_path, trusted: str | None, recorded: str) -> None:
    env = {} if trusted is None else {"FORWARDED_ALLOW_IPS": trusted}
    service = ServiceProcess(url, tmp_path / "serve.log", **env)
    db = await asyncpg.connect(url)
    try:
        await service.wait_ready()
        user = await create_user(db, "employee")
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
            response = await http.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD},
                                       headers={"X-Forwarded-For": "203.0.113.7"})
        assert response.status_code == 200, response.text
        assert await db.fetchval("SELECT ip_address FROM audit_logs WHERE user_id = $1 AND action = 'login'",
                                 user["id"]) == recorded
    finally:
        await db.close()
        service.stop()
    assert service.process.returncode == 0, service.output()
