"""One page of a list and its total.

Single-table lists (customers, products, payment methods) read the page through the sort index with
LIMIT/OFFSET and count separately, and only when the page itself cannot tell: a window count would make
PostgreSQL read and sort every matching row before taking the top N (measured: the customers page was
bound by it at 10,000 rows). Lists that join (pre-sales, stock history, audit log) still carry
`COUNT(*) OVER() AS total_count` in their page query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import asyncpg
from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika.analytics import Count
from pypika.terms import Criterion, Star

from service.db.sql import Params, Statement


class PageRequest(Protocol):
    page: int
    limit: int

    @property
    def offset(self) -> int: ...


class SortedPageRequest(PageRequest, Protocol):
    SORT_COLUMNS: ClassVar[dict[str, str]]
    sort_by: str
    sort_order: str


def page_statement(p: Params, table: Table, columns: Sequence[Any], where: list[Criterion],
                   q: SortedPageRequest) -> Statement:
    """One page of a single-table list, sorted by the query's whitelisted column (id breaks ties)."""
    order = Order.desc if q.sort_order == "desc" else Order.asc
    query = (
        Query.from_(table)
        .select(*columns)
        .where(Criterion.all(where))
        .orderby(table.field(q.SORT_COLUMNS[q.sort_by]), order=order)
        .orderby(table.id, order=order)
        .limit(p(q.limit))
        .offset(p(q.offset))
    )
    return p.statement(query)


def count_statement(p: Params, table: Table, where: list[Criterion]) -> Statement:
    """The number of matching rows."""
    return p.statement(Query.from_(table).select(Count(Star())).where(Criterion.all(where)))


async def fetch_page(conn: asyncpg.Connection, page: Statement, count: Callable[[], Statement],
                     q: PageRequest) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(*page)
    if rows and "total_count" in rows[0].keys():
        return rows, rows[0]["total_count"]
    if 0 < len(rows) < q.limit or (not rows and q.page == 1):
        return rows, q.offset + len(rows)  # the last page: the total is known without counting
    return rows, await conn.fetchval(*count())
