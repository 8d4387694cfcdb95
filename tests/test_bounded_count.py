"""List totals are counted up to a bound (service/db/pages.py); past it they are the planner's estimate,
flagged `totalExact: false`, so a list page costs the same at 10,000 and at 1,000,000 rows. A whole list of
customers, products or pre-sales is not counted: its total is the row count PostgreSQL keeps, exact at any size
(tests/test_row_counts.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from service.customers.queries import count as customers_count
from service.customers.schemas import CustomerListQuery
from service.db import pages
from service.products import queries as product_queries
from service.products.schemas import ProductListQuery
from service.seed import customer_rows, insert_rows
from tests.factories import create_customer, create_product


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(pages, "EXACT_COUNT_LIMIT", 20)  # the test server runs in this process
    monkeypatch.setattr(pages, "FILTERED_COUNT_LIMIT", 10)
    return 20


async def pagination(client: httpx.AsyncClient, headers: dict, path: str = "/api/customers", **params: object) -> dict:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["pagination"]


async def test_filtered_totals_past_the_bound_are_estimates_and_say_so(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, bound: int
) -> None:
    for n in range(60):
        await create_customer(db, name=f"{'Silva' if n % 2 else 'Souza'} {n:02d}")
    await db.execute("ANALYZE customers")  # the estimate is the planner's: 60 rows after ANALYZE

    everyone = await pagination(client, admin_headers, page=1, limit=10)  # the kept count: exact past the bound
    assert everyone == {
        "total": 60,
        "page": 1,
        "limit": 10,
        "totalPages": 6,
        "hasNext": True,
        "hasPrev": False,
        "totalExact": True,
    }
    silvas = await pagination(client, admin_headers, search="silva", page=1, limit=10)
    assert silvas["totalExact"] is False and silvas["total"] > 10  # 30 match: more than a filter's bound
    assert silvas["hasNext"] is True

    # Under the bound the count is exact; on a last page the page itself tells the exact total.
    assert await pagination(client, admin_headers, name="silva 1", limit=5) == {
        "total": 5,
        "page": 1,
        "limit": 5,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    assert await pagination(client, admin_headers, name="souza 1", limit=2) == {
        "total": 5,
        "page": 1,
        "limit": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": False,
        "totalExact": True,
    }
    last = await pagination(client, admin_headers, page=7, limit=9)  # rows 55-60
    assert last["total"] == 60 and last["totalExact"] is True and last["hasNext"] is False
    past_the_end = await pagination(client, admin_headers, page=50, limit=10)
    assert past_the_end["total"] == 60 and past_the_end["totalExact"] is True  # the kept count
    past_the_end = await pagination(client, admin_headers, search="silva", page=50, limit=10)
    assert past_the_end["total"] > 10 and past_the_end["totalExact"] is False  # counted past the filter's bound


# The lists that join (pre-sales with their customer, stock history with its product, the audit log) count the
# same way: 30 rows each, one more filtered by a criterion of the joined table or the table itself. The whole
# pre-sales list has a kept count (exact); the others count up to the bound, then estimate.
JOINED_LISTS = {
    "/api/presales": ("presales", {"customerName": "first"}, True),
    "/api/stock-adjustments": ("stock_adjustments", {"productCode": "first"}, False),
    "/api/audit-logs": ("audit_logs", {"resource": "first"}, False),
}


async def fill_joined_lists(db: asyncpg.Connection) -> None:
    customer = await create_customer(db, name="First Customer")
    other = await create_customer(db, name="Second Customer")
    product = await create_product(db, code="FIRST")
    await db.execute(
        "INSERT INTO presales (customer_id, status, total)"
        " SELECT CASE WHEN n <= 5 THEN $1::uuid ELSE $2::uuid END, 'pending', 0"
        " FROM generate_series(1, 30) AS n",
        customer["id"],
        other["id"],
    )
    other_product = await create_product(db, code="SECOND")
    await db.execute(
        "INSERT INTO stock_adjustments (product_id, adjustment_type, quantity, previous_stock,"
        " new_stock, reason, user_name)"
        " SELECT CASE WHEN n <= 5 THEN $1::uuid ELSE $2::uuid END, 'add', 1, 0, 1, 'Recount', 'tester'"
        " FROM generate_series(1, 30) AS n",
        product["id"],
        other_product["id"],
    )
    await db.execute("DELETE FROM audit_logs")
    await db.execute(
        "INSERT INTO audit_logs (user_name, action, resource) SELECT 'tester', 'create',"
        " CASE WHEN n <= 5 THEN 'first' ELSE 'other' END FROM generate_series(1, 30) AS n"
    )
    await db.execute("ANALYZE presales, customers, stock_adjustments, products, audit_logs")


@pytest.mark.parametrize("path", JOINED_LISTS)
async def test_joined_lists_count_up_to_the_bound_too(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, bound: int, path: str
) -> None:
    await fill_joined_lists(db)
    table, filtered, kept = JOINED_LISTS[path]
    rows = await db.fetchval(f"SELECT count(*) FROM {table}")
    assert rows == 30

    whole = await pagination(client, admin_headers, path, page=1, limit=10)  # 30 rows: past the bound of 20
    if kept:
        assert whole["totalExact"] is True and whole["total"] == 30 and whole["hasNext"] is True
    else:
        assert whole["totalExact"] is False and whole["total"] >= 11 and whole["hasNext"] is True
    assert await pagination(client, admin_headers, path, page=1, limit=2, **filtered) == {
        "total": 5,
        "page": 1,
        "limit": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": False,
        "totalExact": True,
    }
    last = await pagination(client, admin_headers, path, page=4, limit=8)  # rows 25-30: the page tells the total
    assert last == {
        "total": 30,
        "page": 4,
        "limit": 8,
        "totalPages": 4,
        "hasNext": False,
        "hasPrev": True,
        "totalExact": True,
    }


async def sequential_scans(db: asyncpg.Connection, table: str) -> int:
    await db.execute("SELECT pg_stat_force_next_flush()")  # this session's counters, flushed once it is idle
    return await db.fetchval("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1", table)


async def test_a_search_count_is_planned_for_its_pattern(db: asyncpg.Connection) -> None:
    """A prepared statement soon runs on a generic plan, made without its values: for a search's count, a
    sequential scan matching every row (6x the trigram index's cost at 10,000 customers). `count_rows` plans a
    filtered count for its values, however often the same statement has run."""
    await insert_rows(db, "customers", customer_rows(10_000), 10_000, "customers")
    await db.execute("VACUUM ANALYZE customers")  # as autovacuum would have
    statements = customers_count(CustomerListQuery.from_query({"search": "silva"}))
    expected = await db.fetchval(*statements.count)

    async def scans(count: Callable[[], Awaitable[int]]) -> int:
        before = await sequential_scans(db, "customers")
        for _ in range(10):
            assert await count() == expected
        return await sequential_scans(db, "customers") - before

    assert await scans(lambda: db.fetchval(*statements.count)) > 0  # the generic plan this guards against
    assert await scans(lambda: pages.count_rows(db, statements)) == 0
    assert not db.is_in_transaction()
    assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"  # nothing left on the session
    async with db.transaction():  # inside a caller's transaction the setting lasts until its end
        assert await pages.count_rows(db, statements) == expected
        assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "force_custom_plan"
    assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"


async def test_a_customer_search_is_counted_through_its_indexes_whatever_the_statistics(
    db: asyncpg.Connection,
) -> None:
    """On 60 customers a sequential scan is the planner's choice for any pattern (as it was, on some loads, for
    'silva' at 10,000): the customers' counts go through the trigram indexes anyway, the same plan every time."""
    for n in range(60):
        await create_customer(db, name=f"{'Silva' if n % 2 else 'Souza'} {n:02d}")
    await db.execute("VACUUM ANALYZE customers")
    for query in ({"search": "silva"}, {"name": "souza"}, {"email": "silva"}, {"cpf": "123"}):
        statements = customers_count(CustomerListQuery.from_query(query))
        assert statements.by_index
        expected = await db.fetchval(*statements.count)
        before = await sequential_scans(db, "customers")
        assert await pages.count_rows(db, statements) == expected
        assert await sequential_scans(db, "customers") == before, query
    assert await db.fetchval("SELECT current_setting('enable_seqscan')") == "on"  # nothing left on the session


