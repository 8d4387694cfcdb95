"""Seed-data factories for tests: rows inserted straight into the test's database."""

from __future__ import annotations

import itertools
import json
import uuid
from decimal import Decimal
from functools import lru_cache
from typing import Any

import asyncpg

from service.auth.passwords import _hash
from service.auth.tokens import issue_token
from service.config import Settings
from service.customers.cpf import check_digits

PASSWORD = "s3cret-Passw0rd"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    return _hash(PASSWORD)


def valid_cpf(seed: int | None = None) -> str:
    """A checksum-valid CPF, different for every call (or fixed for a seed)."""
    base = f"{(seed if seed is not None else next(_counter) * 7919 + 100000000) % 10**9:09d}"
    if len(set(base)) == 1:
        base = "123456789"
    return base + check_digits(base)


async def create_user(
    db: asyncpg.Connection,
    role: str = "admin",
    *,
    email: str | None = None,
    name: str = "Test User",
    permissions: dict[str, Any] | None = None,
) -> asyncpg.Record:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    return await db.fetchrow(
        "INSERT INTO users (email, password, name, role, permissions, tokens_valid_after) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, now() - interval '1 minute') RETURNING *",
        email,
        password_hash(),
        name,
        role,
        json.dumps(permissions) if permissions is not None else None,
    )


def token_for(settings: Settings, user: asyncpg.Record) -> str:
    token, _claims = issue_token(
        settings.jwt_secret, settings.jwt_expires_in, user_id=str(user["id"]), email=user["email"], role=user["role"]
    )
    return token


def bearer(settings: Settings, user: asyncpg.Record) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, user)}"}


async def create_customer(db: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    n = next(_counter)
    row = {
        "name": f"Customer {n:05d}",
        "email": f"customer{n}-{uuid.uuid4().hex[:6]}@example.com",
        "phone": "(11) 98765-4321",
        "cpf": valid_cpf(),
        "address": None,
        **values,
    }
    return await db.fetchrow(
        "INSERT INTO customers (name, email, phone, cpf, address) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        row["name"],
        row["email"],
        row["phone"],
        row["cpf"],
        row["address"],
    )


async def create_product(db: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    n = next(_counter)
    row = {
        "code": f"T{n:07d}{uuid.uuid4().hex[:4].upper()}",
        "name": f"Product {n:05d}",
        "unit": "un",
        "description": None,
        "stock": 100,
        "purchase_price": Decimal("10.00"),
        "sale_price": Decimal("15.00"),
        "sale_type": "unit",
        **values,
    }
    return await db.fetchrow(
        "INSERT INTO products (code, name, unit, description, stock, purchase_price, sale_price, sale_type) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        row["code"],
        row["name"],
        row["unit"],
        row["description"],
        row["stock"],
        row["purchase_price"],
        row["sale_price"],
        row["sale_type"],
    )


async def create_presale(
    db: asyncpg.Connection,
    customer_id: uuid.UUID,
    items: list[tuple[uuid.UUID, Decimal, Decimal]],
    *,
    status: str = "pending",
    created_by: uuid.UUID | None = None,
) -> asyncpg.Record:
    """A pre-sale with plain items (no discounts): items are (product_id, quantity, unit_price)."""
    total = sum((q * p for _, q, p in items), Decimal("0")).quantize(Decimal("0.01"))
    presale = await db.fetchrow(
        "INSERT INTO presales (customer_id, status, total, created_by) VALUES ($1, $2, $3, $4) RETURNING *",
        customer_id,
        status,
        total,
        created_by,
    )
    for product_id, quantity, unit_price in items:
        await db.execute(
            "INSERT INTO presale_items (presale_id, product_id, quantity, unit_price, total_price) "
            "VALUES ($1, $2, $3, $4, $5)",
            presale["id"],
            product_id,
            quantity,
            unit_price,
            (quantity * unit_price).quantize(Decimal("0.01")),
        )
    return presale


# What an employee may do by default (contract 2.5), as the API writes it.
EMPLOYEE_DEFAULTS = {
    "modules": {
        "products": True,
        "customers": True,
        "reports": False,
        "paymentMethods": False,
        "userManagement": False,
    },
    "presales": {"canCreate": True, "canViewOwn": True, "canViewAll": False},
}

# The keys of a product as the API writes it.
PRODUCT_KEYS = {
    "id",
    "code",
    "name",
    "unit",
    "description",
    "stock",
    "purchasePrice",
    "salePrice",
    "saleType",
    "createdAt",
    "updatedAt",
}
