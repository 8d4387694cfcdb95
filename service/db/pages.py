"""One page of a list and its total.

Every list reads its page through the sort index with LIMIT/OFFSET and counts separately, and only when the
page itself cannot tell: a window count (`COUNT(*) OVER()`) would make PostgreSQL read and sort every matching
row before taking the top N (measured: the customers page was bound by it at 10,000 rows).

The separate count is bounded, so its cost does not grow with the table: it stops after 10,000 rows of a
whole table (small businesses see exact totals) or 1,000 matches of a search or filter (each row on the way is
pattern-matched: counting 10,000 matches of a common name cost ~45 ms at 1,000,000 customers). Past the bound
the total is PostgreSQL's planner estimate for the same conditions (never below what the page or the count
saw) and the page says so (`pagination.totalExact: false`); see bench/README.md, "Scale".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

import asyncpg
from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika.analytics import Count
from pypika.queries import QueryBuilder
from pypika.terms import Criterion, Star

from service.db.sql import Params, Statement

EXACT_COUNT_LIMIT = 10_000  # a whole table (no filter): an index-only count, ~1 ms at the bound
FILTERED_COUNT_LIMIT = 1_000  # a search or filter: every row on the way is pattern-matched, ~4 ms at the bound


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool = True


class BoundedCount(NamedTuple):
    count: Statement  # the matching rows, counted up to limit + 1
    estimate: Statement  # EXPLAIN of the same conditions: the planner's row estimate
    limit: int


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


def count_limit(filtered: bool) -> int:
    return FILTERED_COUNT_LIMIT if filtered else EXACT_COUNT_LIMIT


def count_statement(p: Params, matching: QueryBuilder, *, filtered: bool) -> BoundedCount:
    """The number of rows a list's FROM, joins and WHERE (`matching`, nothing selected yet) select: exact up to
    a limit (lower for a search or filter), else estimated."""
    limit = count_limit(filtered)
    matching = matching.select(1)
    estimate = p.statement(matching)
    # PyPika cannot write EXPLAIN: a fixed prefix to the statement it rendered (its values stay parameters).
    estimate = ("EXPLAIN (FORMAT JSON) " + estimate[0], *estimate[1:])
    bounded = Query.from_(matching.limit(p(limit + 1))).select(Count(Star()))
    return BoundedCount(p.statement(bounded), estimate, limit)


Q = TypeVar("Q", bound=SortedPageRequest)


SHAPES_KEPT = 512  # distinct statement texts a list keeps; its shapes are a few dozen (filters set x sort)


def single_table_list(table: Table, columns: Sequence[Any], filters: Callable[[Q, Params], list[Criterion]]
                      ) -> tuple[Callable[[Q], Statement], Callable[[Q], BoundedCount]]:
    """The `page(q)` and `count(q)` builders of a list over one table, its conditions from `filters(q, p)`.

    The statements' text depends on the shape of the request, not its values: the SQL of its conditions (with
    placeholders, values never appear in it) and its sort. PyPika writes each shape once; rendering the whole
    statement on every request was a third of a customers page's CPU.
    """
    texts: dict[tuple[Any, ...], Any] = {}

    def conditions(q: Q) -> tuple[Params, list[Criterion], tuple[Any, ...]]:
        p = Params()
        where = filters(q, p)
        # Placeholders are numbered in the order values were given: their count is part of the shape.
        shape = (Criterion.all(where).get_sql(quote_char='"', subquery=True) if where else "", len(p.values))
        return p, where, shape

    def text(key: tuple[Any, ...], render: Callable[[], Any]) -> Any:
        if key not in texts:
            if len(texts) >= SHAPES_KEPT:
                texts.clear()
            texts[key] = render()
        return texts[key]

    def page(q: Q) -> Statement:
        p, where, shape = conditions(q)
        values = (*p.values, q.limit, q.offset)  # page_statement adds limit and offset last
        sql = text(("page", shape, q.sort_by, q.sort_order), lambda: page_statement(p, table, columns, where, q)[0])
        return (sql, *values)

    def count(q: Q) -> BoundedCount:
        p, where, shape = conditions(q)
        values, limit = tuple(p.values), count_limit(bool(where))

        def render() -> tuple[str, str]:
            counted = count_statement(p, Query.from_(table).where(Criterion.all(where)), filtered=bool(where))
            return counted.count[0], counted.estimate[0]

        count_sql, estimate_sql = text(("count", shape), render)  # the limit is a value, not part of the text
        return BoundedCount((count_sql, *values, limit + 1), (estimate_sql, *values), limit)

    return page, count


async def fetch_page(conn: asyncpg.Connection, page: Statement, count: Callable[[], BoundedCount],
                     q: PageRequest) -> tuple[list[asyncpg.Record], Total]:
    """The page's rows and the list's total; `count` builds the count statements only when they are needed."""
    rows = await conn.fetch(*page)
    if 0 < len(rows) < q.limit or (not rows and q.page == 1):
        return rows, Total(q.offset + len(rows))  # the last page: the total is known without counting
    statements = count()
    counted = await conn.fetchval(*statements.count)
    if counted <= statements.limit:
        return rows, Total(counted)
    plan = json.loads(await conn.fetchval(*statements.estimate))
    # Rows known to exist: through this page, and one more after a full page (there may be a next one).
    seen = q.offset + len(rows) + (1 if len(rows) == q.limit else 0) if rows else 0
    return rows, Total(max(int(plan[0]["Plan"]["Plan Rows"]), counted, seen), exact=False)
