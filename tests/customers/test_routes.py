"""Customers over HTTP against the real database (contract 5.3, 7.1, 10.8, 10.10, 10.11)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user, valid_cpf

NEW = {
    "name": "  Maria   da Silva ",
    "email": " Maria@Example.COM ",
    "phone": "(11) 98765-4321",
    "cpf": "529.982.247-25",
    "address": "Rua A, 10",
}


async def test_create_normalises_and_returns_201(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post("/api/customers", json=NEW, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["message"] == "Customer created"
    customer = body["data"]
    assert set(customer) == {"id", "name", "email", "phone", "cpf", "address", "createdAt", "updatedAt"}
    assert customer["name"] == "Maria da Silva"
    assert customer["email"] == "maria@example.com"
    assert customer["cpf"] == "52998224725"
    assert customer["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpf", "52998224724"),
        ("cpf", "11111111111"),
        ("cpf", "5299822472"),
        ("email", "not-an-email"),
        ("phone", "123"),
        ("name", "   "),
        ("name", "x" * 256),
        ("address", "x" * 1001),
        ("name", "a\x00b"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, field: str, value: str
) -> None:
    response = await client.post("/api/customers", json={**NEW, field: value}, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]
    assert await db.fetchval("SELECT count(*) FROM customers") == 0


async def test_invalid_cpf_message(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post("/api/customers", json={**NEW, "cpf": "52998224724"}, headers=admin_headers)
    assert response.json()["error"]["message"] == "Invalid CPF format or check digits"


async def test_unknown_key_is_422(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post("/api/customers", json={**NEW, "vip": True}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "vip"


async def test_duplicate_cpf_and_email_are_409(client: httpx.AsyncClient, admin_headers: dict) -> None:
    assert (await client.post("/api/customers", json=NEW, headers=admin_headers)).status_code == 201
    again = await client.post("/api/customers", json={**NEW, "email": "other@example.com"}, headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "A customer with this CPF already exists"
    same_email = await client.post(
        "/api/customers", json={**NEW, "cpf": valid_cpf(), "email": "MARIA@example.com"}, headers=admin_headers
    )
    assert same_email.status_code == 409
    assert same_email.json()["error"]["message"] == "A customer with this email already exists"


async def test_concurrent_creates_of_one_cpf_end_in_one_201_and_one_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    bodies = [{**NEW, "email": f"racer{i}@example.com"} for i in range(2)]
    responses = await asyncio.gather(*(client.post("/api/customers", json=b, headers=admin_headers) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await db.fetchval("SELECT count(*) FROM customers") == 1


async def test_get_404_and_bad_uuid_422(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    ok = await client.get(f"/api/customers/{customer['id']}", headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["data"]["id"] == str(customer["id"])
    missing = await client.get(f"/api/customers/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Customer not found"
    assert (await client.get("/api/customers/not-a-uuid", headers=admin_headers)).status_code == 422


async def test_list_defaults_pagination_and_sorting(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    for name in ["Carla", "Ana", "Bruno"]:
        await create_customer(db, name=name)
    response = await client.get("/api/customers", headers=admin_headers)
    body = response.json()
    assert list(body) == ["success", "data", "pagination", "message", "timestamp"]
    assert [c["name"] for c in body["data"]] == ["Ana", "Bruno", "Carla"]
    assert body["pagination"] == {
        "total": 3,
        "page": 1,
        "limit": 50,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    page2 = (await client.get("/api/customers?page=2&limit=2&sortBy=name&sortOrder=desc", headers=admin_headers)).json()
    assert [c["name"] for c in page2["data"]] == ["Ana"]
    assert page2["pagination"] == {
        "total": 3,
        "page": 2,
        "limit": 2,
        "totalPages": 2,
        "hasNext": False,
        "hasPrev": True,
        "totalExact": True,
    }
    full = (await client.get("/api/customers?page=1&limit=2", headers=admin_headers)).json()  # counted
    assert [c["name"] for c in full["data"]] == ["Ana", "Bruno"]
    assert full["pagination"] == {
        "total": 3,
        "page": 1,
        "limit": 2,
        "totalPages": 2,
        "hasNext": True,
        "hasPrev": False,
        "totalExact": True,
    }
    exact = (await client.get("/api/customers?page=1&limit=3", headers=admin_headers)).json()
    assert exact["pagination"]["total"] == 3 and exact["pagination"]["hasNext"] is False
    beyond = (await client.get("/api/customers?page=9&limit=2", headers=admin_headers)).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 3


async def test_search_matches_name_email_and_cpf_digits(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_customer(db, name="Joana Prado", email="jp@example.com", cpf="52998224725")
    await create_customer(db, name="Pedro", email="pedro@loja.com", cpf=valid_cpf())

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/customers?{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return sorted(c["name"] for c in response.json()["data"])

    assert await names("search=joana") == ["Joana Prado"]
    assert await names("search=LOJA") == ["Pedro"]
    assert await names("search=529.982") == ["Joana Prado"]
    assert await names("search=zzz") == []  # a non-digit term does not match every CPF
    assert await names("search=") == ["Joana Prado", "Pedro"]  # empty counts as absent
    assert await names("name=pra&email=jp") == ["Joana Prado"]
    assert await names("search=jo%25na") == []  # % is a literal, not a wildcard


@pytest.mark.parametrize("query", ["page=abc", "page=0", "limit=101", "sortBy=password", "sortOrder=up"])
async def test_bad_list_parameters_are_422(client: httpx.AsyncClient, admin_headers: dict, query: str) -> None:
    response = await client.get(f"/api/customers?{query}", headers=admin_headers)
    assert response.status_code == 422, response.text


async def test_update_changes_fields_and_needs_at_least_one(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    response = await client.put(
        f"/api/customers/{customer['id']}", json={"name": "New Name", "address": ""}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "New Name" and response.json()["data"]["address"] is None
    assert (await client.put(f"/api/customers/{customer['id']}", json={}, headers=admin_headers)).status_code == 422
    missing = await client.put(f"/api/customers/{uuid.uuid4()}", json={"name": "X"}, headers=admin_headers)
    assert missing.status_code == 404


async def test_update_to_a_taken_cpf_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_customer(db, cpf="52998224725")
    other = await create_customer(db)
    response = await client.put(f"/api/customers/{other['id']}", json={"cpf": "52998224725"}, headers=admin_headers)
    assert response.status_code == 409


async def test_delete_204_404_and_409_when_referenced(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    free = await create_customer(db)
    response = await client.delete(f"/api/customers/{free['id']}", headers=admin_headers)
    assert response.status_code == 204 and response.content == b""
    assert (await client.delete(f"/api/customers/{free['id']}", headers=admin_headers)).status_code == 404

    used = await create_customer(db)
    product = await create_product(db)
    from decimal import Decimal

    await create_presale(db, used["id"], [(product["id"], Decimal("1"), Decimal("15.00"))])
    refused = await client.delete(f"/api/customers/{used['id']}", headers=admin_headers)
    assert refused.status_code == 409
    assert "foreign key constraint" in refused.json()["message"]


async def test_authentication_and_permissions(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    assert (await client.get("/api/customers")).status_code == 401
    assert (await client.get("/api/customers", headers={"Authorization": "Bearer nope"})).status_code == 401
    employee = await create_user(db, "employee")
    assert (await client.get("/api/customers", headers=bearer(settings, employee))).status_code == 200
    no_customers = await create_user(
        db, "employee", permissions={"modules": {"customers": False}, "presales": {"canCreate": False}}
    )
    headers = bearer(settings, no_customers)
    assert (await client.get("/api/customers", headers=headers)).status_code == 403
    assert (await client.post("/api/customers", json=NEW, headers=headers)).status_code == 403
    seller = await create_user(
        db, "employee", permissions={"modules": {"customers": False}, "presales": {"canCreate": True}}
    )
    seller_headers = bearer(settings, seller)
    assert (await client.get("/api/customers", headers=seller_headers)).status_code == 200  # pre-sale form
    assert (await client.post("/api/customers", json=NEW, headers=seller_headers)).status_code == 403
