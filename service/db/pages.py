"""One page of a list and its total.

Every list reads its page through the sort index with LIMIT/OFFSET and counts separately, and only when the
page itself cannot tell: a window count (`COUNT(*) OVER()`) would make PostgreSQL read and sort every matching
row before taking the top N (measured: the customers page was bound by it at 10,000 rows).

A whole list of customers, products or pre-sales is not counted at all: PostgreSQL keeps those tables' row
counts in `row_counts` at every insert, delete and truncate (migration 20261206000002), so the total is exact at
any size and costs one indexed read. Counting 10,000 customers was most of a customers page's cost.

Any other count is bounded, so its cost does not grow with the table: it stops after 10,000 rows of a whole
table (the audit log, stock history, users: small businesses see exact totals) or 1,000 matches of a search or
filter (each row on the way is pattern-matched: counting 10,000 matches of a common name cost ~45 ms at
1,000,000 customers). Past the bound the total is PostgreSQL's planner estimate for the same conditions (never
below what the page or the count saw) and the page says so (`pagination.totalExact: false`); see
bench/README.md, "Scale".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import asyncpg
from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.analytics import Count
from pypika.queries import QueryBuilder
from pypika.terms import Criterion, Star

from service.db.sql import P, Params, Statement, StatementTexts

EXACT_COUNT_LIMIT = 10_000  # a whole table (no filter): an index-only count, ~1 ms at the bound
FILTERED_COUNT_LIMIT = 1_000  # a search or filter: every row on the way is pattern-matched, ~4 ms at the bound


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool = True


# The tables whose row counts PostgreSQL keeps (migration 20261206000002), and how a whole table's is read.
COUNTED_TABLES = frozenset({"customers", "products", "presales"})
row_counts = Table("row_counts")
ROW_COUNT = (
    Query.from_(row_counts)
    .select(fn.Cast(fn.Coalesce(fn.Sum(row_counts.n), 0), "bigint"))
    .where(row_counts.table_name == P[1])
    .get_sql()
)


@dataclass(frozen=True)
class BoundedCount:
    count: Statement  # the matching rows, counted up to limit + 1 (or a kept row count: no limit)
    estimate: Statement | None  # EXPLAIN of the same conditions: the planner's row estimate (None: exact always)
    limit: int | None
    filtered: bool  # under conditions: planned for its values (see `planned_for_values`)
    by_index: bool = False  # every condition has an index: page and count read through them (`fetch_page`)


class PageRequest(Protocol):
    page: int
    limit: int

    @property
    def offset(self) -> int: ...


class SortedPageRequest(PageRequest, Protocol):
    SORT_COLUMNS: ClassVar[dict[str, str]]

    # Read-only, so that a query's narrower Literal fields match.
    @property
    def sort_by(self) -> str: ...

    @property
    def sort_order(self) -> str: ...


def shape(p: Params, where: list[Criterion], *, joined: bool = False) -> tuple[str, int]:
    """What a statement's text depends on in its conditions: their SQL (placeholders, never values; with the
    tables named when the statement joins several) and how many values were given (placeholders are numbered in
    that order)."""
    sql = Criterion.all(where).get_sql(quote_char='"', subquery=True, with_namespace=joined) if where else ""
    return (sql, len(p.values))


def _render(p: Params, build: Callable[[], QueryBuilder], texts: StatementTexts | None, key: Any) -> Statement:
    return texts.statement(p, key, build) if texts is not None else p.statement(build())


def page_statement(
    p: Params,
    table: Table,
    columns: Sequence[Any],
    where: list[Criterion],
    q: SortedPageRequest,
    texts: StatementTexts | None = None,
) -> Statement:
    """One page of a single-table list, sorted by the query's whitelisted column (id breaks ties); its text kept
    in `texts` by shape when given."""
    key = ("page", shape(p, where), q.sort_by, q.sort_order) if texts is not None else None
    order = Order.desc if q.sort_order == "desc" else Order.asc
    limit, offset = p(q.limit), p(q.offset)
    return _render(
        p,
        lambda: (
            Query.from_(table)
            .select(*columns)
            .where(Criterion.all(where))
            .orderby(table.field(q.SORT_COLUMNS[q.sort_by]), order=order)
            .orderby(table.id, order=order)
            .limit(limit)
            .offset(offset)
        ),
        texts,
        key,
    )


def count_statement(
    p: Params,
    source: Callable[[], QueryBuilder],
    where: list[Criterion],
    texts: StatementTexts | None = None,
    *,
    joined: bool = False,
    by_index: bool = False,
    kept: str | None = None,
) -> BoundedCount:
    """The number of rows a list's FROM and joins (`source()`, `joined` when it joins tables) give under `where`:
    exact up to a limit (lower for a search or filter), else estimated; with no condition, the `kept` count of
    the list's table when it has one (COUNTED_TABLES). Texts kept in `texts` by shape when given."""
    if not where and kept is not None:
        assert kept in COUNTED_TABLES, kept
        return BoundedCount((ROW_COUNT, kept), None, None, filtered=False)
    limit = FILTERED_COUNT_LIMIT if where else EXACT_COUNT_LIMIT
    conditions = shape(p, where, joined=joined) if texts is not None else None

    def matching() -> QueryBuilder:  # built only when its text is not kept yet
        return source().where(Criterion.all(where)).select(1)

    estimate = _render(p, matching, texts, ("estimate", conditions))
    # PyPika cannot write EXPLAIN: a fixed prefix to the statement it rendered (its values stay parameters).
    estimate = ("EXPLAIN (FORMAT JSON) " + estimate[0], *estimate[1:])
    bound = p(limit + 1)
    counted = _render(
        p, lambda: Query.from_(matching().limit(bound)).select(Count(Star())), texts, ("count", conditions)
    )
    return BoundedCount(counted, estimate, limit, filtered=bool(where), by_index=by_index and bool(where))


