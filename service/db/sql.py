"""Helpers for building SQL with PyPika: numbered placeholders, never values pasted into SQL text."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from typing import Any

from pypika import Parameter, Table
from pypika import PostgreSQLQuery as Query
from pypika.enums import Comparator
from pypika.queries import QueryBuilder
from pypika.functions import Cast
from pypika.terms import BasicCriterion, Criterion, Field, Function, Term, ValueWrapper
from pypika.utils import format_alias_sql

# (sql, *values): ready for `conn.fetch(*statement)`.
Statement = tuple[Any, ...]


class Params:
    """Collects bind values and hands out `$1`, `$2` ... placeholders in the order they are used."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> Parameter:
        self.values.append(value)
        return Parameter(f"${len(self.values)}")

    def statement(self, query: QueryBuilder) -> Statement:
        return (query.get_sql(), *self.values)


class FixedStatement:
    """A statement whose SQL text never changes, rendered once at import (PyPika is too slow to rebuild hot
    statements on every request). `build` gets a Params and calls it with a NAME for each value; a call
    then passes the values by those names: `GET_CUSTOMER(id=...)`."""

    def __init__(self, build: Callable[[Params], QueryBuilder]) -> None:
        names = Params()
        self.sql = build(names).get_sql()
        self.names: tuple[str, ...] = tuple(names.values)

    def __call__(self, **values: Any) -> Statement:
        return (self.sql, *(values[name] for name in self.names))


class StatementTexts:
    """SQL texts kept by a shape key, for statements whose text depends on which conditions a request sets and how
    it sorts, never on the values (those are placeholders): PyPika renders each shape once. Bounded: a list has a
    few dozen shapes; past `limit` the texts are dropped and written again."""

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


class RenderedOnce(Term):
    """A constant expression (no parameters inside) rendered to SQL the first time a statement needs it, then
    reused: PyPika took ~1 ms to write the pre-sale json into every list page's statement, the same text each
    time. The text depends only on how the enclosing statement renders it (namespaces, quoting)."""

    def __init__(self, term: Term, alias: str | None = None) -> None:
        super().__init__(alias)
        self.term = term
        self.rendered: dict[tuple[Any, ...], str] = {}  # shared by the copies `as_` makes

    def get_sql(self, with_alias: bool = False, with_namespace: bool = False, quote_char: str | None = None,
                dialect: Any = None, **kwargs: Any) -> str:
        key = (with_namespace, quote_char, dialect)
        sql = self.rendered.get(key)
        if sql is None:
            sql = self.rendered[key] = self.term.get_sql(with_namespace=with_namespace, quote_char=quote_char,
                                                         dialect=dialect)
        return format_alias_sql(sql, self.alias, quote_char=quote_char, **kwargs) if with_alias else sql


# For json that PostgreSQL writes ready for the wire (json_build_object), in the formats the response models
# write. Timestamps as service.http.schemas.UtcDatetime: stored in UTC without zone, milliseconds (truncated, as
# Python's isoformat does), "Z".
WIRE_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'


def wire_timestamp(term: Term) -> Function:
    return Function("to_char", term, ValueWrapper(WIRE_TIMESTAMP))


def wire_decimal(term: Term) -> Term:
    """A numeric(p, s) column as the contract's decimal string: its text has exactly s decimals ("19.90",
    "2.000"), the format of the money, quantity and percentage strings of the response models."""
    return Cast(term, "text")


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


class RowWrites:
    """INSERT, UPDATE and DELETE of one row of `table` (by id), each returning `returning`. Column names come
    from our models, never from input. The text of each set of columns is rendered once (StatementTexts):
    PyPika took ~150 µs to write one of these statements, a sixth of a create's CPU."""

    def __init__(self, table: Table, returning: Sequence[Any]) -> None:
        self.table = table
        self.returning = tuple(returning)
        self.texts = StatementTexts()

    def insert(self, values: dict[str, Any]) -> Statement:
        p = Params()
        placeholders = [p(value) for value in values.values()]
        return self.texts.statement(p, ("insert", *values), lambda: (
            Query.into(self.table).columns(*values).insert(*placeholders).returning(*self.returning)))

    def update(self, row_id: Any, values: dict[str, Any], *,
               also: Callable[[Params], list[Criterion]] | None = None) -> Statement:
        """The sent columns; `also` adds conditions to the WHERE (such a statement is rendered every time: its
        text depends on the values it is given)."""
        p = Params()
        sets = [(self.table.field(column), p(value)) for column, value in values.items()]
        where = [self.table.id == p(row_id)]

        def build() -> QueryBuilder:
            query = Query.update(self.table)
            for field, placeholder in sets:
                query = query.set(field, placeholder)
            return query.where(Criterion.all(where)).returning(*self.returning)

        if also is not None:
            where += also(p)
            return p.statement(build())
        return self.texts.statement(p, ("update", *values), build)

    def delete(self, row_id: Any) -> Statement:
        """Returns the id of the row it deleted (none: there was no such row)."""
        p = Params()
        where = self.table.id == p(row_id)
        return self.texts.statement(p, "delete", lambda: (
            Query.from_(self.table).delete().where(where).returning(self.table.id)))


class RowsInsert:
    """A multi-row INSERT of `columns` from dicts, plus `computed` columns whose value PostgreSQL gives each row
    (such as clock_timestamp()); its text is kept per number of rows."""

    def __init__(self, table: Table, columns: Sequence[str], computed: dict[str, Term] | None = None) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.computed = dict(computed or {})
        self.texts = StatementTexts()

    def __call__(self, rows: Sequence[dict[str, Any]]) -> Statement:
        p = Params()
        placeholders = [[p(row[column]) for column in self.columns] for row in rows]

        def build() -> QueryBuilder:
            query = Query.into(self.table).columns(*self.columns, *self.computed)
            for row in placeholders:
                query = query.insert(*row, *self.computed.values())
            return query

        return self.texts.statement(p, len(rows), build)


class _PgMatching(Comparator):
    regex = " ~ "  # PyPika's own `regex` renders MySQL's REGEX


def matches(column: Term, pattern: Parameter) -> Criterion:
    """`column ~ pattern` (a PostgreSQL regular expression match)."""
    return BasicCriterion(_PgMatching.regex, column, pattern)


def advisory_xact_lock(key: int) -> Statement:
    """Held until the transaction ends (transaction-level: safe behind PgBouncer transaction pooling)."""
    p = Params()
    return p.statement(Query.select(Function("pg_advisory_xact_lock", p(key))))
