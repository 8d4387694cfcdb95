"""Audit log (contract 6.5): rows written in the transaction of each change, and the admin read routes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service import errors
from service.audit import service as audit_service
from service.config import Settings
from service.presales import service as presale_service
from tests.factories import PASSWORD, bearer, create_customer, create_presale, create_product, create_user

UA = "audit-test-agent/1.0"
AUDIT_KEYS = {
    "id",
    "userId",
    "userName",
    "action",
    "resource",
    "resourceId",
    "details",
    "ipAddress",
    "userAgent",
    "createdAt",
}
NEW_CUSTOMER = {
    "name": "Maria da Silva",
    "email": "maria@example.com",
    "phone": "(11) 98765-4321",
    "cpf": "52998224725",
}
NEW_PRODUCT = {
    "name": "Caderno",
    "unit": "pc",
    "purchasePrice": "3.00",
    "salePrice": "5.00",
    "saleType": "unit",
    "stock": 10,
}


@pytest.fixture
def headers(admin_headers: dict[str, str]) -> dict[str, str]:
    return {**admin_headers, "User-Agent": UA}


async def audit_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM audit_logs ORDER BY created_at, id")


async def only_row(db: asyncpg.Connection, admin: asyncpg.Record | None = None, **expected: Any) -> asyncpg.Record:
    """The one audit row in the table, checked against `expected` and the acting admin's who/where."""
    rows = await audit_rows(db)
    assert len(rows) == 1, [dict(r) for r in rows]
    row = rows[0]
    for key, value in expected.items():
        assert row[key] == value, (key, row[key], value)
    if admin is not None:
        assert (row["user_id"], row["user_name"]) == (admin["id"], admin["name"])
    assert (row["ip_address"], row["user_agent"]) == ("127.0.0.1", UA)
    return row


def details(row: asyncpg.Record) -> dict[str, Any]:
    return json.loads(row["details"])


# --- writes are recorded ----------------------------------------------------------------------------------------


async def test_customer_create_update_delete_each_write_one_row(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    response = await client.post("/api/customers", json=NEW_CUSTOMER, headers=headers)
    assert response.status_code == 201, response.text
    customer_id = uuid.UUID(response.json()["data"]["id"])
    await only_row(db, admin, action="create", resource="customers", resource_id=customer_id)

    await db.execute("DELETE FROM audit_logs")
    response = await client.put(
        f"/api/customers/{customer_id}", json={"name": "Maria S.", "phone": "(11) 1234-5678"}, headers=headers
    )
    assert response.status_code == 200, response.text
    row = await only_row(db, admin, action="update", resource="customers", resource_id=customer_id)
    assert details(row) == {"fields": ["name", "phone"]}

    await db.execute("DELETE FROM audit_logs")
    assert (await client.delete(f"/api/customers/{customer_id}", headers=headers)).status_code == 204
    await only_row(db, admin, action="delete", resource="customers", resource_id=customer_id)


async def test_product_create_update_delete_each_write_one_row(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    response = await client.post("/api/products", json=NEW_PRODUCT, headers=headers)
    assert response.status_code == 201, response.text
    product_id = uuid.UUID(response.json()["data"]["id"])
    await only_row(db, admin, action="create", resource="products", resource_id=product_id)

    await db.execute("DELETE FROM audit_logs")
    response = await client.put(f"/api/products/{product_id}", json={"salePrice": "6.00"}, headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="products", resource_id=product_id)) == {
        "fields": ["salePrice"]
    }

    await db.execute("DELETE FROM audit_logs")
    assert (await client.delete(f"/api/products/{product_id}", headers=headers)).status_code == 204
    await only_row(db, admin, action="delete", resource="products", resource_id=product_id)


async def test_presale_create_update_status_conversion_delete(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    payload = {
        "customerId": str(customer["id"]),
        "items": [{"productId": str(product["id"]), "quantity": "2", "unitPrice": "15.00"}],
    }
    response = await client.post("/api/presales", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    presale_id = uuid.UUID(response.json()["data"]["id"])
    await only_row(db, admin, action="create", resource="presales", resource_id=presale_id)

    await db.execute("DELETE FROM audit_logs")
    response = await client.put(f"/api/presales/{presale_id}", json={"notes": "call first"}, headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="presales", resource_id=presale_id)) == {
        "fields": ["notes"]
    }

    await db.execute("DELETE FROM audit_logs")
    response = await client.patch(f"/api/presales/{presale_id}/status", json={"status": "approved"}, headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="presales", resource_id=presale_id)) == {
        "status": "approved"
    }

    await db.execute("DELETE FROM audit_logs")
    response = await client.post(f"/api/presales/{presale_id}/convert", headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="presales", resource_id=presale_id)) == {
        "status": "converted"
    }

    other = await create_presale(
        db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))], created_by=admin["id"]
    )
    await db.execute("DELETE FROM audit_logs")
    assert (await client.delete(f"/api/presales/{other['id']}", headers=headers)).status_code == 204
    await only_row(db, admin, action="delete", resource="presales", resource_id=other["id"])


