"""Stock adjustment rules over a connection (contract 6.1, 7.4; quirk 9.16 fixed).

An adjustment is one transaction: lock the product row, compute the new stock from the locked value, refuse
a removal below zero, update the product and write the history row. Concurrent adjustments of one product
queue on the row lock, so none is lost and stock never goes below zero.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from service import errors
from service.audit.service import record
from service.auth.current_user import CurrentUser
from service.db.errors import with_retry
from service.db.pages import Total, fetch_page
from service.products.schemas import INT4_MAX
from service.stock import queries
from service.stock.schemas import (
    StockAdjustmentIn,
    StockAdjustmentListQuery,
    StockAdjustmentOut,
    StockAdjustmentResult,
)

NOT_FOUND = "Product not found"


def insufficient_stock(product: asyncpg.Record, requested: int) -> errors.BadRequest:
    """400 with the earlier backend's message; the web app looks for the lower-case words too."""
    current = product["stock"]
    message = (
        f"Insufficient stock for this operation. Current stock: {current}, requested removal: {requested}"
        f" (insufficient stock)"
    )
    return errors.BadRequest(
        message,
        details=[
            {
                "field": "quantity",
                "message": f"insufficient stock: only {current} available",
                "productId": str(product["id"]),
                "currentStock": current,
                "requestedRemoval": requested,
            }
        ],
    )


class StockService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def adjust(self, product_id: uuid.UUID, data: StockAdjustmentIn) -> dict[str, Any]:
        """Recorded from where the user acts (the request's client, as the audit log records it)."""

        async def attempt() -> tuple[asyncpg.Record, int, asyncpg.Record]:
            async with self.conn.transaction():
                product = await self.conn.fetchrow(*queries.lock_product(product_id))
                if product is None:
                    raise errors.NotFound(NOT_FOUND)
                previous = product["stock"]
                if data.adjustment_type == "remove":
                    if data.quantity > previous:
                        raise insufficient_stock(product, data.quantity)
                    new = previous - data.quantity
                else:
                    new = previous + data.quantity
                    if new > INT4_MAX:
                        raise errors.BadRequest(
                            f"Stock cannot exceed {INT4_MAX}. Current stock: {previous}, "
                            f"requested addition: {data.quantity}"
                        )
                await self.conn.execute(*queries.set_stock(product_id, new))
                row = await self.conn.fetchrow(
                    *queries.insert_adjustment(
                        {
                            "product_id": product_id,
                            "adjustment_type": data.adjustment_type,
                            "quantity": data.quantity,
                            "previous_stock": previous,
                            "new_stock": new,
                            "reason": data.reason,
                            "user_id": self.user.id,
                            "user_name": self.user.name,
                            "ip_address": self.user.ip_address,
                            "user_agent": self.user.user_agent,
                        }
                    )
                )
                assert row is not None  # INSERT ... RETURNING gives the row
                await record(
                    self.conn,
                    self.user,
                    "create",
                    "stock_adjustments",
                    row["id"],
                    {
                        "productId": str(product_id),
                        "adjustmentType": data.adjustment_type,
                        "quantity": data.quantity,
                        "previousStock": previous,
                        "newStock": new,
                    },
                )
                return product, new, row

        product, new, row = await with_retry(attempt)
        return StockAdjustmentResult.model_validate(
            {
                "id": product["id"],
                "code": product["code"],
                "name": product["name"],
                "stock": new,
                "previous_stock": product["stock"],
                "adjustment": {
                    "id": row["id"],
                    "type": data.adjustment_type,
                    "quantity": data.quantity,
                    "reason": data.reason,
                    "created_at": row["created_at"],
                },
            }
        ).to_wire()

    async def history(self, q: StockAdjustmentListQuery) -> tuple[list[dict[str, Any]], Total]:
        rows, total = await fetch_page(self.conn, queries.page(q), lambda: queries.count(q), q)
        return [StockAdjustmentOut.from_row(row) for row in rows], total
