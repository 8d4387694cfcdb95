"""Conversion deducts stock atomically, once, and never oversells (contract 7.7; decisions 10.6-10.8);
DELETE rules (7.8)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.presales.helpers import assert_full_shape, body, counts, create, error, item, stock


async def _adjustments(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM stock_adjustments ORDER BY created_at, product_id")


@pytest.mark.parametrize("how", ["patch", "convert", "convert-empty-json"])
async def test_conversion_deducts_exact_stock_and_records_it(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection, how: str
) -> None:
    seller = await create_user(db, "employee", name="Vendedora Lia")
    headers = bearer(settings, seller)
    customer = await create_customer(db)
    a = await create_product(db, name="Martelo", stock=10)
    b = await create_product(db, name="Prego", stock=7)
    untouched = await create_product(db, stock=4)
    created = await create(client, headers, body(customer, item(a, "3"), item(b, "7"), item(a, "2")))
    await client.patch(f"/api/presales/{created['id']}/status", json={"status": "approved"}, headers=headers)
    url = f"/api/presales/{created['id']}"
    if how == "patch":
        response = await client.patch(url + "/status", json={"status": "converted"}, headers=headers)
    elif how == "convert":
        response = await client.post(url + "/convert", headers=headers)  # no body, no content type
    else:
        response = await client.post(url + "/convert", json={}, headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert_full_shape(data)
    assert data["status"] == "converted"
    assert {line["product"]["name"]: line["product"]["stock"] for line in data["items"]} == {"Martelo": 5, "Prego": 0}
    assert (await stock(db, a["id"]), await stock(db, b["id"]), await stock(db, untouched["id"])) == (5, 0, 4)

    rows = await _adjustments(db)
    by_product = {row["product_id"]: row for row in rows}
    assert len(rows) == 2 and set(by_product) == {a["id"], b["id"]}
    assert [(by_product[a["id"]][k], by_product[b["id"]][k]) for k in ("quantity", "previous_stock", "new_stock")] == [
        (5, 7),
        (10, 7),
        (5, 0),
    ]
    for row in rows:
        assert row["adjustment_type"] == "remove"
        assert row["reason"] == f"Venda finalizada - Pré-venda #{created['id'][:8]}"
        assert (row["user_id"], row["user_name"]) == (seller["id"], "Vendedora Lia")
        assert row["user_agent"] == "Automatic Stock Reduction"
        assert row["presale_id"] == uuid.UUID(created["id"])

    # converting again is the same status: accepted, nothing deducted twice
    again = await client.patch(url + "/status", json={"status": "converted"}, headers=headers)
    assert again.status_code == 200
    assert (await client.post(url + "/convert", headers=headers)).status_code == 200
    assert await stock(db, a["id"]) == 5 and len(await _adjustments(db)) == 2


async def test_convert_refuses_draft_and_cancelled(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=5)
    for status in ["draft", "cancelled"]:
        presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("1"))], status=status)
        response = await client.post(f"/api/presales/{presale['id']}/convert", headers=admin_headers)
        assert response.status_code == 400
        assert error(response)["message"] == f"Invalid status transition from {status} to converted"
    assert await stock(db, product["id"]) == 5
    assert (await client.post(f"/api/presales/{uuid.uuid4()}/convert", headers=admin_headers)).status_code == 404


async def test_short_stock_at_conversion_is_409_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    fine = await create_product(db, name="Serra", stock=10)
    short = await create_product(db, name="Lixa", stock=10)
    presale = await create_presale(
        db,
        customer["id"],
        [
            (fine["id"], Decimal("4"), Decimal("1")),
            (short["id"], Decimal("3"), Decimal("1")),
            (short["id"], Decimal("3"), Decimal("1")),
        ],
    )
    await db.execute("UPDATE products SET stock = 5 WHERE id = $1", short["id"])  # sold elsewhere meanwhile
    response = await client.patch(
        f"/api/presales/{presale['id']}/status", json={"status": "converted"}, headers=admin_headers
    )
    assert response.status_code == 409
    assert error(response)["code"] == "INSUFFICIENT_STOCK"
    assert error(response)["message"] == 'Insufficient stock for "Lixa". Available: 5, Requested: 6'
    assert (await stock(db, fine["id"]), await stock(db, short["id"])) == (10, 5)
    assert await db.fetchval("SELECT status::text FROM presales WHERE id = $1", presale["id"]) == "pending"
    assert await _adjustments(db) == []


async def test_fractional_quantities_are_rounded_up_at_conversion(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    rice = await create_product(db, name="Arroz", sale_type="fractional", unit="kg", stock=5)
    beans = await create_product(db, name="Feijao", sale_type="fractional", unit="kg", stock=5)
    created = await create(
        client,
        admin_headers,
        body(customer, item(rice, "1.2", "6.00"), item(rice, "1.3", "6.00"), item(beans, "0.001", "8.00")),
    )
    converted = await client.post(f"/api/presales/{created['id']}/convert", headers=admin_headers)
    assert converted.status_code == 200, converted.text
    # rice: 1.2 + 1.3 = 2.5 -> 3 units; beans: 0.001 -> 1 unit
    assert (await stock(db, rice["id"]), await stock(db, beans["id"])) == (2, 4)
    quantities = {row["product_id"]: row["quantity"] for row in await _adjustments(db)}
    assert quantities == {rice["id"]: 3, beans["id"]: 1}


async def test_concurrent_conversions_never_oversell(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, name="Ultimo", stock=5)
    presales = [
        await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("9.90"))]) for _ in range(6)
    ]

    async def convert(presale: asyncpg.Record, n: int) -> httpx.Response:
        url = f"/api/presales/{presale['id']}"
        if n % 2:
            return await client.patch(url + "/status", json={"status": "converted"}, headers=admin_headers)
        return await client.post(url + "/convert", headers=admin_headers)

    responses = await asyncio.gather(*(convert(p, n) for n, p in enumerate(presales)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [409], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert error(refused) == {
        "code": "INSUFFICIENT_STOCK",
        "message": 'Insufficient stock for "Ultimo". Available: 0, Requested: 1',
        "details": [{"productId": str(product["id"]), "productName": "Ultimo", "available": 0, "requested": "1"}],
    }
    assert await stock(db, product["id"]) == 0
    rows = await _adjustments(db)
    assert len(rows) == 5
    assert sorted(row["previous_stock"] for row in rows) == [1, 2, 3, 4, 5]
    assert sorted(row["new_stock"] for row in rows) == [0, 1, 2, 3, 4]
    assert await db.fetchval("SELECT count(*) FROM presales WHERE status = 'converted'") == 5


async def test_concurrent_conversions_sharing_products_in_opposite_order(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    """Lines listed in opposite orders lock products in the same (id) order: no deadlock, no oversell."""
    customer = await create_customer(db)
    x = await create_product(db, stock=6)
    y = await create_product(db, stock=6)
    presales = []
    for n in range(8):
        lines = [(x["id"], Decimal("1"), Decimal("1")), (y["id"], Decimal("1"), Decimal("1"))]
        presales.append(await create_presale(db, customer["id"], lines if n % 2 else lines[::-1]))
    responses = await asyncio.gather(
        *(client.post(f"/api/presales/{p['id']}/convert", headers=admin_headers) for p in presales)
    )
    assert sorted(r.status_code for r in responses) == [200] * 6 + [409] * 2, [r.text for r in responses]
    assert (await stock(db, x["id"]), await stock(db, y["id"])) == (0, 0)
    assert len(await _adjustments(db)) == 12


async def test_delete_rules(
    client: httpx.AsyncClient, admin_headers: dict, settings: Settings, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    line = [(product["id"], Decimal("2"), Decimal("1"))]
    cancelled = await create_presale(db, customer["id"], line, status="cancelled")
    response = await client.delete(f"/api/presales/{cancelled['id']}", headers=admin_headers)
    assert response.status_code == 204 and response.content == b""
    assert await counts(db) == (0, 0)  # items cascade
    assert (await client.delete(f"/api/presales/{cancelled['id']}", headers=admin_headers)).status_code == 404
    assert (await client.delete("/api/presales/xyz", headers=admin_headers)).status_code == 422

    converted = await create(client, admin_headers, body(customer, item(product, "2")))
    assert (await client.post(f"/api/presales/{converted['id']}/convert", headers=admin_headers)).status_code == 200
    refused = await client.delete(f"/api/presales/{converted['id']}", headers=admin_headers)
    assert refused.status_code == 409 and error(refused)["code"] == "CONFLICT"
    assert await counts(db) == (1, 1) and await stock(db, product["id"]) == 8  # no stock restoration either

    viewer = await create_user(db, "employee", permissions={"presales": {"canViewAll": True, "canViewOwn": True}})
    pending = await create_presale(db, customer["id"], line)
    forbidden = await client.delete(f"/api/presales/{pending['id']}", headers=bearer(settings, viewer))
    assert forbidden.status_code == 403
    assert await counts(db) == (2, 2)
