"""Every error answer is the JSON envelope, also those Litestar makes outside the handlers: a refused CORS
preflight, an unknown path under /schema, a 405 (with its `Allow` header, RFC 9110). The /schema pages that
exist keep working, and an OPTIONS answer's `Allow` names every method of the path."""

from __future__ import annotations

import httpx
import pytest

ALLOWED_ORIGIN = "http://localhost:5173"  # the default CORS_ORIGINS (the web app's dev server)


def assert_envelope(response: httpx.Response, status: int, code: str, path: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code and body["path"] == path
    assert body["message"] == body["error"]["message"]
    assert body["error"]["requestId"] == response.headers["x-request-id"]  # like every other error (README, "Logs")
    return body


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        pytest.param({"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, "origin", id="origin"),
        pytest.param({"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "TRACE"}, "method", id="method"),
        pytest.param(
            {
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-not-allowed",
            },
            "headers",
            id="headers",
        ),
    ],
)
async def test_refused_cors_preflight_is_the_envelope(
    client: httpx.AsyncClient, headers: dict[str, str], refused: str
) -> None:
    response = await client.options("/api/customers", headers=headers)
    body = assert_envelope(response, 403, "CORS_NOT_ALLOWED", "/api/customers")
    assert f"{refused} not allowed" in body["message"]
    assert "access-control-allow-origin" not in response.headers


async def test_allowed_cors_preflight_is_unchanged(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/customers",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204 and response.content == b""
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "path", ["/schema/nothing", "/schema/nothing.json", "/schema/swagger/deeper", "/schema/openapi.json/x"]
)
async def test_unknown_schema_path_is_the_envelope_404(client: httpx.AsyncClient, path: str) -> None:
    assert_envelope(await client.get(path), 404, "NOT_FOUND", path)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc"])
async def test_docs_pages_still_work(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<title>Flow CRM service</title>" in response.text


@pytest.mark.parametrize("path", ["/schema/openapi.json", "/schema/openapi.yaml"])
async def test_openapi_document_still_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and "/api/customers" in response.text


async def test_405_is_the_envelope_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.request("TRACE", "/api/customers/some-id")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED", "/api/customers/some-id")
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE", "OPTIONS"}


async def test_options_allow_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # GET, PUT and DELETE are three handlers of one path; Litestar's own answer named only the first's methods.
    response = await client.options("/api/users/some-id")
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE", "OPTIONS"}
