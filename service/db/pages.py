"""One page of a list and its total, in one round trip.

List queries carry `COUNT(*) OVER() AS total_count`; only a page past the end (no row to carry the
count) needs a second, count-only query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from pypika import Order
from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika.analytics import Count
from pypika.terms import Criterion, Field, Star

from service.db.sql import Params, Statement


def page_statement(p: Params, table: Table, columns: Sequence[Any], where: list[Criterion], sort: Field,
                   descending: bool, limit: int, offset: int) -> Statement:
    """One page of a single-table list, sorted (id breaks ties) and counted with COUNT(*) OVER()."""
    order = Order.desc if descending else Order.asc
    query = (
        Query.from_(table)
        .select(*columns, Count(Star()).over().as_("total_count"))
        .where(Criterion.all(where))
        .orderby(sort, order=order)
        .orderby(table.id, order=order)
        .limit(p(limit))
        .offset(p(offset))
    )
    return p.statement(query)


def count_statement(p: Params, table: Table, where: list[Criterion]) -> Statement:
    """The total alone, for a page past the end (where the window count has no row to ride on)."""
    return p.statement(Query.from_(table).select(Count(Star())).where(Criterion.all(where)))


async def fetch_page(conn: asyncpg.Connection, page: Statement, count: Callable[[], Statement],
                     page_number: int) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(*page)
    if rows:
        return rows, rows[0]["total_count"]
    if page_number == 1:
        return rows, 0
    return rows, await conn.fetchval(*count())