# After five executions of a prepared statement PostgreSQL may keep a generic plan, made without its values. For a
# search's count that plan was a sequential scan matching every row, as it cannot tell how selective a pattern
# is: 3.0 ms for 'silva' at 10,000 customers, against 0.5 ms with the trigram indexes that a plan for the pattern
# uses. A session setting (not a statement PyPika writes), scoped to a transaction of the count's own.
PLAN_FOR_VALUES = "SET LOCAL plan_cache_mode = force_custom_plan"
# Even planned for its pattern, a search's count flipped between the trigram indexes (~1 ms) and a sequential scan
# (~6x that) from one load of the same data to the next: the estimate of a pattern's matches comes from a 100-value
# histogram that each ANALYZE samples anew. A list whose every condition has an index counts through it.
THROUGH_INDEXES = "SET LOCAL enable_seqscan = off"


@asynccontextmanager
async def planned_for_values(conn: asyncpg.Connection, statements: BoundedCount) -> AsyncIterator[None]:
    """What runs inside is planned for its values (PLAN_FOR_VALUES) and, when every condition has an index, read
    through them (THROUGH_INDEXES): under conditions only, in a transaction of its own (two more round trips,
    against milliseconds of PostgreSQL's CPU for a search), or the caller's, until whose end the settings last."""
    if not statements.filtered:
        yield
        return
    own = not conn.is_in_transaction()
    settings = f"{PLAN_FOR_VALUES}; {THROUGH_INDEXES}" if statements.by_index else PLAN_FOR_VALUES
    await conn.execute(f"BEGIN; {settings}" if own else settings)
    try:
        yield
    finally:
        if own:
            await conn.execute("ROLLBACK")  # it only read


async def count_rows(conn: asyncpg.Connection, statements: BoundedCount) -> int:
    """The bounded count, planned for its values under conditions (`planned_for_values`)."""
    async with planned_for_values(conn, statements):
        counted: int = await conn.fetchval(*statements.count)
    return counted


Q = TypeVar("Q", bound=SortedPageRequest)


def single_table_list(
    table: Table,
    columns: Sequence[Any],
    filters: Callable[[Q, Params], list[Criterion]],
    *,
    by_index: bool = False,
    kept: str | None = None,
) -> tuple[Callable[[Q], Statement], Callable[[Q], BoundedCount]]:
    """The `page(q)` and `count(q)` builders of a list over one table, its conditions from `filters(q, p)`
    (`by_index`: each has an index, see THROUGH_INDEXES; `kept`: the table's name when its row count is kept).

    Their texts are kept by shape (`StatementTexts`): rendering the whole statement with PyPika on every request
    was a third of a customers page's CPU.
    """
    texts = StatementTexts()

    def page(q: Q) -> Statement:
        p = Params()
        return page_statement(p, table, columns, filters(q, p), q, texts)

    def count(q: Q) -> BoundedCount:
        p = Params()
        return count_statement(p, lambda: Query.from_(table), filters(q, p), texts, by_index=by_index, kept=kept)

    return page, count


async def fetch_wire_page(
    conn: asyncpg.Connection, page: Statement, count: Callable[[], BoundedCount], q: PageRequest
) -> tuple[list[dict[str, Any]], Total]:
    """`fetch_page` of a list whose columns are named by their wire keys (customers, products): each row as its
    wire object."""
    rows, total = await fetch_page(conn, page, count, q)
    return [dict(row) for row in rows], total


async def fetch_page(
    conn: asyncpg.Connection, page: Statement, count: Callable[[], BoundedCount], q: PageRequest
) -> tuple[list[asyncpg.Record], Total]:
    """The page's rows and the list's total (counted only when the page cannot tell it).

    Under conditions that all have an index (`by_index`) the page is read with the count's settings too:
    PostgreSQL prices lower() and LIKE far below what they cost, so at 1,000 products it read the whole table
    for a product search's page (~1.7 ms) rather than its three trigram indexes (~0.25 ms).
    """
    statements = count()
    async with planned_for_values(conn, statements) if statements.by_index else nullcontext():
        rows = await conn.fetch(*page)
        if 0 < len(rows) < q.limit or (not rows and q.page == 1):
            return rows, Total(q.offset + len(rows))  # the last page: the total is known without counting
        if statements.by_index:  # inside planned_for_values already
            counted: int = await conn.fetchval(*statements.count)
        else:
            counted = await count_rows(conn, statements)
        if statements.limit is None or counted <= statements.limit:
            return rows, Total(counted)
        assert statements.estimate is not None  # a bounded count has one
        plan = json.loads(await conn.fetchval(*statements.estimate))
    # Rows known to exist: through this page, and one more after a full page (there may be a next one).
    seen = q.offset + len(rows) + (1 if len(rows) == q.limit else 0) if rows else 0
    return rows, Total(max(int(plan[0]["Plan"]["Plan Rows"]), counted, seen), exact=False)
