"""Customers' statements: constants written once at import, and the list's builders. Each function returns
(sql, *params); no I/O here."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn
from pypika.terms import Criterion

from service.customers.schemas import CustomerListQuery
from service.db.pages import single_table_list
from service.db.sql import P, Params, Statement, delete_sql, insert_sql, like_pattern, update_row

customers = Table("customers")
presales = Table("presales")

COLUMNS = (
    customers.id,
    customers.name,
    customers.email,
    customers.phone,
    customers.cpf,
    customers.address,
    customers.created_at,
    customers.updated_at,
)
INSERT_COLUMNS = ("name", "email", "phone", "cpf", "address")  # CustomerCreate's fields

GET = Query.from_(customers).select(*COLUMNS).where(customers.id == P[1]).get_sql()
INSERT = insert_sql(customers, INSERT_COLUMNS, returning=COLUMNS)
DELETE = delete_sql(customers)


def get(customer_id: uuid.UUID) -> Statement:
    return (GET, customer_id)


def _filters(q: CustomerListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.search:
        term = p(like_pattern(q.search))
        matches = fn.Lower(customers.name).like(term) | fn.Lower(customers.email).like(term)
        digits = re.sub(r"\D", "", q.search)
        if digits:  # only a term with digits can match a CPF (the earlier backend matched everything)
            matches |= customers.cpf.like(p(like_pattern(digits)))
        where.append(matches)
    if q.name:
        where.append(fn.Lower(customers.name).like(p(like_pattern(q.name))))
    if q.email:
        where.append(fn.Lower(customers.email).like(p(like_pattern(q.email))))
    if q.cpf is not None:
        where.append(customers.cpf.like(p(like_pattern(re.sub(r"\D", "", q.cpf)))))
    return where


# Every filter above has a trigram index (name, email, cpf): the searches' counts go through them.
page, count = single_table_list(customers, COLUMNS, _filters, by_index=True)


def insert(values: dict[str, Any]) -> Statement:
    return (INSERT, *(values[column] for column in INSERT_COLUMNS))


def update(customer_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    return update_row(customers, customer_id, values, COLUMNS)


def delete(customer_id: uuid.UUID) -> Statement:
    return (DELETE, customer_id)
