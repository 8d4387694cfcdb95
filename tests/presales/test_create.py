"""POST /api/presales over HTTP against the real database (contract 5.5, 7.4, 7.5; decisions 10.5-10.7)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from service.presales.service import PresaleService
from tests.factories import bearer, create_customer, create_product, create_user
from tests.presales.helpers import (
    Write,
    around_the_checked_write,
    assert_full_shape,
    body,
    counts,
    create,
    error,
    item,
    stock,
)


async def test_worked_example_over_http(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db, name="Ana Souza", address="Rua B, 2")
    a = await create_product(db, name="Cadeira", stock=10)
    b = await create_product(db, name="Mesa", stock=5)
    payload = body(
        customer,
        item(a, "2", "50.00"),
        item(b, "1", "30.00"),
        discountType="percentage",
        discountPercentage="10",
        notes="  entrega sexta  ",
    )
    response = await client.post("/api/presales", json=payload, headers=admin_headers)
    assert response.status_code == 201, response.text
    envelope = response.json()
    assert envelope["success"] is True and envelope["message"] == "Pre-sale created"
    presale = envelope["data"]
    assert_full_shape(presale)
    assert presale["total"] == "117.00"
    assert presale["discount"] == "13.00"
    assert presale["discountPercentage"] == "10.00"
    assert presale["discountType"] == "percentage"
    assert presale["status"] == "pending"
    assert presale["notes"] == "entrega sexta"
    assert presale["createdBy"] == str(admin["id"])
    assert presale["customer"] == {
        "id": str(customer["id"]),
        "name": "Ana Souza",
        "email": customer["email"],
        "phone": customer["phone"],
        "cpf": customer["cpf"],
        "address": "Rua B, 2",
        "createdAt": presale["customer"]["createdAt"],
        "updatedAt": presale["customer"]["updatedAt"],
    }
    # items come back in request order
    first, second = presale["items"]
    assert {
        k: first[k]
        for k in ("productId", "quantity", "unitPrice", "totalPrice", "discount", "discountType", "discountPercentage")
    } == {
        "productId": str(a["id"]),
        "quantity": "2.000",
        "unitPrice": "50.00",
        "totalPrice": "100.00",
        "discount": "0.00",
        "discountType": "fixed",
        "discountPercentage": "0.00",
    }
    assert second["totalPrice"] == "30.00" and second["quantity"] == "1.000"
    assert first["product"] == {
        "id": str(a["id"]),
        "code": a["code"],
        "name": "Cadeira",
        "unit": "un",
        "description": None,
        "stock": 10,
        "purchasePrice": "10.00",
        "salePrice": "15.00",
        "saleType": "unit",
        "createdAt": first["product"]["createdAt"],
        "updatedAt": first["product"]["updatedAt"],
    }
    # stored exactly, and creating does not change stock
    row = await db.fetchrow("SELECT * FROM presales WHERE id = $1", uuid.UUID(presale["id"]))
    assert (row["total"], row["discount"], row["discount_percentage"]) == (
        Decimal("117.00"),
        Decimal("13.00"),
        Decimal("10.00"),
    )
    assert row["created_by"] == admin["id"]
    assert await stock(db, a["id"]) == 10 and await stock(db, b["id"]) == 5


async def test_defaults_and_fixed_discounts(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    a = await create_product(db)
    b = await create_product(db)
    presale = await create(
        client,
        admin_headers,
        body(
            customer,
            item(a, "3", "10.00", discount="7.50"),
            item(b, "3", "3.33", discountType="percentage", discountPercentage="15"),
            discount="5",
            notes="",
        ),
    )
    assert (presale["discountType"], presale["status"], presale["notes"]) == ("fixed", "pending", None)
    first, second = presale["items"]
    assert (first["totalPrice"], first["discount"], first["discountPercentage"]) == ("22.50", "7.50", "25.00")
    assert (second["totalPrice"], second["discount"], second["discountPercentage"], second["discountType"]) == (
        "8.49",
        "1.50",
        "15.02",
        "percentage",
    )
    # subtotal 30.99, fixed 5.00 -> 25.99; equivalent 16.13 %
    assert (presale["total"], presale["discount"], presale["discountPercentage"]) == ("25.99", "5.00", "16.13")


async def test_global_fixed_discount_above_subtotal_caps_total_at_zero(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    presale = await create(client, admin_headers, body(customer, item(product, "1", "20.00"), discount="50.00"))
    assert (presale["total"], presale["discount"], presale["discountPercentage"]) == ("0.00", "20.00", "100.00")


async def test_draft_status_is_accepted(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    presale = await create(client, admin_headers, body(customer, item(product), status="draft"))
    assert presale["status"] == "draft"


@pytest.mark.parametrize("status", ["approved", "converted", "cancelled", "open"])
async def test_other_creation_statuses_are_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, status: str
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    response = await client.post(
        "/api/presales", json=body(customer, item(product), status=status), headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in error(response)["details"]] == ["status"]
    assert await counts(db) == (0, 0)
    assert await stock(db, product["id"]) == 10  # nothing bypasses the conversion path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customerId": "nope"}, "customerId"),
        ({"items": []}, "items"),
        ({"discount": "1.234"}, "discount"),
        ({"discount": 1.5}, "discount"),
        ({"discount": "-1"}, "discount"),
        ({"discountType": "bogus"}, "discountType"),
        ({"discountPercentage": "100.01"}, "discountPercentage"),
        ({"notes": "x" * 1001}, "notes"),
        ({"paymentMethodId": "not-a-uuid"}, "paymentMethodId"),  # accepted since decision 10.4, as a uuid
        ({"vip": True}, "vip"),
        ({"item": {"quantity": "0"}}, "items.0.quantity"),
        ({"item": {"quantity": "1.2345"}}, "items.0.quantity"),
        ({"item": {"quantity": 2}}, None),  # an integer JSON number is accepted
        ({"item": {"unitPrice": "-5"}}, "items.0.unitPrice"),
        ({"item": {"unitPrice": "abc"}}, "items.0.unitPrice"),
        ({"item": {"discountPercentage": "101"}}, "items.0.discountPercentage"),
        ({"item": {"productId": "x"}}, "items.0.productId"),
        ({"item": {"color": "red"}}, "items.0.color"),
        ({"item": {"id": str(uuid.uuid4())}}, "items.0.id"),  # ids are only tolerated on PUT
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, change: dict, field: str | None
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    line = {**item(product), **change.pop("item", {})}
    response = await client.post("/api/presales", json={**body(customer, line), **change}, headers=admin_headers)
    if field is None:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error(response)["details"]] == [field]
    assert await counts(db) == (0, 0)


async def test_more_than_100_items_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=1000)
    response = await client.post("/api/presales", json=body(customer, *[item(product)] * 101), headers=admin_headers)
    assert response.status_code == 422
    ok = await client.post("/api/presales", json=body(customer, *[item(product)] * 100), headers=admin_headers)
    assert ok.status_code == 201 and len(ok.json()["data"]["items"]) == 100


@pytest.mark.parametrize("products", ["found", "none found"])
async def test_missing_customer_is_404_before_any_refusal_of_the_items(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, products: str
) -> None:
    """The customer is checked in the products' read: also when no product was found to carry the answer."""
    product = await create_product(db)
    line = item(product) if products == "found" else {"productId": str(uuid.uuid4()), "quantity": "1", "unitPrice": "1"}
    response = await client.post(
        "/api/presales", json={"customerId": str(uuid.uuid4()), "items": [line]}, headers=admin_headers
    )
    assert response.status_code == 404
    assert error(response) == {"code": "NOT_FOUND", "message": "Customer not found"}
    assert await counts(db) == (0, 0)


