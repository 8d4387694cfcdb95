"""Products' statements: constants written once at import, and the builders of the list and of an update.
Each function returns (sql, *params); no I/O here.

Every statement that gives products back returns their wire fields (`wire_fields`), as the customers' do
(service/customers/queries.py): a row is the response object as it is."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn
from pypika.terms import Criterion, Term

from service.db.pages import single_table_list
from service.db.sql import (
    ADVISORY_XACT_LOCK,
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
from service.products.schemas import ProductListQuery

products = Table("products")
pr = Table("products").as_("pr")  # reads: qualified column names (see customers.queries.c)


def wire_fields(table: Table) -> dict[str, Term]:
    """ProductOut's keys, in its order, and the columns of `table` (products or an alias of it) they come from,
    as text (the stock stays a number). Each pre-sale item carries its product in them too."""
    return {
        "id": wire_text(table.id),
        "code": table.code,
        "name": table.name,
        "unit": table.unit,
        "description": table.description,
        "stock": table.stock,
        "purchasePrice": wire_text(table.purchase_price),
        "salePrice": wire_text(table.sale_price),
        "saleType": table.sale_type,
        "createdAt": wire_timestamp(table.created_at),
        "updatedAt": wire_timestamp(table.updated_at),
    }


# The tables a page of the list reads (service/db/page_cache.py: a kept page is valid while they are unchanged).
LIST_READS = ("products",)
COLUMNS = named(wire_fields(pr))
RETURNED = named(wire_fields(products))  # by INSERT, UPDATE: the same fields, of the bare table
INSERT_COLUMNS = ("code", "name", "unit", "description", "stock", "purchase_price", "sale_price", "sale_type")

# One fixed key for pg_advisory_xact_lock: serialises the assignment of PROD codes (any 64-bit value that no
# other feature uses; this is the ASCII of "PRODCODE").
CODE_LOCK_KEY = 0x50524F44434F4445
GENERATED_CODE_PATTERN = "^PROD[0-9]{7}$"


GET = Query.from_(pr).select(*COLUMNS).where(pr.id == P[1]).get_sql()
EXISTS = Query.from_(products).select(products.id).where(products.id == P[1]).get_sql()
INSERT = insert_sql(products, INSERT_COLUMNS, returning=RETURNED)
DELETE = delete_sql(products)
# Plain SQL: PyPika writes no PostgreSQL regular expression match (`~`). $1: GENERATED_CODE_PATTERN.
HIGHEST_GENERATED_CODE = 'SELECT "code" FROM "products" WHERE "code" ~ $1 ORDER BY "code" DESC LIMIT 1'


def get(product_id: uuid.UUID) -> Statement:
    return (GET, product_id)


def exists(product_id: uuid.UUID) -> Statement:
    return (EXISTS, product_id)


def _filters(q: ProductListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.search:
        term = p(like_pattern(q.search))
        where.append(fn.Lower(pr.code).like(term) | fn.Lower(pr.name).like(term) | fn.Lower(pr.description).like(term))
    if q.code:
        where.append(fn.Lower(pr.code).like(p(like_pattern(q.code))))
    if q.name:
        where.append(fn.Lower(pr.name).like(p(like_pattern(q.name))))
    if q.sale_type:
        where.append(fn.Lower(pr.sale_type).like(p(like_pattern(q.sale_type))))
    if q.min_stock is not None:
        where.append(pr.stock >= p(q.min_stock))
    if q.max_stock is not None:
        where.append(pr.stock <= p(q.max_stock))
    return where


# Code, name and description have trigram indexes (migration 20261206000003) and the stock a btree: a product
# search reads its page and count through them. A sale-type filter alone has none and is read by a whole index
# instead of the table, about the same work at this table's size.
page, count = single_table_list(pr, COLUMNS, _filters, by_index=True, kept="products")


def lock_codes() -> Statement:
    return (ADVISORY_XACT_LOCK, CODE_LOCK_KEY)


def highest_generated_code() -> Statement:
    """The highest existing PROD + 7 digits code (same length and prefix: text order is numeric order)."""
    return (HIGHEST_GENERATED_CODE, GENERATED_CODE_PATTERN)


def insert(values: dict[str, Any]) -> Statement:
    return (INSERT, *(values[column] for column in INSERT_COLUMNS))


def update(
    product_id: uuid.UUID,
    values: dict[str, Any],
    *,
    sale_at_least: Decimal | None = None,
    purchase_at_most: Decimal | None = None,
) -> Statement:
    """Update sent fields; the optional guards keep sale >= purchase against the row's current other price
    in the same statement (PostgreSQL re-checks the WHERE on the latest row version: no lost race)."""

    def guards(p: Params) -> list[Criterion]:  # of the bare table, which the UPDATE names
        where: list[Criterion] = []
        if sale_at_least is not None:  # a new sale price: the stored purchase price must not exceed it
            where.append(products.purchase_price <= p(sale_at_least))
        if purchase_at_most is not None:  # a new purchase price: the stored sale price must reach it
            where.append(products.sale_price >= p(purchase_at_most))
        return where

    return update_row(products, product_id, values, RETURNED, also=guards)


def delete(product_id: uuid.UUID) -> Statement:
    return (DELETE, product_id)
