"""Customer business rules over a connection (contract 5.3, 7.1, 7.2, 10.8, 10.10)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import asyncpg
import msgspec

from service import errors
from service.audit.service import change_audited, fields
from service.auth.current_user import CurrentUser
from service.customers import queries
from service.customers.schemas import CustomerCreate, CustomerListQuery, CustomerUpdate
from service.db.errors import Action, translate_errors
from service.db.page_cache import PageCache
from service.db.pages import Total, fetch_wire_page


def to_wire(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)  # its columns are the wire fields (queries.wire_fields)


class CustomerService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def get(self, customer_id: uuid.UUID) -> dict[str, Any]:
        row = await self.conn.fetchrow(*queries.get(customer_id))
        if row is None:
            raise errors.NotFound("Customer not found")
        return to_wire(row)

    async def list(self, q: CustomerListQuery, pages: PageCache) -> tuple[msgspec.Raw, Total]:
        def read() -> Awaitable[tuple[list[dict[str, Any]], Total]]:
            return fetch_wire_page(self.conn, queries.page(q), lambda: queries.count(q), q)

        return await pages.page(self.conn, "customers", q.model_dump_json(), queries.LIST_READS, read)

    async def create(self, data: CustomerCreate) -> dict[str, Any]:
        with translate_errors(Action.CREATE):
            row = await change_audited(self.conn, queries.insert(data.model_dump()), self.user, "create", "customers")
            assert row is not None  # INSERT ... RETURNING gives the row
        return to_wire(row)

    async def update(self, customer_id: uuid.UUID, data: CustomerUpdate) -> dict[str, Any]:
        values = data.sent_fields()
        with translate_errors(Action.UPDATE):
            change = queries.update(customer_id, values)
            row = await change_audited(self.conn, change, self.user, "update", "customers", fields(values))
        if row is None:
            raise errors.NotFound("Customer not found")
        return to_wire(row)

    async def delete(self, customer_id: uuid.UUID) -> None:
        with translate_errors(Action.DELETE):
            row = await change_audited(self.conn, queries.delete(customer_id), self.user, "delete", "customers")
        if row is None:
            raise errors.NotFound("Customer not found")