async def test_a_failed_filtered_count_leaves_the_connection_as_it_found_it(db: asyncpg.Connection) -> None:
    """A count that fails (here: cancelled by statement_timeout) ends its own transaction and its setting, so the
    pooled connection serves the next request normally."""
    slow = pages.BoundedCount(
        ("SELECT count(*) FROM pg_sleep($1::float8)", 1.0), ("EXPLAIN SELECT 1",), 10, filtered=True
    )
    await db.execute("SET statement_timeout = 50")
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pages.count_rows(db, slow)
    finally:
        await db.execute("RESET statement_timeout")
    assert not db.is_in_transaction()
    assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"


async def test_a_product_search_reads_its_page_and_count_through_the_trigram_indexes(db: asyncpg.Connection) -> None:
    """At 60 products the planner would read the whole table for `lower(...) LIKE '%arroz%'` on code, name and
    description; the list reads both its page and its count through their trigram indexes, and leaves nothing
    set on the connection."""
    for n in range(60):
        await create_product(db, name=f"{'Arroz' if n % 3 == 0 else 'Feijão'} {n:02d}", description=f"Pacote {n}")
    await db.execute("VACUUM ANALYZE products")
    q = ProductListQuery.from_query({"search": "arroz", "limit": "5"})  # 20 match: a full page, then the count
    before = await sequential_scans(db, "products")
    rows, total = await pages.fetch_page(db, product_queries.page(q), lambda: product_queries.count(q), q)
    assert len(rows) == 5 and total == pages.Total(20)
    assert await sequential_scans(db, "products") == before
    assert not db.is_in_transaction()
    assert await db.fetchval("SELECT current_setting('enable_seqscan')") == "on"
    assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
