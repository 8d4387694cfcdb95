"""Helpers for building SQL with PyPika: numbered placeholders, never values pasted into SQL text."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from typing import Any

from pypika import Order, Parameter, Table
from pypika import PostgreSQLQuery as Query
from pypika.functions import Cast
from pypika.queries import QueryBuilder
from pypika.terms import AggregateFunction, Criterion, Field, Function, Term, ValueWrapper

# (sql, *values): ready for `conn.fetch(*statement)`.
Statement = tuple[Any, ...]


class _Positional:
    """`P[1]` is the placeholder `$1`: for statements written once, at import, whose values are passed by
    position (`conn.fetchrow(queries.GET, customer_id)`)."""

    def __getitem__(self, number: int) -> Parameter:
        return Parameter(f"${number}")


P = _Positional()


def placeholders(count: int, start: int = 1) -> list[Parameter]:
    """`$start` and the next placeholders, `count` of them."""
    return [P[number] for number in range(start, start + count)]


class Params:
    """For statements whose shape depends on the request (list filters and sorts, the columns an update sends):
    collects bind values and hands out `$1`, `$2` ... placeholders in the order they are used."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> Parameter:
        self.values.append(value)
        return Parameter(f"${len(self.values)}")

    def statement(self, query: QueryBuilder) -> Statement:
        return (query.get_sql(), *self.values)


class StatementTexts:
    """The one cache of statement texts, for the list pages and counts (service/db/pages.py): kept by a shape key
    (which conditions a request sets and how it sorts, never the values: those are placeholders), so PyPika
    renders each shape once; rendering the whole statement on every request was a third of a customers page's CPU.
    Bounded: a list has a few dozen shapes; past `limit` the texts are dropped and written again."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self.texts: dict[Hashable, str] = {}

    def statement(self, p: Params, key: Hashable, build: Callable[[], QueryBuilder]) -> Statement:
        """Like `p.statement(build())`, with the text kept under `key`: `build` runs only for a new shape, so it
        must not give `p` values (give them before, and use the placeholders inside)."""
        sql = self.texts.get(key)
        if sql is None:
            if len(self.texts) >= self.limit:
                self.texts.clear()
            sql = self.texts[key] = build().get_sql()
        return (sql, *p.values)


# Columns read as the text the response carries, in the formats the response models write (for the pre-sales,
# whose rows go to the wire as they come: service/presales/queries.py).
# Timestamps as service.http.schemas.UtcDatetime: stored in UTC without zone, milliseconds (truncated, as
# Python's isoformat does), "Z".
WIRE_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'


def wire_timestamp(term: Term) -> Function:
    return Function("to_char", term, ValueWrapper(WIRE_TIMESTAMP))


def wire_text(term: Term) -> Term:
    """A column's text: a numeric(p, s) has exactly s decimals ("19.90", "2.000"), as the money, quantity and
    percentage strings of the response models; a uuid its canonical form. Read as text, asyncpg builds no Decimal
    or UUID object that the JSON encoder would turn back into the same string."""
    return Cast(term, "text")


def named(fields: dict[str, Term]) -> list[Term]:
    """`fields` (wire key -> column) as select or RETURNING terms named by their keys: a row is then the wire
    object (`dict(row)`)."""
    return [term.as_(key) for key, term in fields.items()]


def json_object(**fields: Term) -> Function:
    """json_build_object('key', value, ...); keys are constants of the queries modules, never request values."""
    args: list[Any] = []
    for key, value in fields.items():
        args.extend((ValueWrapper(key), value))
    return Function("json_build_object", *args)


class JsonAgg(AggregateFunction):  # type: ignore[misc]  # PyPika's classes are Any to mypy (pyproject.toml)
    """json_agg(expr ORDER BY t1, t2 ...): the aggregate's input order stated, not left to the plan."""

    def __init__(self, term: Term, *order_by: tuple[Term, Order]) -> None:
        super().__init__("json_agg", term)
        self.order_by = order_by

    def get_special_params_sql(self, **kwargs: Any) -> str:
        # PyPika's hook for an aggregate's trailing clause: only PyPika-rendered terms, no values.
        return " ORDER BY " + ",".join(term.get_sql(**kwargs) + " " + order.value for term, order in self.order_by)


def like_pattern(term: str) -> str:
    """A case-insensitive substring pattern for LIKE, with the user's own wildcards escaped."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def date_range(column: Field, start: date | datetime | None, end: date | datetime | None, p: Params) -> list[Criterion]:
    """createdAt-style bounds, inclusive; a date-only end includes its whole day (decision 10.11)."""
    from service.dates import lower_bound, upper_bound

    criteria: list[Criterion] = []
    if start is not None:
        criteria.append(column >= p(lower_bound(start)))
    if end is not None:
        criteria.append(column <= p(upper_bound(end)))
    return criteria


def update_row(
    table: Table,
    row_id: Any,
    values: dict[str, Any],
    returning: Sequence[Any],
    also: Callable[[Params], list[Criterion]] | None = None,
) -> Statement:
    """UPDATE of the sent columns (names from our models, never from input) of one row by id, returning
    `returning`; `also` adds conditions to the WHERE. Built per call: its shape is the request's."""
    p = Params()
    query = Query.update(table)
    for column, value in values.items():
        query = query.set(table.field(column), p(value))
    where = [table.id == p(row_id)] + (also(p) if also is not None else [])
    return p.statement(query.where(Criterion.all(where)).returning(*returning))


def insert_sql(
    table: Table, columns: Sequence[str], returning: Sequence[Any] = (), computed: dict[str, Term] | None = None
) -> str:
    """The INSERT of one row of a fixed set of columns ($1, $2 ... in `columns` order), plus `computed` columns
    whose value PostgreSQL gives (such as clock_timestamp()): for a module constant."""
    computed = computed or {}
    query = Query.into(table).columns(*columns, *computed).insert(*placeholders(len(columns)), *computed.values())
    sql: str = query.returning(*returning).get_sql() if returning else query.get_sql()
    return sql


def delete_sql(table: Table) -> str:
    """The DELETE of one row by id ($1), returning its id (none: there was no such row): for a module constant."""
    sql: str = Query.from_(table).delete().where(table.id == P[1]).returning(table.id).get_sql()
    return sql


# Held until the transaction ends (transaction-level: safe behind PgBouncer transaction pooling). $1: the key.
ADVISORY_XACT_LOCK = Query.select(Function("pg_advisory_xact_lock", P[1])).get_sql()