async def test_missing_product_is_404_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    ghost, other = uuid.uuid4(), uuid.uuid4()
    response = await client.post(
        "/api/presales",
        json=body(
            customer,
            item(product),
            {"productId": str(ghost), "quantity": "1", "unitPrice": "1.00"},
            {"productId": str(other), "quantity": "1", "unitPrice": "1.00"},
        ),
        headers=admin_headers,
    )
    assert response.status_code == 404
    assert error(response)["code"] == "NOT_FOUND"
    assert error(response)["message"] == f"Product not found: {ghost}; Product not found: {other}"
    assert await counts(db) == (0, 0)


async def test_insufficient_stock_on_second_line_is_409_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    plenty = await create_product(db, stock=100)
    scarce = await create_product(db, name="Parafuso", stock=5)
    response = await client.post(
        "/api/presales", json=body(customer, item(plenty, "2"), item(scarce, "6")), headers=admin_headers
    )
    assert response.status_code == 409, response.text
    assert error(response)["code"] == "INSUFFICIENT_STOCK"
    assert error(response)["message"] == 'Insufficient stock for "Parafuso". Available: 5, Requested: 6'
    assert response.json()["message"] == error(response)["message"]
    assert await counts(db) == (0, 0)


async def test_duplicate_lines_of_a_product_are_summed_for_the_stock_check(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, name="Cabo", stock=5)
    other = await create_product(db, name="Fita", stock=1)
    response = await client.post(
        "/api/presales",
        json=body(customer, item(product, "3"), item(other, "2"), item(product, "3")),
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert error(response)["message"] == (
        'Insufficient stock for "Cabo". Available: 5, Requested: 6; '
        'Insufficient stock for "Fita". Available: 1, Requested: 2'
    )
    exact = await client.post(
        "/api/presales", json=body(customer, item(product, "2"), item(product, "3")), headers=admin_headers
    )
    assert exact.status_code == 201
    assert await counts(db) == (1, 2)


async def test_fractional_quantity_needs_a_fractional_product(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    unit = await create_product(db, name="Caixa", sale_type="unit")
    bulk = await create_product(db, name="Arroz", sale_type="fractional", unit="kg", stock=3)
    refused = await client.post(
        "/api/presales", json=body(customer, item(bulk, "1.5"), item(unit, "1.5")), headers=admin_headers
    )
    assert refused.status_code == 422, refused.text
    assert [d["field"] for d in error(refused)["details"]] == ["items.1.quantity"]
    assert "Caixa" in error(refused)["message"]
    assert await counts(db) == (0, 0)
    whole = await client.post("/api/presales", json=body(customer, item(unit, "2.000")), headers=admin_headers)
    assert whole.status_code == 201
    accepted = await create(client, admin_headers, body(customer, item(bulk, "2.755", "4.00")))
    assert accepted["items"][0]["quantity"] == "2.755"
    assert accepted["items"][0]["totalPrice"] == "11.02"  # 11.020
    assert accepted["total"] == "11.02"
    too_much = await client.post("/api/presales", json=body(customer, item(bulk, "3.001")), headers=admin_headers)
    assert too_much.status_code == 409
    assert error(too_much)["message"] == 'Insufficient stock for "Arroz". Available: 3, Requested: 3.001'


async def test_item_discount_above_line_total_is_400(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, name="Lapis")
    response = await client.post(
        "/api/presales",
        json=body(customer, item(product, "2", "10.00"), item(product, "2", "10.00", discount="20.01")),
        headers=admin_headers,
    )
    assert response.status_code == 400
    assert error(response)["code"] == "BAD_REQUEST"
    assert "Item 2" in error(response)["message"] and "20.01" in error(response)["message"]
    assert await counts(db) == (0, 0)
    # equal to the line is fine: the line costs 0
    presale = await create(client, admin_headers, body(customer, item(product, "2", "10.00", discount="20.00")))
    assert presale["items"][0]["totalPrice"] == "0.00" and presale["total"] == "0.00"


async def test_permissions(client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    payload = body(customer, item(product))
    assert (await client.post("/api/presales", json=payload)).status_code == 401
    viewer = await create_user(db, "employee", permissions={"presales": {"canViewAll": True, "canCreate": False}})
    refused = await client.post("/api/presales", json=payload, headers=bearer(settings, viewer))
    assert refused.status_code == 403 and error(refused)["code"] == "FORBIDDEN"
    employee = await create_user(db, "employee")
    created = await create(client, bearer(settings, employee), payload)
    assert created["createdBy"] == str(employee["id"])
    assert await counts(db) == (1, 1)


async def test_amounts_beyond_the_money_column_are_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10_000_000)
    line = await client.post(
        "/api/presales",
        json=body(customer, item(product, "2"), item(product, "9999999", "99999999.99")),
        headers=admin_headers,
    )
    assert line.status_code == 422, line.text
    assert [d["field"] for d in error(line)["details"]] == ["items.1"]
    subtotal = await client.post(
        "/api/presales", json=body(customer, *[item(product, "1", "60000000.00")] * 2), headers=admin_headers
    )
    assert subtotal.status_code == 422
    assert [d["field"] for d in error(subtotal)["details"]] == ["items"]
    assert await counts(db) == (0, 0)


async def test_a_product_deleted_between_the_check_and_the_write_is_a_404_and_nothing_is_written(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-sale, its items and its audit row are one statement: an item refused by the database (its product
    deleted after the check) takes the pre-sale row and the audit row back with it."""
    customer = await create_customer(db)
    kept, deleted = await create_product(db), await create_product(db)

    async def delete_then_write(conn: asyncpg.Connection, write: Write) -> Any:
        await conn.execute("DELETE FROM products WHERE id = $1", deleted["id"])  # as by another request
        return await write()

    around_the_checked_write(monkeypatch, delete_then_write)
    response = await client.post("/api/presales", json=body(customer, item(kept), item(deleted)), headers=admin_headers)
    assert response.status_code == 404, response.text
    assert await counts(db) == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE resource = 'presales'") == 0
    assert await db.fetchval("SELECT count(*) FROM products WHERE id = $1", deleted["id"]) == 0  # really gone


async def test_a_serialization_failure_is_retried_without_duplicates(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    original = PresaleService._insert_new
    attempts: list[str] = []

    async def fail_once(self: PresaleService, *args: Any, **kwargs: Any) -> Any:
        # The write is one statement: when PostgreSQL refuses it, none of its rows remain.
        attempts.append("write")
        if len(attempts) == 1:
            raise asyncpg.SerializationError("could not serialize access")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(PresaleService, "_insert_new", fail_once)
    presale = await create(client, admin_headers, body(customer, item(product, "2")))
    assert len(attempts) == 2
    assert await counts(db) == (1, 1)
    assert await db.fetchval("SELECT id::text FROM presales") == presale["id"]

    async def always_fail(self: PresaleService, *args: Any, **kwargs: Any) -> Any:
        raise asyncpg.DeadlockDetectedError("deadlock detected")

    monkeypatch.setattr(PresaleService, "_insert_new", always_fail)
    response = await client.post("/api/presales", json=body(customer, item(product)), headers=admin_headers)
    assert response.status_code == 409 and error(response)["code"] == "TRANSACTION_CONFLICT"
    assert await counts(db) == (1, 1)


# --- the first write checks the products itself (queries.CREATE's "need") ---------------------------------


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Each `_insert_new` of a create ("first": with the products' needs; "checked": after the checks) and the
    number of rows it returned; and "read" for each read of the products."""
    calls: list[tuple[str, int]] = []
    insert_new, products = PresaleService._insert_new, PresaleService._products

    async def spied_insert(self: PresaleService, *args: Any, **kwargs: Any) -> Any:
        rows = await insert_new(self, *args, **kwargs)
        calls.append(("first" if kwargs.get("needs") is not None else "checked", len(rows)))
        return rows

    async def spied_products(self: PresaleService, *args: Any, **kwargs: Any) -> Any:
        calls.append(("read", 0))
        return await products(self, *args, **kwargs)

    monkeypatch.setattr(PresaleService, "_insert_new", spied_insert)
    monkeypatch.setattr(PresaleService, "_products", spied_products)
    return calls


async def test_a_create_that_meets_every_rule_is_one_write_with_no_read_before_it(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, writes: list[tuple[str, int]]
) -> None:
    customer = await create_customer(db)
    bulk = await create_product(db, sale_type="fractional", unit="kg", stock=5)
    unit = await create_product(db, stock=2)
    pix = await db.fetchval("SELECT id::text FROM payment_methods WHERE code = 'PM0004'")
    # Stock taken exactly: 2.5 + 2.4 kg is 5 whole units; two lines of one unit product summed to its 2.
    items = [item(bulk, "2.5"), item(unit), item(bulk, "2.4"), item(unit)]
    presale = await create(client, admin_headers, body(customer, *items, paymentMethodId=pix))
    assert [line["quantity"] for line in presale["items"]] == ["2.500", "1.000", "2.400", "1.000"]
    assert writes == [("first", 4)]  # a row per item: the whole pre-sale, from one statement
    assert await counts(db) == (1, 4)


@pytest.mark.parametrize("refusal", ["missing product", "short of stock", "fractional unit", "discount"])
async def test_a_refused_create_writes_nothing_first_then_the_checks_name_the_refusal(
    client: httpx.AsyncClient,
    admin_headers: dict,
    db: asyncpg.Connection,
    writes: list[tuple[str, int]],
    refusal: str,
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, name="Caixa", stock=3)
    line = {
        "missing product": {**item(product), "productId": str(uuid.uuid4())},
        "short of stock": item(product, "4"),
        "fractional unit": item(product, "1.5"),
        "discount": item(product, "1", "15.00", discount="20.00"),
    }[refusal]
    response = await client.post("/api/presales", json=body(customer, line), headers=admin_headers)
    expected = {"missing product": 404, "short of stock": 409, "fractional unit": 422, "discount": 400}[refusal]
    assert response.status_code == expected, response.text
    # A line's own figures (a discount above it) are refused before any write; the rest by the first write.
    assert writes == ([("read", 0)] if refusal == "discount" else [("first", 0), ("read", 0)])
    assert await counts(db) == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE resource = 'presales'") == 0


async def test_a_sale_type_spelled_otherwise_is_left_to_the_checks_which_accept_it(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, writes: list[tuple[str, int]]
) -> None:
    """The first write's test is stricter than the rules (sale type exactly 'fractional'): what it refuses and the
    rules accept is written after the checks, without that test."""
    customer = await create_customer(db)
    product = await create_product(db, sale_type=" Fractional ", unit="kg", stock=2)
    presale = await create(client, admin_headers, body(customer, item(product, "1.5")))
    assert presale["items"][0]["quantity"] == "1.500"
    assert writes == [("first", 0), ("read", 0), ("checked", 1)]
    assert await counts(db) == (1, 1)
