"""Helpers for the stock tests: history rows seeded straight into the database, users with their headers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from service.config import Settings
from tests.factories import bearer, create_user


def adjust_url(product_id: object) -> str:
    return f"/api/products/{product_id}/stock-adjustment"


async def new_user(
    db: asyncpg.Connection, settings: Settings, role: str = "employee", name: str = "Stock Clerk"
) -> tuple[asyncpg.Record, dict[str, str]]:
    """A user of its own (so its rate-limit counters start empty) and its bearer header."""
    user = await create_user(db, role, name=name)
    return user, bearer(settings, user)


async def seed_adjustment(
    db: asyncpg.Connection,
    product: asyncpg.Record,
    *,
    created_at: datetime,
    adjustment_type: str = "add",
    quantity: int = 1,
    previous_stock: int = 10,
    user: asyncpg.Record | None = None,
    reason: str = "seeded",
    ip_address: str | None = "10.0.0.1",
    user_agent: str | None = "seed/1.0",
) -> dict[str, Any]:
    new_stock = previous_stock + quantity if adjustment_type == "add" else previous_stock - quantity
    row = await db.fetchrow(
        "INSERT INTO stock_adjustments (product_id, adjustment_type, quantity, previous_stock, new_stock, reason,"
        " user_id, user_name, ip_address, user_agent, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
        product["id"],
        adjustment_type,
        quantity,
        previous_stock,
        new_stock,
        reason,
        user["id"] if user else None,
        user["name"] if user else "Someone",
        ip_address,
        user_agent,
        created_at,
    )
    return dict(row)


async def rows_of(db: asyncpg.Connection, product_id: uuid.UUID) -> list[asyncpg.Record]:
    """The product's history rows in the order they were written."""
    return await db.fetch("SELECT * FROM stock_adjustments WHERE product_id = $1 ORDER BY created_at, id", product_id)


async def stock_of(db: asyncpg.Connection, product_id: uuid.UUID) -> int:
    return await db.fetchval("SELECT stock FROM products WHERE id = $1", product_id)
