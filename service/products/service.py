"""Product business rules over a connection (contract 5.4, 6.7, 7.2, 10.8, 10.10)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import asyncpg
import msgspec

from service import errors
from service.audit.service import change_audited, fields
from service.auth.current_user import CurrentUser
from service.db.errors import Action, translate_errors
from service.db.page_cache import PageCache
from service.db.pages import Total, fetch_wire_page
from service.products import queries
from service.products.schemas import (
    GENERATED_CODE,
    PRICE_RULE,
    ProductCreate,
    ProductListQuery,
    ProductUpdate,
)

_LAST_GENERATED = 9_999_999


def to_wire(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)  # its columns are the wire fields (queries.wire_fields)


def next_code(highest: str | None) -> str:
    number = int(highest[4:]) + 1 if highest else 1
    if number > _LAST_GENERATED:
        raise errors.Conflict(
            "Automatic product codes are exhausted: send a code",
            details=[{"field": "code", "message": "Automatic product codes are exhausted"}],
        )
    return f"PROD{number:07d}"


class ProductService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def get(self, product_id: uuid.UUID) -> dict[str, Any]:
        row = await self.conn.fetchrow(*queries.get(product_id))
        if row is None:
            raise errors.NotFound("Product not found")
        return to_wire(row)

    async def list(self, q: ProductListQuery, pages: PageCache) -> tuple[msgspec.Raw, Total]:
        def read() -> Awaitable[tuple[list[dict[str, Any]], Total]]:
            return fetch_wire_page(self.conn, queries.page(q), lambda: queries.count(q), q)

        return await pages.page(self.conn, "products", q.model_dump_json(), queries.LIST_READS, read)

    async def create(self, data: ProductCreate) -> dict[str, Any]:
        values = data.model_dump()
        with translate_errors(Action.CREATE):  # the database decides races on a sent code
            async with self.conn.transaction():
                if values["code"] is None or GENERATED_CODE.match(values["code"]):
                    # Every write of a PROD code (generated or sent by the web app, which numbers them itself)
                    # happens under one transaction-level lock: generation sees every committed PROD code and
                    # cannot pick the number a concurrent request is inserting.
                    await self.conn.execute(*queries.lock_codes())
                    if values["code"] is None:
                        values["code"] = next_code(await self.conn.fetchval(*queries.highest_generated_code()))
                row = await change_audited(self.conn, queries.insert(values), self.user, "create", "products")
                assert row is not None  # INSERT ... RETURNING gives the row
        return to_wire(row)

    async def update(self, product_id: uuid.UUID, data: ProductUpdate) -> dict[str, Any]:
        values = data.sent_fields()
        sale, purchase = values.get("sale_price"), values.get("purchase_price")
        # Both prices sent: the schema already checked them. One sent: check it against the stored other one,
        # inside the UPDATE itself so a concurrent price change cannot slip between a read and the write.
        guarded = (sale is None) != (purchase is None)
        change = queries.update(
            product_id, values, sale_at_least=sale if guarded else None, purchase_at_most=purchase if guarded else None
        )
        row = await change_audited(self.conn, change, self.user, "update", "products", fields(values))
        if row is None:
            if guarded and await self.conn.fetchval(*queries.exists(product_id)) is not None:
                field = "salePrice" if sale is not None else "purchasePrice"
                raise errors.BadRequest(PRICE_RULE, details=[{"field": field, "message": PRICE_RULE}])
            raise errors.NotFound("Product not found")
        return to_wire(row)

    async def delete(self, product_id: uuid.UUID) -> None:
        with translate_errors(Action.DELETE):
            row = await change_audited(self.conn, queries.delete(product_id), self.user, "delete", "products")
        if row is None:
            raise errors.NotFound("Product not found")
