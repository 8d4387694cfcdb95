"""Every business route verifies its token: without one, each answers 401 in the error envelope."""

from __future__ import annotations

import re
import uuid

import httpx

from service.app import create_app
from service.config import Settings

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/api/test"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
}


def api_routes(settings: Settings) -> list[tuple[str, str]]:
    app = create_app(settings)
    found = []
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        for method in getattr(route, "methods", ()):
            if method in {"HEAD", "OPTIONS"} or (method, route.path) in PUBLIC:
                continue
            found.append((method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)))
    return sorted(found)


async def test_every_protected_route_needs_a_token(client: httpx.AsyncClient, settings: Settings) -> None:
    routes = api_routes(settings)
    assert ("GET", "/api/customers") in routes
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic abc"}):
            response = await client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            body = response.json()
            assert body["success"] is False and body["error"]["code"] in {"UNAUTHORIZED", "INVALID_TOKEN"}


async def test_openapi_schema_lists_every_route(client: httpx.AsyncClient, settings: Settings) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) for path, item in schema["paths"].items() for method in item
    }
    for method, path in api_routes(settings):
        template = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{}", path)
        assert (method, template) in documented, (method, path)


async def test_openapi_documents_errors_query_parameters_and_examples(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    customers = schema["paths"]["/api/customers"]
    assert {"page", "limit", "sortBy", "sortOrder", "search"} <= {p["name"] for p in customers["get"]["parameters"]}
    assert {"200", "401", "403", "422", "503"} <= set(customers["get"]["responses"])
    delete = schema["paths"]["/api/customers/{customer_id}"]["delete"]["responses"]
    assert {"204", "401", "403", "404", "409", "503"} <= set(delete)
    error = delete["409"]["content"]["application/json"]
    assert error["example"]["success"] is False and error["schema"]["required"][0] == "success"
    assert "401" in schema["paths"]["/api/auth/login"]["post"]["responses"]
    assert schema["components"]["schemas"]["CustomerCreate"]["examples"][0]["cpf"] == "52998224725"
