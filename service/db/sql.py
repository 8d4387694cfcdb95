"""Helpers for building SQL with PyPika: numbered placeholders, never values pasted into SQL text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pypika import Parameter
from pypika.queries import QueryBuilder
from pypika.terms import Criterion, Field

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


def like_pattern(term: str) -> str:
    """A case-insensitive substring pattern for LIKE, with the user's own wildcards escaped."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def date_range(column: Field, start: date | datetime | None, end: date | datetime | None, p: Params) -> list[Criterion]:
    """createdAt-style bounds, inclusive; a date-only end includes its whole day (decision 10.11)."""
    from service.http.dates import lower_bound, upper_bound

    criteria: list[Criterion] = []
    if start is not None:
        criteria.append(column >= p(lower_bound(start)))
    if end is not None:
        bound, inclusive = upper_bound(end)
        criteria.append(column <= p(bound) if inclusive else column < p(bound))
    return criteria
