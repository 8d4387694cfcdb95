"""PUT /api/presales/:id and PATCH status (contract 5.5, 7.5 PUT specifics, 7.6; decisions 10.8, 10.14)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service import errors
from service.presales.service import PresaleService
from tests.factories import create_customer, create_presale, create_product
from tests.presales.helpers import assert_full_shape, body, counts, create, error, item, stock

ALLOWED = [
    ("draft", "pending"),
    ("draft", "cancelled"),
    ("pending", "approved"),
    ("pending", "cancelled"),
    ("approved", "cancelled"),
    ("pending", "converted"),
    ("approved", "converted"),
] + [(s, s) for s in ("draft", "pending", "approved", "cancelled", "converted")]
STATUSES = ("draft", "pending", "approved", "cancelled", "converted")
REFUSED = [(a, b) for a in STATUSES for b in STATUSES if (a, b) not in ALLOWED]


async def _presale(db: asyncpg.Connection, status: str = "pending", stock_left: int = 50) -> asyncpg.Record:
    customer = await create_customer(db)
    product = await create_product(db, stock=stock_left)
    return await create_presale(db, customer["id"], [(product["id"], Decimal("2"), Decimal("10.00"))], status=status)


@pytest.mark.parametrize(("current", "target"), ALLOWED)
async def test_allowed_transitions_via_patch(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, current: str, target: str
) -> None:
    presale = await _presale(db, current)
    response = await client.patch(
        f"/api/presales/{presale['id']}/status", json={"status": target}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert_full_shape(data)  # the full pre-sale, not a bare row (decision 10.14)
    assert data["status"] == target and len(data["items"]) == 1
    assert await db.fetchval("SELECT status::text FROM presales WHERE id = $1", presale["id"]) == target


@pytest.mark.parametrize(("current", "target"), REFUSED)
async def test_refused_transitions_are_400(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, current: str, target: str
) -> None:
    presale = await _presale(db, current)
    for response in [
        await client.patch(f"/api/presales/{presale['id']}/status", json={"status": target}, headers=admin_headers),
        await client.put(f"/api/presales/{presale['id']}", json={"status": target}, headers=admin_headers),
    ]:
        assert response.status_code == 400, response.text
        assert error(response) == {
            "code": "BAD_REQUEST",
            "message": f"Invalid status transition from {current} to {target}",
        }
    assert await db.fetchval("SELECT status::text FROM presales WHERE id = $1", presale["id"]) == current
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments") == 0


async def test_patch_status_validation(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    presale = await _presale(db)
    url = f"/api/presales/{presale['id']}/status"
    for payload in [{"status": "done"}, {}, {"status": "approved", "extra": 1}]:
        assert (await client.patch(url, json=payload, headers=admin_headers)).status_code == 422
    assert (
        await client.patch(f"/api/presales/{uuid.uuid4()}/status", json={"status": "approved"}, headers=admin_headers)
    ).status_code == 404
    assert (
        await client.patch("/api/presales/123/status", json={"status": "approved"}, headers=admin_headers)
    ).status_code == 422


async def test_put_replaces_items_and_recomputes(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    other_customer = await create_customer(db, name="Outra")
    a = await create_product(db, stock=10)
    b = await create_product(db, stock=10)
    created = await create(
        client,
        admin_headers,
        body(
            customer, item(a, "1", "10.00"), item(b, "1", "10.00"), discountType="percentage", discountPercentage="50"
        ),
    )
    assert created["total"] == "10.00"
    old_ids = {line["id"] for line in created["items"]}
    response = await client.put(
        f"/api/presales/{created['id']}",
        json={
            "customerId": str(other_customer["id"]),
            "notes": "nova",
            "discountType": "percentage",
            "discountPercentage": "10",
            "items": [{**item(b, "2", "50.00"), "id": created["items"][0]["id"]}, item(a, "1", "30.00")],
        },
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert_full_shape(updated)
    assert (updated["total"], updated["discount"], updated["discountPercentage"]) == ("117.00", "13.00", "10.00")
    assert updated["customer"]["name"] == "Outra" and updated["notes"] == "nova"
    assert [(line["productId"], line["quantity"]) for line in updated["items"]] == [
        (str(b["id"]), "2.000"),
        (str(a["id"]), "1.000"),
    ]
    assert not old_ids & {line["id"] for line in updated["items"]}  # ids sent back are ignored
    assert await counts(db) == (1, 2)
    assert updated["createdAt"] == created["createdAt"] and updated["updatedAt"] > created["updatedAt"]


async def test_put_items_without_discount_fields_wipes_the_global_discount(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    created = await create(client, admin_headers, body(customer, item(product, "1", "100.00"), discount="10"))
    assert created["total"] == "90.00"
    updated = (
        await client.put(
            f"/api/presales/{created['id']}", json={"items": [item(product, "2", "100.00")]}, headers=admin_headers
        )
    ).json()["data"]
    assert (updated["total"], updated["discount"], updated["discountType"]) == ("200.00", "0.00", "fixed")


async def test_put_only_discount_fields_uses_stored_items(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    created = await create(
        client, admin_headers, body(customer, item(product, "2", "50.00"), item(product, "1", "30.00", discount="5"))
    )
    url = f"/api/presales/{created['id']}"
    pct = (
        await client.put(url, json={"discountType": "percentage", "discountPercentage": "10"}, headers=admin_headers)
    ).json()["data"]
    assert (pct["total"], pct["discount"], pct["discountPercentage"]) == ("112.50", "12.50", "10.00")
    fixed = (await client.put(url, json={"discountType": "fixed"}, headers=admin_headers)).json()["data"]
    # fixed without `discount` keeps the stored amount
    assert (fixed["total"], fixed["discount"], fixed["discountPercentage"]) == ("112.50", "12.50", "10.00")
    amount = (await client.put(url, json={"discount": "25"}, headers=admin_headers)).json()["data"]
    assert (amount["total"], amount["discount"], amount["discountPercentage"]) == ("100.00", "25.00", "20.00")
    notes = (await client.put(url, json={"notes": "só notas"}, headers=admin_headers)).json()["data"]
    assert notes["total"] == "100.00" and notes["notes"] == "só notas"
    assert [line["id"] for line in notes["items"]] == [line["id"] for line in created["items"]]


async def test_put_items_failure_keeps_the_old_items(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, name="Broca", stock=3)
    created = await create(client, admin_headers, body(customer, item(product, "2", "10.00")))
    url = f"/api/presales/{created['id']}"
    for payload, status in [
        ({"items": [item(product, "1"), item(product, "3")]}, 409),  # second line makes the sum exceed stock
        ({"items": [item(product, "1"), {"productId": str(uuid.uuid4()), "quantity": "1", "unitPrice": "1"}]}, 404),
        ({"items": [item(product, "1"), item(product, "1", "1.00", discount="5")]}, 400),
        ({"items": [item(product, "1.5")]}, 422),
        ({"items": []}, 422),
        ({"customerId": str(uuid.uuid4()), "items": [item(product, "1")]}, 404),
    ]:
        response = await client.put(url, json=payload, headers=admin_headers)
        assert response.status_code == status, (payload, response.text)
    current = (await client.get(url, headers=admin_headers)).json()["data"]
    assert current == created
    assert await counts(db) == (1, 1)


async def test_put_validation(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    presale = await _presale(db)
    url = f"/api/presales/{presale['id']}"
    for payload, field in [
        ({}, ""),
        ({"customerId": None}, ""),
        ({"items": None}, ""),
        ({"bogus": 1}, "bogus"),
        ({"discount": "x"}, "discount"),
        ({"items": [{"productId": str(uuid.uuid4())}]}, "items.0.quantity"),
    ]:
        response = await client.put(url, json=payload, headers=admin_headers)
        assert response.status_code == 422, (payload, response.text)
        assert error(response)["details"][0]["field"] == field
    assert (
        await client.put(f"/api/presales/{uuid.uuid4()}", json={"notes": "x"}, headers=admin_headers)
    ).status_code == 404
    cleared = await client.put(url, json={"notes": None}, headers=admin_headers)
    assert cleared.status_code == 200 and cleared.json()["data"]["notes"] is None


@pytest.mark.parametrize("status", ["converted", "cancelled"])
async def test_put_on_a_finished_presale_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, status: str
) -> None:
    presale = await _presale(db, status)
    product = await create_product(db)
    url = f"/api/presales/{presale['id']}"
    for payload in [{"items": [item(product, "1")]}, {"notes": "x"}, {"status": status, "discount": "1"}]:
        response = await client.put(url, json=payload, headers=admin_headers)
        assert response.status_code == 409, response.text
        assert error(response)["code"] == "CONFLICT"
    assert await db.fetchval("SELECT count(*) FROM presale_items WHERE product_id = $1", product["id"]) == 0
    same = await client.put(url, json={"status": status}, headers=admin_headers)
    assert same.status_code == 200 and same.json()["data"]["status"] == status


async def test_put_to_converted_goes_through_the_conversion_path(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=10)
    created = await create(client, admin_headers, body(customer, item(product, "2")))
    response = await client.put(
        f"/api/presales/{created['id']}",
        json={"status": "converted", "items": [item(product, "4")]},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "converted" and data["items"][0]["product"]["stock"] == 6
    assert await stock(db, product["id"]) == 6
    assert (
        await db.fetchval("SELECT count(*) FROM stock_adjustments WHERE presale_id = $1", uuid.UUID(created["id"])) == 1
    )


async def test_put_items_are_replaced_atomically(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old items are deleted before the new ones are written: a failure in between must restore them."""
    customer = await create_customer(db)
    product = await create_product(db)
    created = await create(client, admin_headers, body(customer, item(product, "2", "10.00"), notes="antes"))

    async def fail(self: PresaleService, presale_id: uuid.UUID, lines: list) -> None:
        raise errors.Conflict("insert failed")

    monkeypatch.setattr(PresaleService, "_insert_items", fail)
    response = await client.put(
        f"/api/presales/{created['id']}", json={"notes": "depois", "items": [item(product, "5")]}, headers=admin_headers
    )
    assert response.status_code == 409
    monkeypatch.undo()
    assert (await client.get(f"/api/presales/{created['id']}", headers=admin_headers)).json()["data"] == created
