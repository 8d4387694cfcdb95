"""`flowcrm seed`: realistic, valid and idempotent demo data."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg

from service.customers.cpf import normalise_cpf
from service.db.pool import init_connection
from service.seed import seed


async def test_seed_loads_valid_data_in_every_status_and_is_idempotent(db: asyncpg.Connection) -> None:
    await init_connection(db)
    first = await seed(db, customers=40, products=12, presales=25)
    assert first == {"customers": 40, "products": 12, "presales": 25}

    cpfs = [row["cpf"] for row in await db.fetch("SELECT cpf FROM customers")]
    assert all(normalise_cpf(cpf) == cpf for cpf in cpfs)
    statuses = {row["status"] for row in await db.fetch("SELECT DISTINCT status FROM presales")}
    assert statuses == {"draft", "pending", "approved", "cancelled", "converted"}
    units = {row["unit"] for row in await db.fetch("SELECT DISTINCT unit FROM products")}
    assert {"kg", "un", "l", "g", "pc"} <= units
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments") > 0  # conversions deducted stock
    assert await db.fetchval("SELECT count(*) FROM products WHERE stock < 0") == 0
    wrong_totals = await db.fetchval(
        "SELECT count(*) FROM presales p WHERE p.total <> GREATEST(0, (SELECT sum(total_price) FROM presale_items i "
        "WHERE i.presale_id = p.id) - p.discount)"
    )
    assert wrong_totals == 0

    stock_before = await db.fetchval("SELECT sum(stock) FROM products")
    assert await seed(db, customers=40, products=12, presales=25) == {"customers": 0, "products": 0, "presales": 0}
    assert await db.fetchval("SELECT count(*) FROM presales") == 25
    assert await db.fetchval("SELECT sum(stock) FROM products") == stock_before


def test_seed_command(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "service.cli", "seed", "--customers", "10", "--products", "5", "--presales", "5"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "customers 10, products 5, presales 5" in result.stdout


async def test_seed_counts_only_the_pre_sales_it_created(db: asyncpg.Connection) -> None:
    await init_connection(db)
    await seed(db, customers=10, products=4, presales=0)
    # Only the first product has stock: pre-sales that pick another one are refused (INSUFFICIENT_STOCK).
    await db.execute("UPDATE products SET stock = CASE WHEN code = 'DEMO-00001' THEN 100000 ELSE 0 END")
    counts = await seed(db, customers=10, products=4, presales=30)
    in_database = await db.fetchval("SELECT count(*) FROM presales")
    assert counts["presales"] == in_database
    assert 0 < in_database < 30  # some were refused, some created: the count tells them apart
