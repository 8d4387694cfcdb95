"""Stock adjustments' statements: constants written once at import, and the history list's builders. Each
function returns (sql, *params); no I/O here."""

from __future__ import annotations

import uuid
from typing import Any

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.queries import QueryBuilder
from pypika.terms import Criterion

from service.db.pages import BoundedCount, count_statement
from service.db.sql import P, Params, Statement, date_range, insert_sql, like_pattern
from service.stock.schemas import StockAdjustmentListQuery

# Bare tables for the write path.
products_table = Table("products")
adjustments_table = Table("stock_adjustments")

# Aliased tables for the history read (one join).
adjustments = Table("stock_adjustments").as_("sa")
products = Table("products").as_("pr")

HISTORY_COLUMNS = (
    adjustments.id,
    adjustments.product_id,
    products.code.as_("product_code"),
    products.name.as_("product_name"),
    adjustments.adjustment_type,
    adjustments.quantity,
    adjustments.previous_stock,
    adjustments.new_stock,
    adjustments.reason,
    adjustments.user_id,
    adjustments.user_name,
    adjustments.ip_address,
    adjustments.user_agent,
    adjustments.created_at,
)

INSERT_COLUMNS = (
    "product_id",
    "adjustment_type",
    "quantity",
    "previous_stock",
    "new_stock",
    "reason",
    "user_id",
    "user_name",
    "ip_address",
    "user_agent",
)


LOCK_PRODUCT = (
    Query.from_(products_table)
    .select(products_table.id, products_table.code, products_table.name, products_table.stock)
    .where(products_table.id == P[1])
    .for_update()
    .get_sql()
)
SET_STOCK = Query.update(products_table).set(products_table.stock, P[2]).where(products_table.id == P[1]).get_sql()
INSERT_ADJUSTMENT = insert_sql(
    adjustments_table,
    INSERT_COLUMNS,
    returning=(adjustments_table.id, adjustments_table.created_at),
    computed={"created_at": fn.Function("clock_timestamp")},
)


def lock_product(product_id: uuid.UUID) -> Statement:
    """The product row, locked until the transaction ends: concurrent adjustments of one product queue here
    and each computes its new stock from the value the previous one committed."""
    return (LOCK_PRODUCT, product_id)


def set_stock(product_id: uuid.UUID, stock: int) -> Statement:
    return (SET_STOCK, product_id, stock)


def insert_adjustment(values: dict[str, Any]) -> Statement:
    """One history row. created_at is the moment of the insert (clock_timestamp(), taken under the product
    lock), not the transaction start (now()): a product's rows then sort in the order their stock changed."""
    return (INSERT_ADJUSTMENT, *(values[column] for column in INSERT_COLUMNS))


def _filters(q: StockAdjustmentListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.product_id is not None:
        where.append(adjustments.product_id == p(q.product_id))
    if q.product_code:
        where.append(fn.Lower(products.code).like(p(like_pattern(q.product_code))))
    if q.adjustment_type is not None:
        where.append(adjustments.adjustment_type == p(q.adjustment_type))
    if q.user_id is not None:
        where.append(adjustments.user_id == p(q.user_id))
    where += date_range(adjustments.created_at, q.start_date, q.end_date, p)
    return where


def _with_product() -> QueryBuilder:
    return Query.from_(adjustments).join(products).on(products.id == adjustments.product_id)


def page(q: StockAdjustmentListQuery) -> Statement:
    """One page, newest first, with the product's code and name."""
    p = Params()
    query = (
        _with_product()
        .where(Criterion.all(_filters(q, p)))
        .select(*HISTORY_COLUMNS)
        .orderby(adjustments.created_at, order=Order.desc)
        .orderby(adjustments.id, order=Order.desc)
        .limit(p(q.limit))
        .offset(p(q.offset))
    )
    return p.statement(query)


def count(q: StockAdjustmentListQuery) -> BoundedCount:
    p = Params()
    return count_statement(p, _with_product, _filters(q, p))
