"""Security headers on every response: successes, every kind of error, unknown routes, CORS preflights; the CSP
everywhere but the /schema docs; HSTS only in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from service.app import create_app
from service.config import Settings
from tests.conftest import make_settings
from tests.routes_for_tests import TEST_ROUTES
from tests.support import live_server

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}
CSP = "default-src 'none'; frame-ancestors 'none'"
PREFLIGHT = {
    "Origin": "http://localhost:5173",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}

REQUESTS = [
    pytest.param("GET", "/health", {}, None, 200, id="liveness"),
    pytest.param("GET", "/health/ready", {}, None, 200, id="readiness"),
    pytest.param("GET", "/api/test", {}, None, 200, id="api-test"),
    pytest.param("GET", "/api/customers", {}, None, 401, id="401"),
    pytest.param("GET", "/api/no-such-route", {}, None, 404, id="unknown-route-404"),
    pytest.param("GET", "/no-such-page", {}, None, 404, id="unknown-page-404"),
    pytest.param("DELETE", "/health", {}, None, 405, id="405"),
    pytest.param("POST", "/api/auth/login", {"Content-Type": "application/json"}, b"{", 400, id="400"),
    pytest.param("POST", "/api/auth/login", {"Content-Type": "text/plain"}, b"{}", 415, id="415"),
    pytest.param("POST", "/api/auth/login", {}, None, 422, id="422"),
    pytest.param("POST", "/test/echo", {"Content-Type": "application/json"}, b"[" * (1024 * 1024 + 1), 413, id="413"),
    pytest.param("GET", "/test/boom", {}, None, 500, id="500"),
    pytest.param("OPTIONS", "/api/auth/login", PREFLIGHT, None, 204, id="cors-preflight"),
]


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the test-only routes (a 500 and an echo body), on a server of its own."""
    app = create_app(make_settings(database_url))
    for route in TEST_ROUTES:
        app.register(route)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            yield http


def assert_security_headers(response: httpx.Response, *, csp: bool = True, hsts: bool = False) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code)
    assert response.headers.get_list("content-security-policy") == ([CSP] if csp else [])
    assert ("strict-transport-security" in response.headers) is hsts


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), REQUESTS)
async def test_every_response_carries_the_headers(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: bytes | None, status: int
) -> None:
    response = await api.request(method, path, headers=headers, content=body)
    assert response.status_code == status, response.text
    assert_security_headers(response)


async def test_success_and_not_found_through_the_api(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    listed = await client.get("/api/customers", headers=admin_headers)
    assert listed.status_code == 200
    assert_security_headers(listed)
    missing = await client.get("/api/customers/00000000-0000-4000-8000-000000000000", headers=admin_headers)
    assert missing.status_code == 404
    assert_security_headers(missing)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger", "/schema/redoc", "/schema/openapi.json"])
async def test_docs_pages_have_no_csp_so_their_assets_load(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert_security_headers(response, csp=False)


async def test_hsts_only_in_production(database_url: str, settings: Settings, client: httpx.AsyncClient) -> None:
    assert settings.environment == "test"
    assert "strict-transport-security" not in (await client.get("/health")).headers
    production = make_settings(database_url, ENVIRONMENT="production", JWT_SECRET="p" * 40)
    with live_server(create_app(production)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for path in ("/health", "/api/nothing", "/schema/openapi.json"):
                response = await http.get(path)
                assert_security_headers(response, csp=not path.startswith("/schema"), hsts=True)
                assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
