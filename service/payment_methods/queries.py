"""Payment methods' statements: constants written once at import, and the builders of the list and of an
update. Each function returns (sql, *params); no I/O here."""

from __future__ import annotations

import uuid
from typing import Any

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn
from pypika.terms import Criterion

from service.db.pages import single_table_list
from service.db.sql import (
    ADVISORY_XACT_LOCK,
    P,
    Params,
    Statement,
    delete_sql,
    insert_sql,
    like_pattern,
    update_row,
)
from service.payment_methods.schemas import PaymentMethodListQuery

payment_methods = Table("payment_methods")

COLUMNS = (
    payment_methods.id,
    payment_methods.code,
    payment_methods.description,
    payment_methods.is_active,
    payment_methods.created_by,
    payment_methods.created_at,
    payment_methods.updated_at,
)
INSERT_COLUMNS = ("code", "description", "is_active", "created_by")

# One fixed key for pg_advisory_xact_lock: serialises the assignment of PM codes (any 64-bit value that no
# other feature uses; this is the ASCII of "PAYMCODE", products use "PRODCODE").
CODE_LOCK_KEY = 0x5041594D434F4445
GENERATED_CODE_PATTERN = "^PM[0-9]{4}$"


GET = Query.from_(payment_methods).select(*COLUMNS).where(payment_methods.id == P[1]).get_sql()
INSERT = insert_sql(payment_methods, INSERT_COLUMNS, returning=COLUMNS)
DELETE = delete_sql(payment_methods)
# Plain SQL: PyPika writes no PostgreSQL regular expression match (`~`). $1: GENERATED_CODE_PATTERN.
GENERATED_CODES = 'SELECT "code" FROM "payment_methods" WHERE "code" ~ $1 ORDER BY "code"'


def get(payment_method_id: uuid.UUID) -> Statement:
    return (GET, payment_method_id)


def _filters(q: PaymentMethodListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.search:
        term = p(like_pattern(q.search))
        where.append(fn.Lower(payment_methods.code).like(term) | fn.Lower(payment_methods.description).like(term))
    if q.is_active is not None:
        where.append(payment_methods.is_active == p(q.is_active))
    return where


page, count = single_table_list(payment_methods, COLUMNS, _filters)


def lock_codes() -> Statement:
    return (ADVISORY_XACT_LOCK, CODE_LOCK_KEY)


def generated_codes() -> Statement:
    """Every existing PM + 4 digits code, in order (same length and prefix: text order is numeric order)."""
    return (GENERATED_CODES, GENERATED_CODE_PATTERN)


def insert(values: dict[str, Any]) -> Statement:
    return (INSERT, *(values[column] for column in INSERT_COLUMNS))


def update(payment_method_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    """Sent fields only; updated_at is kept by the table's trigger."""
    return update_row(payment_methods, payment_method_id, values, COLUMNS)


def delete(payment_method_id: uuid.UUID) -> Statement:
    return (DELETE, payment_method_id)
