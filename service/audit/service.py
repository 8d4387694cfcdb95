"""Writing and reading the audit log (contract 6.5).

A change of one row and its audit row are one statement (`change_audited`). A change of several statements calls
`record` inside its transaction, after the change: when the change rolls back, so does its audit row.
"""

from __future__ import annotations

import builtins  # builtins.list: in the class below, after its own `list` method, `list` names the method
import json
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
from pydantic.alias_generators import to_camel

from service.audit import queries
from service.audit.schemas import AuditLogListQuery, AuditLogOut
from service.auth.current_user import CurrentUser
from service.db.pages import Total, fetch_page
from service.db.sql import Statement


def fields(names: Iterable[str], **extra: Any) -> dict[str, Any]:
    """`{"fields": [camelCase names, sorted], **extra}`: the details of an update (names only, never values)."""
    return {"fields": sorted(to_camel(name) for name in names), **extra}


def audit_values(
    actor: CurrentUser,
    action: str,
    resource: str,
    resource_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit row for `actor`."""
    return {
        "user_id": actor.id,
        "user_name": actor.name or actor.email or "unknown",
        "action": action,
        "resource": resource,
        "resource_id": resource_id,
        "details": json.dumps(details, default=str, ensure_ascii=False) if details is not None else None,
        "ip_address": actor.ip_address,
        "user_agent": actor.user_agent,
    }


async def record(
    conn: asyncpg.Connection,
    actor: CurrentUser,
    action: str,
    resource: str,
    resource_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row for `actor`. Call it inside the transaction of the change, after the change succeeded."""
    if not conn.is_in_transaction():  # a programming error: the row would outlive a rollback of the change
        raise RuntimeError("audit.record must run inside the transaction of the change it records")
    await conn.execute(*queries.insert(audit_values(actor, action, resource, resource_id, details)))


async def change_audited(
    conn: asyncpg.Connection,
    change: Statement,
    actor: CurrentUser,
    action: str,
    resource: str,
    details: dict[str, Any] | None = None,
) -> asyncpg.Record | None:
    """A one-row change and its audit row in one statement (queries.audited): the changed row, or None when no
    row changed (and then nothing was recorded)."""
    return await conn.fetchrow(*queries.audited(change, audit_values(actor, action, resource, None, details)))


def to_wire(row: asyncpg.Record) -> dict[str, Any]:
    return AuditLogOut.from_row(row)


class AuditService:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def list(self, q: AuditLogListQuery) -> tuple[list[dict[str, Any]], Total]:
        rows, total = await fetch_page(self.conn, queries.page(q), lambda: queries.count(q), q)
        return [to_wire(row) for row in rows], total

    async def recent(self, limit: int) -> builtins.list[dict[str, Any]]:
        return [to_wire(row) for row in await self.conn.fetch(*queries.recent(limit))]
