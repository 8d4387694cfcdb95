"""The dashboard in one PyPika statement (one round trip, one snapshot); no I/O here.

    SELECT presale_figures.*, customer_figures.*, product_figures.*,
           (low-stock products as json), (recent pre-sales as json)
    FROM (aggregates over presales) presale_figures
    CROSS JOIN (aggregates over customers) customer_figures
    CROSS JOIN (aggregates over products) product_figures

Every figure is an aggregate over all rows (FILTER clauses split one scan of a table into its figures).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.queries import QueryBuilder
from pypika.terms import Criterion, Function, Star, Term, ValueWrapper

from service.dashboard.schemas import ALERT_STOCK, CRITICAL_STOCK, LIST_SIZE, LOW_STOCK
from service.db.sql import JsonAgg, Params, Statement, json_object
from service.presales.queries import visible
from service.presales.totals import ZERO

presales = Table("presales").as_("ps")
customers = Table("customers").as_("c")
products = Table("products").as_("pr")

STATUSES = ("draft", "pending", "approved", "cancelled", "converted")


def _json_array(rows: QueryBuilder, element: Term, *order_by: tuple[Term, Order]) -> QueryBuilder:
    return Query.from_(rows).select(fn.Coalesce(JsonAgg(element, *order_by), ValueWrapper("[]")))


def _in_month(p: Params, start: datetime, end: datetime) -> Criterion:
    return (presales.created_at >= p(start)) & (presales.created_at < p(end))


def _presale_figures(p: Params, owner: uuid.UUID | None, months: Sequence[datetime]) -> QueryBuilder:
    """Counts by status, amounts, and the revenue of each month [months[i], months[i + 1])."""
    converted = presales.status == p("converted")
    terms: list[Term] = [fn.Count(Star()).filter(presales.status == p(status)).as_(status) for status in STATUSES]
    terms += [
        fn.Count(Star()).as_("presales_total"),
        fn.Coalesce(fn.Sum(presales.total).filter(presales.status.isin([p("pending"), p("approved")])), ZERO).as_(
            "pending_amount"
        ),
        fn.Coalesce(fn.Sum(presales.total).filter(converted), ZERO).as_("sales_amount"),
        # numeric round() rounds halves away from zero: half up for these non-negative totals.
        fn.Coalesce(Function("round", fn.Avg(presales.total).filter(converted), 2), ZERO).as_("average_ticket"),
    ]
    terms += [
        fn.Coalesce(fn.Sum(presales.total).filter(converted & _in_month(p, start, end)), ZERO).as_(f"revenue_{i}")
        for i, (start, end) in enumerate(zip(months, months[1:], strict=False))
    ]
    return Query.from_(presales).select(*terms).where(Criterion.all(visible(p, owner, presales)))


def _customer_figures(p: Params, month_start: datetime, month_end: datetime) -> QueryBuilder:
    new = (customers.created_at >= p(month_start)) & (customers.created_at < p(month_end))
    return Query.from_(customers).select(
        fn.Count(Star()).as_("customers_total"), fn.Count(Star()).filter(new).as_("customers_new")
    )


def _product_figures(p: Params) -> QueryBuilder:
    return Query.from_(products).select(
        fn.Count(Star()).as_("products_total"),
        fn.Count(Star()).filter(products.stock < p(LOW_STOCK)).as_("low_stock"),
        fn.Count(Star()).filter(products.stock <= p(CRITICAL_STOCK)).as_("critical"),
        fn.Coalesce(fn.Sum(products.stock * products.purchase_price), ZERO).as_("inventory_value"),
    )


def _low_stock_products(p: Params) -> QueryBuilder:
    picked = (
        Query.from_(products)
        .select(products.id, products.code, products.name, products.stock)
        .where(products.stock < p(ALERT_STOCK))
        .orderby(products.stock, products.name, products.id)
        .limit(p(LIST_SIZE))
    ).as_("low")
    element = json_object(id=picked.id, code=picked.code, name=picked.name, stock=picked.stock)
    return _json_array(picked, element, (picked.stock, Order.asc), (picked.name, Order.asc), (picked.id, Order.asc))


def _recent_presales(p: Params, owner: uuid.UUID | None) -> QueryBuilder:
    picked = (
        Query.from_(presales)
        .join(customers)
        .on(customers.id == presales.customer_id)
        .select(
            presales.id,
            presales.status,
            presales.total,
            presales.created_at,
            customers.id.as_("customer_id"),
            customers.name.as_("customer_name"),
        )
        .where(Criterion.all(visible(p, owner, presales)))
        .orderby(presales.created_at, presales.id, order=Order.desc)
        .limit(p(LIST_SIZE))
    ).as_("recent")
    element = json_object(
        id=picked.id,
        status=picked.status,
        total=picked.total,
        createdAt=picked.created_at,
        customer=json_object(id=picked.customer_id, name=picked.customer_name),
    )
    return _json_array(picked, element, (picked.created_at, Order.desc), (picked.id, Order.desc))


def figures(owner: uuid.UUID | None, months: Sequence[datetime]) -> Statement:
    """Every figure in one row. `months` holds the boundaries of the revenue months, oldest first, the last
    two bounding the current month (UTC, without zone); `owner` limits pre-sales to their creator."""
    p = Params()
    presale_figures = _presale_figures(p, owner, months).as_("presale_figures")
    customer_figures = _customer_figures(p, months[-2], months[-1]).as_("customer_figures")
    product_figures = _product_figures(p).as_("product_figures")
    query = (
        Query.from_(presale_figures)
        .cross_join(customer_figures)
        .cross()
        .cross_join(product_figures)
        .cross()
        .select(
            Star(presale_figures),
            Star(customer_figures),
            Star(product_figures),
            _low_stock_products(p).as_("low_stock_products"),
            _recent_presales(p, owner).as_("recent_presales"),
        )
    )
    return p.statement(query)
