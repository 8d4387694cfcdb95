"""The row counts PostgreSQL keeps for customers, products and pre-sales (migration 20261206000002), which the
whole lists report as their totals (service/db/pages.py): right after every kind of write, whoever makes it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import httpx

from service.db.migrations import MigrationRunner
from service.db.pages import COUNTED_TABLES, EXACT_COUNT_LIMIT, ROW_COUNT
from service.seed import customer_rows, insert_rows
from tests.factories import create_customer, create_presale, create_product
from tests.test_migrations import MIGRATIONS_DIR

MIGRATION = "20261206000002_row_counts.sql"


async def kept(db: asyncpg.Connection, table: str) -> int:
    value: int = await db.fetchval(ROW_COUNT, table)
    return value


async def assert_kept_counts_are_exact(db: asyncpg.Connection) -> None:
    for table in sorted(COUNTED_TABLES):
        assert await kept(db, table) == await db.fetchval(f"SELECT count(*) FROM {table}"), table


async def total(client: httpx.AsyncClient, headers: dict, path: str) -> dict:
    response = await client.get(path, params={"page": 1, "limit": 1}, headers=headers)
    assert response.status_code == 200, response.text
    pagination: dict = response.json()["pagination"]
    return pagination


async def test_the_kept_counts_follow_every_kind_of_write(db: asyncpg.Connection) -> None:
    await assert_kept_counts_are_exact(db)
    customer = await create_customer(db)
    product = await create_product(db)
    await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("10.00"))])
    await assert_kept_counts_are_exact(db)

    # A multi-row insert that skips existing rows counts only those it inserted; COPY counts too.
    await insert_rows(db, "customers", customer_rows(30), 30, "customers")
    await insert_rows(db, "customers", customer_rows(40), 40, "customers")  # 30 already there: 10 more
    await db.copy_records_to_table(
        "customers",
        records=[(f"Copied {n}", f"copied{n}@example.com", "(11) 90000-0000", f"9000000000{n}") for n in range(5)],
        columns=["name", "email", "phone", "cpf"],
    )
    assert await kept(db, "customers") == 1 + 40 + 5
    await assert_kept_counts_are_exact(db)

    # A write that changes nothing, and one rolled back, leave the counts as they were.
    await db.execute("DELETE FROM products WHERE code = 'NO-SUCH-CODE'")
    async with db.transaction():
        await create_customer(db)
        assert await kept(db, "customers") == 47  # this transaction sees its own insert
        savepoint = db.transaction()
        await savepoint.start()
        await db.execute("DELETE FROM customers WHERE name LIKE 'Copied %'")
        assert await kept(db, "customers") == 42
        await savepoint.rollback()
    await assert_kept_counts_are_exact(db)
    try:
        async with db.transaction():
            await create_product(db)
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    await assert_kept_counts_are_exact(db)

    await db.execute("DELETE FROM presales WHERE customer_id = $1", customer["id"])
    await db.execute("DELETE FROM customers WHERE id = $1", customer["id"])
    assert await kept(db, "presales") == 0
    await assert_kept_counts_are_exact(db)

    await db.execute("TRUNCATE customers CASCADE")
    assert await kept(db, "customers") == 0
    await assert_kept_counts_are_exact(db)


async def test_concurrent_writers_all_count(database_url: str, db: asyncpg.Connection) -> None:
    """Sixteen connections inserting and deleting at once: each transaction adds to its backend's row, none lost."""

    async def writer(n: int) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for k in range(20):
                async with conn.transaction():
                    await create_customer(conn, name=f"Writer {n} {k}")
                    if k % 4 == 0:
                        await conn.execute("DELETE FROM customers WHERE name = $1", f"Writer {n} {k}")
        finally:
            await conn.close()

    await asyncio.gather(*(writer(n) for n in range(16)))
    assert await kept(db, "customers") == 16 * 15
    await assert_kept_counts_are_exact(db)
    assert await db.fetchval("SELECT count(*) FROM row_counts WHERE table_name = 'customers'") <= 64


async def test_whole_lists_report_the_kept_count_exactly_past_the_bound(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await insert_rows(db, "customers", customer_rows(EXACT_COUNT_LIMIT + 25), EXACT_COUNT_LIMIT + 25, "customers")
    assert await total(client, admin_headers, "/api/customers") == {
        "total": EXACT_COUNT_LIMIT + 25,
        "page": 1,
        "limit": 1,
        "totalPages": EXACT_COUNT_LIMIT + 25,
        "hasNext": True,
        "hasPrev": False,
        "totalExact": True,
    }
    # A change made outside the service shows in the next page's total.
    await db.execute("DELETE FROM customers WHERE id IN (SELECT id FROM customers LIMIT 7)")
    assert (await total(client, admin_headers, "/api/customers"))["total"] == EXACT_COUNT_LIMIT + 18
    product = {"name": "Arroz", "unit": "kg", "purchasePrice": "3.00", "salePrice": "5.00", "saleType": "weight"}
    response = await client.post("/api/products", json=product, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert (await total(client, admin_headers, "/api/products"))["total"] == 1


async def test_the_migration_counts_the_rows_already_there(empty_database_url: str) -> None:
    """Applied to a database that already holds rows (its down section, then up again), it starts from them."""
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    runner.up()
    while MIGRATION in runner.status().applied:  # down to just before it
        runner.rollback()
    conn = await asyncpg.connect(empty_database_url)
    try:
        await insert_rows(conn, "customers", customer_rows(12), 12, "customers")
        product = await create_product(conn)
        assert await conn.fetchval("SELECT to_regclass('row_counts')") is None
        assert MIGRATION in runner.up()
        assert await kept(conn, "customers") == 12
        assert await kept(conn, "products") == 1
        assert await kept(conn, "presales") == 0
        await conn.execute("DELETE FROM products WHERE id = $1", product["id"])
        await assert_kept_counts_are_exact(conn)
        assert await conn.fetchval("SELECT count(*) FROM row_counts WHERE table_name = 'presales'") == 0
    finally:
        await conn.close()