async def test_presale_conversion_through_put_is_one_update_row(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    presale = await create_presale(
        db, customer["id"], [(product["id"], Decimal("3"), Decimal("15.00"))], status="approved", created_by=admin["id"]
    )
    response = await client.put(f"/api/presales/{presale['id']}", json={"status": "converted"}, headers=headers)
    assert response.status_code == 200, response.text
    row = await only_row(db, admin, action="update", resource="presales", resource_id=presale["id"])
    assert details(row) == {"fields": ["status"], "status": "converted"}


async def test_payment_method_create_update_status_delete(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    await db.execute("DELETE FROM audit_logs")
    response = await client.post("/api/payment-methods", json={"description": "Vale"}, headers=headers)
    assert response.status_code == 201, response.text
    method_id = uuid.UUID(response.json()["data"]["id"])
    await only_row(db, admin, action="create", resource="payment_methods", resource_id=method_id)

    await db.execute("DELETE FROM audit_logs")
    response = await client.put(f"/api/payment-methods/{method_id}", json={"description": "Vale 2"}, headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="payment_methods", resource_id=method_id)) == {
        "fields": ["description"]
    }

    await db.execute("DELETE FROM audit_logs")
    response = await client.patch(f"/api/payment-methods/{method_id}/status", json={"isActive": False}, headers=headers)
    assert response.status_code == 200, response.text
    assert details(await only_row(db, admin, action="update", resource="payment_methods", resource_id=method_id)) == {
        "fields": ["isActive"],
        "isActive": False,
    }

    await db.execute("DELETE FROM audit_logs")
    assert (await client.delete(f"/api/payment-methods/{method_id}", headers=headers)).status_code == 200
    await only_row(db, admin, action="delete", resource="payment_methods", resource_id=method_id)


async def test_user_register_update_delete_never_record_passwords(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    new = {"name": "Nova", "email": "nova@example.com", "password": "longenough-1", "role": "employee"}
    response = await client.post("/api/auth/register", json=new, headers=headers)
    assert response.status_code == 201, response.text
    user_id = uuid.UUID(response.json()["data"]["id"])
    await only_row(db, admin, action="create", resource="users", resource_id=user_id)

    await db.execute("DELETE FROM audit_logs")
    response = await client.put(
        f"/api/users/{user_id}", json={"name": "Nova P.", "password": "another-pass-2"}, headers=headers
    )
    assert response.status_code == 200, response.text
    row = await only_row(db, admin, action="update", resource="users", resource_id=user_id)
    assert details(row) == {"fields": ["name", "password"]}
    assert "another-pass-2" not in row["details"] and "$argon2" not in row["details"]

    await db.execute("DELETE FROM audit_logs")
    response = await client.delete(f"/api/users/{user_id}", headers=headers)
    assert response.status_code == 200, response.text
    await only_row(db, admin, action="delete", resource="users", resource_id=user_id)


async def test_stock_adjustment_is_a_create_row(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=5)
    response = await client.post(
        f"/api/products/{product['id']}/stock-adjustment",
        json={"adjustmentType": "add", "quantity": 3, "reason": "delivery"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    adjustment_id = uuid.UUID(response.json()["data"]["adjustment"]["id"])
    row = await only_row(db, admin, action="create", resource="stock_adjustments", resource_id=adjustment_id)
    assert details(row) == {
        "productId": str(product["id"]),
        "adjustmentType": "add",
        "quantity": 3,
        "previousStock": 5,
        "newStock": 8,
    }


async def test_login_and_logout_are_recorded(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await create_user(db, "employee", email="clerk@example.com", name="Clerk")
    response = await client.post(
        "/api/auth/login", json={"email": "clerk@example.com", "password": PASSWORD}, headers={"User-Agent": UA}
    )
    assert response.status_code == 200, response.text
    token = response.json()["data"]["token"]
    await only_row(db, user, action="login", resource="auth", resource_id=user["id"])

    await db.execute("DELETE FROM audit_logs")
    response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}", "User-Agent": UA})
    assert response.status_code == 200
    await only_row(db, user, action="logout", resource="auth", resource_id=user["id"])

    await db.execute("DELETE FROM audit_logs")  # the token is revoked now: logging out again revokes nothing
    response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}", "User-Agent": UA})
    assert response.status_code == 200
    assert await audit_rows(db) == []


# --- failed changes leave no row --------------------------------------------------------------------------------


async def test_failed_changes_write_no_row(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    existing = await create_customer(db)
    response = await client.post("/api/customers", json={**NEW_CUSTOMER, "cpf": existing["cpf"]}, headers=headers)
    assert response.status_code == 409

    product = await create_product(db, stock=1)
    payload = {
        "customerId": str(existing["id"]),
        "items": [{"productId": str(product["id"]), "quantity": "5", "unitPrice": "15.00"}],
    }
    response = await client.post("/api/presales", json=payload, headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "INSUFFICIENT_STOCK"

    response = await client.post("/api/auth/login", json={"email": admin["email"], "password": "wrong-password"})
    assert response.status_code == 401
    response = await client.post("/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert response.status_code == 401

    assert (await client.delete(f"/api/customers/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.put(f"/api/products/{uuid.uuid4()}", json={"name": "x"}, headers=headers)).status_code == 404
    response = await client.post(
        f"/api/products/{product['id']}/stock-adjustment",
        json={"adjustmentType": "remove", "quantity": 3, "reason": "loss"},
        headers=headers,
    )
    assert response.status_code == 400
    assert await audit_rows(db) == []


async def test_a_one_row_change_does_not_land_without_its_audit_row(
    client: httpx.AsyncClient, headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """change_audited writes the change and its audit row in one statement: when the audit row cannot be written
    (here a user name longer than the column), the change is not written either."""
    original = audit_service.audit_values

    def too_long_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**original(*args, **kwargs), "user_name": "x" * 300}  # varchar(255)

    monkeypatch.setattr(audit_service, "audit_values", too_long_name)
    response = await client.post("/api/customers", json=NEW_CUSTOMER, headers=headers)
    assert response.status_code == 422, response.text
    assert await db.fetchval("SELECT count(*) FROM customers") == 0
    assert await audit_rows(db) == []

    monkeypatch.setattr(audit_service, "audit_values", original)
    response = await client.post("/api/customers", json=NEW_CUSTOMER, headers=headers)
    assert response.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM customers") == 1


async def test_a_failure_after_the_audit_row_rolls_both_back(
    client: httpx.AsyncClient, headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record() runs inside the change's transaction: a failure after it takes the change and the row back."""
    original = audit_service.record
    recorded = []

    async def record_then_fail(*args: Any, **kwargs: Any) -> None:
        await original(*args, **kwargs)
        recorded.append(args[2:4])
        raise errors.Conflict("failed after the audit row")

    for module in (
        "service.presales.service",
        "service.stock.service",
        "service.sessions.service",
    ):
        monkeypatch.setattr(f"{module}.record", record_then_fail)

    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    presale = await create_presale(
        db, customer["id"], [(product["id"], Decimal("2"), Decimal("15.00"))], status="approved"
    )
    response = await client.post(f"/api/presales/{presale['id']}/convert", headers=headers)
    assert response.status_code == 409
    assert await db.fetchval("SELECT status FROM presales WHERE id = $1", presale["id"]) == "approved"
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 10
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments") == 0

    response = await client.post(
        f"/api/products/{product['id']}/stock-adjustment",
        json={"adjustmentType": "add", "quantity": 1, "reason": "x"},
        headers=headers,
    )
    assert response.status_code == 409
    assert await db.fetchval("SELECT stock FROM products WHERE id = $1", product["id"]) == 10

    user = await create_user(db, "employee", email="rollback@example.com")
    response = await client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 409

    assert [tuple(r) for r in recorded] == [
        ("update", "presales"),
        ("create", "stock_adjustments"),
        ("login", "auth"),
    ]
    assert await audit_rows(db) == []


async def test_a_failure_in_a_later_step_of_the_service_leaves_no_row(
    client: httpx.AsyncClient, headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service step raising after the audit row was written (an unexpected error: 500) leaves neither the change
    nor its row: a pre-sale's update records its audit row, then assembles the answer inside its transaction."""
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))])
    assembled = []

    def broken_assembly(rows: Any) -> dict[str, Any]:
        assembled.append(rows)  # read back after the change and its audit row were written
        raise RuntimeError("boom")

    monkeypatch.setattr(presale_service, "whole_presale", broken_assembly)
    response = await client.put(f"/api/presales/{presale['id']}", json={"notes": "changed"}, headers=headers)
    assert response.status_code == 500 and len(assembled) == 1
    assert await db.fetchval("SELECT notes FROM presales WHERE id = $1", presale["id"]) is None
    assert await audit_rows(db) == []


async def test_record_refuses_to_run_outside_a_transaction(db: asyncpg.Connection, admin: asyncpg.Record) -> None:
    from service.auth.current_user import CurrentUser

    actor = CurrentUser(
        id=admin["id"],
        email=admin["email"],
        name=admin["name"],
        role="admin",
        stored_permissions=None,
        created_at=admin["created_at"],
        updated_at=admin["updated_at"],
    )
    with pytest.raises(RuntimeError):
        await audit_service.record(db, actor, "create", "customers")
    async with db.transaction():
        await audit_service.record(db, actor, "create", "customers", None, {"fields": ["name"]})
    row = (await audit_rows(db))[0]
    assert (row["user_name"], row["ip_address"], row["details"]) == ("Admin", None, '{"fields": ["name"]}')


# --- reading the log --------------------------------------------------------------------------------------------


async def seed_row(
    db: asyncpg.Connection,
    *,
    user: asyncpg.Record | None = None,
    action: str = "create",
    resource: str = "customers",
    resource_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> asyncpg.Record:
    return await db.fetchrow(
        "INSERT INTO audit_logs (user_id, user_name, action, resource, resource_id, details, ip_address, user_agent,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        user["id"] if user else None,
        user["name"] if user else "Someone",
        action,
        resource,
        resource_id,
        '{"fields": ["name"]}',
        "10.0.0.1",
        "seed/1.0",
        created_at or datetime(2026, 1, 15, 12, 0),
    )


async def test_list_is_paginated_newest_first_with_the_contract_shape(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    base = datetime(2026, 1, 10, 9, 0)
    for n in range(5):
        await seed_row(db, user=admin, created_at=base + timedelta(hours=n))
    response = await client.get("/api/audit-logs", params={"limit": 2, "page": 2}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["pagination"] == {
        "total": 5,
        "page": 2,
        "limit": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": True,
        "totalExact": True,
    }
    assert [row["createdAt"] for row in body["data"]] == ["2026-01-10T11:00:00.000Z", "2026-01-10T10:00:00.000Z"]
    first = body["data"][0]
    assert set(first) == AUDIT_KEYS
    assert (
        first["userId"],
        first["userName"],
        first["action"],
        first["resource"],
        first["ipAddress"],
        first["userAgent"],
        first["details"],
    ) == (str(admin["id"]), "Admin", "create", "customers", "10.0.0.1", "seed/1.0", '{"fields": ["name"]}')
    assert "password" not in response.text

    default = (await client.get("/api/audit-logs", headers=headers)).json()
    assert default["pagination"]["limit"] == 50 and default["pagination"]["total"] == 5


async def test_list_filters(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, settings: Settings, db: asyncpg.Connection
) -> None:
    other = await create_user(db, "employee", name="Other")
    target = uuid.uuid4()
    a = await seed_row(
        db,
        user=admin,
        action="create",
        resource="customers",
        resource_id=target,
        created_at=datetime(2026, 1, 10, 8, 0),
    )
    b = await seed_row(db, user=other, action="update", resource="products", created_at=datetime(2026, 1, 11, 23, 59))
    c = await seed_row(db, user=other, action="login", resource="auth", created_at=datetime(2026, 1, 12, 0, 0))

    async def ids(**params: Any) -> list[uuid.UUID]:
        response = await client.get("/api/audit-logs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [uuid.UUID(row["id"]) for row in response.json()["data"]]

    assert await ids(userId=str(other["id"])) == [c["id"], b["id"]]
    assert await ids(action="update") == [b["id"]]
    assert await ids(resource="customers") == [a["id"]]
    assert await ids(resourceId=str(target)) == [a["id"]]
    assert await ids(startDate="2026-01-11") == [c["id"], b["id"]]
    assert await ids(endDate="2026-01-11") == [b["id"], a["id"]]  # a date-only end includes the whole day
    assert await ids(startDate="2026-01-11", endDate="2026-01-11") == [b["id"]]
    assert await ids(startDate="2026-01-10T08:00:00Z", endDate="2026-01-11T12:00:00Z") == [a["id"]]
    assert await ids(action="", resource="") == [c["id"], b["id"], a["id"]]  # empty counts as absent

    for params in (
        {"startDate": "2026-01-12", "endDate": "2026-01-11"},
        {"action": "explode"},
        {"userId": "x"},
        {"limit": 101},
        {"limit": 0},
        {"resourceId": "nope"},
        {"startDate": "yesterday"},
        {"resource": "r" * 101},
    ):
        response = await client.get("/api/audit-logs", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_recent_returns_the_latest_rows(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    base = datetime(2026, 2, 1)
    rows = [await seed_row(db, user=admin, created_at=base + timedelta(minutes=n)) for n in range(25)]
    response = await client.get("/api/audit-logs/recent", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and "pagination" not in body
    assert [row["id"] for row in body["data"]] == [str(r["id"]) for r in reversed(rows)][:20]
    assert set(body["data"][0]) == AUDIT_KEYS

    three = (await client.get("/api/audit-logs/recent", params={"limit": 3}, headers=headers)).json()["data"]
    assert [row["id"] for row in three] == [str(r["id"]) for r in reversed(rows)][:3]
    for limit in (0, 101, "many"):
        response = await client.get("/api/audit-logs/recent", params={"limit": limit}, headers=headers)
        assert response.status_code == 422


async def test_only_admins_read_the_log(client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection) -> None:
    for path in ("/api/audit-logs", "/api/audit-logs/recent"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers={"Authorization": "Bearer nonsense"})).status_code == 401
        for role in ("employee", "manager"):
            user = await create_user(db, role)
            response = await client.get(path, headers=bearer(settings, user))
            assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"


async def test_actions_through_the_api_show_up_in_the_log(
    client: httpx.AsyncClient, headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    response = await client.post("/api/customers", json=NEW_CUSTOMER, headers=headers)
    customer_id = response.json()["data"]["id"]
    await client.put(f"/api/customers/{customer_id}", json={"name": "Maria S."}, headers=headers)
    response = await client.get("/api/audit-logs", params={"resourceId": customer_id}, headers=headers)
    data = response.json()["data"]
    assert [(row["action"], row["resource"], row["userAgent"], row["ipAddress"]) for row in data] == [
        ("update", "customers", UA, "127.0.0.1"),
        ("create", "customers", UA, "127.0.0.1"),
    ]
    recent = (await client.get("/api/audit-logs/recent", params={"limit": 1}, headers=headers)).json()["data"]
    assert recent[0]["action"] == "update"
