"""The Flow CRM web app's own call sequence, as its pages send it (contract 2, 5 and 10.15)."""

from __future__ import annotations

import base64
import json

import asyncpg
import httpx

from tests.factories import PASSWORD


def atob_payload(token: str) -> dict:
    """What the web app does on reload: plain base64 (atob) of the token's middle segment."""
    segment = token.split(".")[1]
    assert "-" not in segment and "_" not in segment
    return json.loads(base64.b64decode(segment + "=" * (-len(segment) % 4)))


async def test_web_app_session_from_login_to_conversion(client: httpx.AsyncClient, admin: asyncpg.Record) -> None:
    login = await client.post(
        "/api/auth/login",
        json={"email": "ADMIN@example.com", "password": PASSWORD},
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code == 200, login.text
    token = login.json()["data"]["token"]
    user = login.json()["data"]["user"]
    assert set(user) == {"id", "email", "name", "role", "permissions", "createdAt", "updatedAt"}
    assert user["permissions"]["modules"]["userManagement"] is True
    payload = atob_payload(token)
    assert isinstance(payload["exp"], int) and payload["role"] == "admin"
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    me = await client.get("/api/auth/me", headers=auth)
    assert me.json()["data"]["id"] == user["id"]

    # Dashboard and list pages, with their query strings.
    for path in (
        "/api/products?limit=100",
        "/api/customers?limit=100",
        "/api/presales?limit=100",
        "/api/presales?limit=10",
        "/api/customers?page=1&limit=20",
        "/api/products",
        "/api/presales",
        "/api/users",
    ):
        response = await client.get(path, headers=auth)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["success"] is True and isinstance(response.json()["data"], list)

    customer = await client.post(
        "/api/customers",
        headers=auth,
        json={
            "name": "Loja da Esquina",
            "email": "contato@esquina.com.br",
            "phone": "(11) 98765-4321",
            "cpf": "52998224725",
            "address": "",
        },
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["data"]["id"]
    edited = await client.put(
        f"/api/customers/{customer_id}",
        headers=auth,
        json={
            "name": "Loja da Esquina Ltda",
            "email": "contato@esquina.com.br",
            "phone": "(11) 98765-4321",
            "cpf": "52998224725",
            "address": "Rua A, 1",
        },
    )
    assert edited.status_code == 200, edited.text

    product = await client.post(
        "/api/products",
        headers=auth,
        json={
            "code": "PROD0000001",
            "name": "Café 500 g",
            "unit": "un",
            "description": "",
            "stock": 10,
            "purchasePrice": "12.50",
            "salePrice": "18.90",
            "saleType": "unit",
        },
    )
    assert product.status_code == 201, product.text
    product_id = product.json()["data"]["id"]
    no_code = await client.post(
        "/api/products",
        headers=auth,
        json={
            "name": "Açúcar",
            "unit": "kg",
            "stock": 5,
            "purchasePrice": "3.00",
            "salePrice": "4.50",
            "saleType": "fractional",
        },
    )
    assert no_code.status_code == 201 and no_code.json()["data"]["code"] == "PROD0000002"

    # The pre-sale form loads the first 100 customers and products, then creates a pre-sale.
    assert (await client.get("/api/customers?page=1&limit=100", headers=auth)).status_code == 200
    assert (await client.get("/api/products?page=1&limit=100", headers=auth)).status_code == 200
    created = await client.post(
        "/api/presales",
        headers=auth,
        json={
            "customerId": customer_id,
            "status": "pending",
            "discount": "0",
            "discountType": "percentage",
            "discountPercentage": "0",
            "notes": "",
            "items": [{"productId": product_id, "quantity": "3", "unitPrice": "18.90"}],
        },
    )
    assert created.status_code == 201, created.text
    presale = created.json()["data"]
    assert presale["total"] == "56.70" and presale["customer"]["name"] == "Loja da Esquina Ltda"
    assert presale["items"][0]["product"]["code"] == "PROD0000001"

    edit = await client.put(
        f"/api/presales/{presale['id']}",
        headers=auth,
        json={
            "customerId": customer_id,
            "status": "pending",
            "discount": "10",
            "discountType": "percentage",
            "discountPercentage": "10",
            "notes": "Entregar de manhã",
            "items": [{"productId": product_id, "quantity": "4", "unitPrice": "18.90"}],
        },
    )
    assert edit.status_code == 200, edit.text
    assert edit.json()["data"]["total"] == "68.04"  # 75.60 less 10 %

    listed = (await client.get("/api/presales", headers=auth)).json()
    assert [p["id"] for p in listed["data"]] == [presale["id"]]
    assert listed["data"][0]["customer"]["id"] == customer_id and listed["data"][0]["items"][0]["product"]

    for status in ("approved", "converted"):
        changed = await client.patch(f"/api/presales/{presale['id']}/status", headers=auth, json={"status": status})
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["status"] == status and changed.json()["data"]["items"]
    stock = (await client.get(f"/api/products/{product_id}", headers=auth)).json()["data"]["stock"]
    assert stock == 6  # the products and inventory screens show the lower stock

    refused = await client.delete(f"/api/customers/{customer_id}", headers=auth)
    assert refused.status_code == 409 and "foreign key constraint" in refused.json()["message"]
    assert (await client.delete(f"/api/presales/{presale['id']}", headers=auth)).status_code == 409

    logout = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 200 and logout.json()["success"] is True and "data" not in logout.json()
    assert (await client.get("/api/auth/me", headers=auth)).status_code == 401


async def test_cors_preflight_allows_the_web_app_origin_with_authorization(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/customers",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    other = await client.options(
        "/api/customers", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
