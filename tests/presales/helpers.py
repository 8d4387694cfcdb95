"""Shared bits of the pre-sale tests: request bodies, expected shapes, database checks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from service.presales.service import PresaleService
from tests.factories import PRODUCT_KEYS

PRESALE_KEYS = {
    "id",
    "customerId",
    "status",
    "total",
    "discount",
    "discountType",
    "discountPercentage",
    "notes",
    "paymentMethodId",
    "createdBy",
    "createdAt",
    "updatedAt",
    "customer",
    "items",
}
CUSTOMER_KEYS = {"id", "name", "email", "phone", "cpf", "address", "createdAt", "updatedAt"}
ITEM_KEYS = {
    "id",
    "preSaleId",
    "productId",
    "quantity",
    "unitPrice",
    "totalPrice",
    "discount",
    "discountType",
    "discountPercentage",
    "product",
}


def item(product: asyncpg.Record, quantity: str = "1", unit_price: str = "15.00", **extra: Any) -> dict[str, Any]:
    return {"productId": str(product["id"]), "quantity": quantity, "unitPrice": unit_price, **extra}


def body(customer: asyncpg.Record, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"customerId": str(customer["id"]), "items": list(items), **extra}


def assert_full_shape(presale: dict[str, Any]) -> None:
    """The full pre-sale of decision 10.14: customer and, on every item, the full product."""
    assert set(presale) == PRESALE_KEYS, presale
    assert set(presale["customer"]) == CUSTOMER_KEYS
    assert presale["customer"]["id"] == presale["customerId"]
    for line in presale["items"]:
        assert set(line) == ITEM_KEYS, line
        assert line["preSaleId"] == presale["id"]
        assert set(line["product"]) == PRODUCT_KEYS
        assert line["product"]["id"] == line["productId"]
        assert isinstance(line["product"]["stock"], int)
    for stamp in (presale["createdAt"], presale["updatedAt"], presale["customer"]["createdAt"]):
        assert stamp.endswith("Z")


async def create(client: httpx.AsyncClient, headers: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/presales", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def counts(db: asyncpg.Connection) -> tuple[int, int]:
    """(pre-sales, pre-sale items) rows in the database."""
    return (await db.fetchval("SELECT count(*) FROM presales"), await db.fetchval("SELECT count(*) FROM presale_items"))


async def stock(db: asyncpg.Connection, product_id: uuid.UUID) -> int:
    return await db.fetchval("SELECT stock FROM products WHERE id = $1", product_id)


def error(response: httpx.Response) -> dict[str, Any]:
    """The error without its requestId, checked to be the response's X-Request-ID."""
    error = response.json()["error"]
    assert error.pop("requestId") == response.headers["x-request-id"]
    return error


Write = Callable[[], Awaitable[Any]]


def around_the_checked_write(
    monkeypatch: pytest.MonkeyPatch, around: Callable[[asyncpg.Connection, Write], Awaitable[Any]]
) -> None:
    """A create's first write (the statement that tests the items itself) writes nothing, as if refused, so the
    checks run; the write after them runs as `around(conn, write)` (the request's own connection: the checks and
    the write are not one transaction, so what `around` does there commits at once, as another request's would)."""
    insert_new = PresaleService._insert_new

    async def checked_only(self: PresaleService, *args: Any, needs: Any = None) -> Any:
        if needs is not None:
            return []
        return await around(self.conn, lambda: insert_new(self, *args))

    monkeypatch.setattr(PresaleService, "_insert_new", checked_only)
