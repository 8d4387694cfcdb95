"""Success envelopes are written straight to their ASGI messages (service/http/envelope.py, EnvelopeResponse):
what Litestar's own response would have sent, with every header the app adds to any answer."""

from __future__ import annotations

import asyncpg
import httpx

from tests.factories import create_customer
from tests.hostile.test_security_headers import assert_security_headers


async def test_success_envelopes_carry_their_length_type_and_the_app_headers(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    created = await client.post(
        "/api/customers",
        json={"name": "Ana Lima", "email": "ana@example.com", "phone": "(11) 91234-5678", "cpf": "52998224725"},
        headers=admin_headers,
    )
    answers = [
        (await client.get(f"/api/customers/{customer['id']}", headers=admin_headers), 200),
        (await client.get("/api/customers", params={"limit": 1}, headers=admin_headers), 200),
        (created, 201),
    ]
    for response, status in answers:
        assert response.status_code == status, response.text
        assert response.headers.get_list("content-type") == ["application/json"]
        assert response.headers.get_list("content-length") == [str(len(response.content))]
        assert len(response.headers.get_list("x-request-id")) == 1
        assert_security_headers(response)
        body = response.json()
        assert body["success"] is True and body["timestamp"].endswith("Z")
