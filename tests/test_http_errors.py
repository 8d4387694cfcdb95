"""Every failure leaves in the contract's error envelope, and nothing internal leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from service.config import Settings
from tests.routes_for_tests import serve_with_test_routes


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve_with_test_routes(settings):
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["message"] == body["error"]["message"]
    assert body["timestamp"].endswith("Z")
    assert body["path"] == response.request.url.path
    return body


async def test_unknown_route_is_404(api: httpx.AsyncClient) -> None:
    assert_envelope(await api.get("/api/nothing-here"), 404, "NOT_FOUND")


async def test_wrong_method_is_405(api: httpx.AsyncClient) -> None:
    assert_envelope(await api.delete("/health"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("payload", [b"{bad json", b'{"name": "x", ', b"\xff\xfe"])
async def test_malformed_json_is_400(api: httpx.AsyncClient, payload: bytes) -> None:
    response = await api.post("/test/echo", content=payload, headers={"content-type": "application/json"})
    assert_envelope(response, 400, "BAD_REQUEST")


async def test_validation_is_422_with_details_per_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/test/echo", json={"name": "far too long a name", "quantity": "many", "extra": 1})
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    details = {d["field"]: d for d in body["error"]["details"]}
    assert set(details) == {"name", "quantity", "extra"}
    assert details["name"]["value"] == "far too long a name"
    assert "value" not in details["quantity"]  # type errors carry no value
    assert "Unrecognized key" in details["extra"]["message"]
    assert body["error"]["message"] == body["error"]["details"][0]["message"]


async def test_missing_body_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/test/echo", headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.json()["success"] is False


async def test_unexpected_error_is_500_with_request_id_and_no_internals(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await api.get("/test/boom")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert len(body["error"]["requestId"]) == 32
    assert "SELECT" not in response.text and "password" not in response.text
    assert "Traceback" not in response.text
    assert any(body["error"]["requestId"] in record.getMessage() for record in caplog.records)


async def test_database_errors_are_mapped_without_leaking(api: httpx.AsyncClient) -> None:
    response = await api.get("/test/duplicate-cpf")
    body = assert_envelope(response, 409, "CONFLICT")
    assert "customers_cpf_key" not in response.text and "INSERT" not in response.text
    assert "duplicate key" not in body["message"]


async def test_oversized_body_is_413(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/test/echo",
        content=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
