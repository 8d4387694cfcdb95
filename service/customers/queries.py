"""Customers' statements: constants written once at import, and the list's builders. Each function returns
(sql, *params); no I/O here.

Every statement that gives customers back returns their wire fields (`wire_fields`): each column named by its
camelCase key and already the text the contract sends, so a row is the response object as it is (`dict(row)`):
neither asyncpg nor the service converts a value (the pre-sales read theirs the same way)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn
from pypika.terms import Criterion, Term

from service.customers.schemas import CustomerListQuery
from service.db.pages import single_table_list
from service.db.sql import (
    P,
    Params,
    Statement,
    delete_sql,
    insert_sql,
    like_pattern,
    named,
    update_row,
    wire_text,
    wire_timestamp,
)

customers = Table("customers")
# Reads name the table "c", so their columns are named "c"."id" ...: a bare "id" in ORDER BY would be the output
# column of that name, the id's text, sorted as text and not through the index.
c = Table("customers").as_("c")


def wire_fields(table: Table) -> dict[str, Term]:
    """CustomerOut's keys, in its order, and the columns of `table` (customers or an alias of it) they come from,
    as text. The pre-sales read their customer with them too."""
    return {
        "id": wire_text(table.id),
        "name": table.name,
        "email": table.email,
        "phone": table.phone,
        "cpf": table.cpf,
        "address": table.address,
        "createdAt": wire_timestamp(table.created_at),
        "updatedAt": wire_timestamp(table.updated_at),
    }


# The tables a page of the list reads (service/db/page_cache.py: a kept page is valid while they are unchanged).
LIST_READS = ("customers",)
COLUMNS = named(wire_fields(c))
RETURNED = named(wire_fields(customers))  # by INSERT, UPDATE: the same fields, of the bare table
INSERT_COLUMNS = ("name", "email", "phone", "cpf", "address")  # CustomerCreate's fields

GET = Query.from_(c).select(*COLUMNS).where(c.id == P[1]).get_sql()
INSERT = insert_sql(customers, INSERT_COLUMNS, returning=RETURNED)
DELETE = delete_sql(customers)


def get(customer_id: uuid.UUID) -> Statement:
    return (GET, customer_id)


def _filters(q: CustomerListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.search:
        term = p(like_pattern(q.search))
        matches = fn.Lower(c.name).like(term) | fn.Lower(c.email).like(term)
        digits = re.sub(r"\D", "", q.search)
        if digits:  # only a term with digits can match a CPF (the earlier backend matched everything)
            matches |= c.cpf.like(p(like_pattern(digits)))
        where.append(matches)
    if q.name:
        where.append(fn.Lower(c.name).like(p(like_pattern(q.name))))
    if q.email:
        where.append(fn.Lower(c.email).like(p(like_pattern(q.email))))
    if q.cpf is not None:
        where.append(c.cpf.like(p(like_pattern(re.sub(r"\D", "", q.cpf)))))
    return where


# Every filter above has a trigram index (name, email, cpf): the searches' counts go through them.
page, count = single_table_list(c, COLUMNS, _filters, by_index=True, kept="customers")


def insert(values: dict[str, Any]) -> Statement:
    return (INSERT, *(values[column] for column in INSERT_COLUMNS))


def update(customer_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    return update_row(customers, customer_id, values, RETURNED)


def delete(customer_id: uuid.UUID) -> Statement:
    return (DELETE, customer_id)
