"""Payment method business rules over a connection (contract 6.2, 7.8, 9.14; decisions 10.8, 10.10, 10.15)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg

from service import errors
from service.audit.service import change_audited, fields
from service.auth.current_user import CurrentUser
from service.db.errors import Action, translate_errors
from service.db.pages import Total, fetch_page
from service.payment_methods import queries
from service.payment_methods.schemas import (
    PaymentMethodCreate,
    PaymentMethodListQuery,
    PaymentMethodOut,
    PaymentMethodUpdate,
)

NOT_FOUND = "Payment method not found"
_LAST_GENERATED = 9_999


def to_wire(row: asyncpg.Record) -> dict[str, Any]:
    return PaymentMethodOut.from_row(row)


def first_free_code(taken: Iterable[str]) -> str:
    """PM + 4 digits: the lowest number from 1 that no existing PM code uses (the first gap)."""
    used = {int(code[2:]) for code in taken}
    for number in range(1, _LAST_GENERATED + 1):
        if number not in used:
            return f"PM{number:04d}"
    raise errors.Conflict("Payment method codes are exhausted (PM0001 to PM9999 are all in use)")


class PaymentMethodService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def get(self, payment_method_id: uuid.UUID) -> dict[str, Any]:
        row = await self.conn.fetchrow(*queries.get(payment_method_id))
        if row is None:
            raise errors.NotFound(NOT_FOUND)
        return to_wire(row)

    async def list(self, q: PaymentMethodListQuery) -> tuple[list[dict[str, Any]], Total]:
        rows, total = await fetch_page(self.conn, queries.page(q), lambda: queries.count(q), q)
        return [to_wire(row) for row in rows], total

    async def create(self, data: PaymentMethodCreate, created_by: uuid.UUID) -> dict[str, Any]:
        """Our own code, whatever the client sent. Every code is assigned under one transaction-level lock:
        generation sees every committed code and cannot pick the number a concurrent request is inserting."""
        values = {**data.values(), "created_by": created_by}
        with translate_errors(Action.CREATE):  # a code taken is not expected under the lock: the database decides
            async with self.conn.transaction():
                await self.conn.execute(*queries.lock_codes())
                taken = [row["code"] for row in await self.conn.fetch(*queries.generated_codes())]
                change = queries.insert({"code": first_free_code(taken), **values})
                row = await change_audited(self.conn, change, self.user, "create", "payment_methods")
                assert row is not None  # INSERT ... RETURNING gives the row
        return to_wire(row)

    async def update(self, payment_method_id: uuid.UUID, data: PaymentMethodUpdate) -> dict[str, Any]:
        values = data.values()
        return await self._update(payment_method_id, values, fields(values))

    async def set_active(self, payment_method_id: uuid.UUID, is_active: bool) -> dict[str, Any]:
        return await self._update(
            payment_method_id, {"is_active": is_active}, fields(["is_active"], isActive=is_active)
        )

    async def delete(self, payment_method_id: uuid.UUID) -> None:
        # No check-then-delete: the foreign key of presales decides, also against a concurrent pre-sale write.
        with translate_errors(Action.DELETE):
            change = queries.delete(payment_method_id)
            if await change_audited(self.conn, change, self.user, "delete", "payment_methods") is None:
                raise errors.NotFound(NOT_FOUND)

    async def _update(
        self, payment_method_id: uuid.UUID, values: dict[str, Any], details: dict[str, Any]
    ) -> dict[str, Any]:
        change = queries.update(payment_method_id, values)
        row = await change_audited(self.conn, change, self.user, "update", "payment_methods", details)
        if row is None:
            raise errors.NotFound(NOT_FOUND)
        return to_wire(row)
