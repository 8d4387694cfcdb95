"""Pre-sales' statements: constants written once at import, and the builders of the list and of an update.
Each function returns (sql, *params); no I/O here.

A pre-sale is always read whole in one statement: the row, its customer and its items (each with the full
product) are assembled by PostgreSQL with json_build_object / json_agg, keyed in the contract's camelCase.
"""

from __future__ import annotations

import uuid
from typing import Any

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.queries import QueryBuilder
from pypika.terms import Criterion, Function, Term, ValueWrapper

from service.db.pages import BoundedCount, count_statement, shape
from service.db.sql import (
    JsonAgg,
    P,
    Params,
    Statement,
    StatementTexts,
    date_range,
    insert_sql,
    json_object,
    like_pattern,
    update_row,
    wire_decimal,
    wire_timestamp,
)
from service.presales.schemas import PresaleListQuery
from service.presales.totals import ZERO

presales = Table("presales").as_("ps")
items = Table("presale_items").as_("pi")
customers = Table("customers").as_("c")
products = Table("products").as_("pr")
adjustments = Table("stock_adjustments")
payment_methods = Table("payment_methods")

# Bare tables (no alias) for INSERT / UPDATE / DELETE.
presales_table = Table("presales")
items_table = Table("presale_items")
products_table = Table("products")


def _product_json() -> Function:
    return json_object(
        id=products.id,
        code=products.code,
        name=products.name,
        unit=products.unit,
        description=products.description,
        stock=products.stock,
        purchasePrice=wire_decimal(products.purchase_price),
        salePrice=wire_decimal(products.sale_price),
        saleType=products.sale_type,
        createdAt=wire_timestamp(products.created_at),
        updatedAt=wire_timestamp(products.updated_at),
    )


def _customer_json() -> QueryBuilder:
    obj = json_object(
        id=customers.id,
        name=customers.name,
        email=customers.email,
        phone=customers.phone,
        cpf=customers.cpf,
        address=customers.address,
        createdAt=wire_timestamp(customers.created_at),
        updatedAt=wire_timestamp(customers.updated_at),
    )
    return Query.from_(customers).select(obj).where(customers.id == presales.customer_id)


def _items_json() -> Term:
    item = json_object(
        id=items.id,
        preSaleId=items.presale_id,
        productId=items.product_id,
        quantity=wire_decimal(items.quantity),
        unitPrice=wire_decimal(items.unit_price),
        totalPrice=wire_decimal(items.total_price),
        discount=wire_decimal(items.discount),
        discountType=items.discount_type,
        discountPercentage=wire_decimal(items.discount_percentage),
        product=_product_json(),
    )
    aggregated = (
        Query.from_(items)
        .join(products)
        .on(products.id == items.product_id)
        # Item ids are time-ordered: request order (see service.new_item_ids).
        .select(JsonAgg(item, (items.id, Order.asc)))
        .where(items.presale_id == presales.id)
    )
    return fn.Coalesce(aggregated, ValueWrapper("[]"))


def presale_json() -> Function:
    """The full pre-sale of the `presales` row in scope, as one json value already in the wire format of
    `PresaleOut` (camelCase keys, decimal strings, UTC timestamps): the service passes it on as it is."""
    return json_object(
        id=presales.id,
        customerId=presales.customer_id,
        status=presales.status,
        total=wire_decimal(presales.total),
        discount=wire_decimal(presales.discount),
        discountType=presales.discount_type,
        discountPercentage=wire_decimal(presales.discount_percentage),
        notes=presales.notes,
        paymentMethodId=presales.payment_method_id,
        createdBy=presales.created_by,
        createdAt=wire_timestamp(presales.created_at),
        updatedAt=wire_timestamp(presales.updated_at),
        customer=_customer_json(),
        items=_items_json(),
    )


def visible(p: Params, owner: uuid.UUID | None, table: Table = presales) -> list[Criterion]:
    """The pre-sales a caller may see and change (decision 10.3): every one (no condition) when `owner` is None,
    else only those `owner` created. The one statement of the rule: the list, a pre-sale by id, its lock, its
    deletion and the dashboard's figures all take it from here. `table`: another alias of presales."""
    return [table.created_by == p(owner)] if owner is not None else []


def _by_id(query: QueryBuilder) -> tuple[str, str]:
    """The texts of a statement on one pre-sale ($1): on any pre-sale, and limited by `visible` to the caller's
    own ($2). Written once, at import: the values given here only number the placeholders."""
    p = Params()
    query = query.where(presales.id == p("id"))
    return query.get_sql(), query.where(Criterion.all(visible(p, uuid.UUID(int=0)))).get_sql()


def _one(texts: tuple[str, str], presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    any_presale, own_presale = texts
    return (any_presale, presale_id) if owner is None else (own_presale, presale_id, owner)


PRESALE_JSON = presale_json()
GET = _by_id(Query.from_(presales).select(PRESALE_JSON.as_("presale")))


def get(presale_id: uuid.UUID, owner: uuid.UUID | None = None) -> Statement:
    """The whole pre-sale as one JSON value (customer, items, products): one round trip."""
    return _one(GET, presale_id, owner)


def _filters(q: PresaleListQuery, p: Params, owner: uuid.UUID | None) -> list[Criterion]:
    where = visible(p, owner)
    if q.status:
        where.append(presales.status == Function("ANY", p(sorted(set(q.status)))))
    if q.customer_id is not None:
        where.append(presales.customer_id == p(q.customer_id))
    for term in (q.customer_name, q.search):
        if term:
            where.append(fn.Lower(customers.name).like(p(like_pattern(term))))
    where += date_range(presales.created_at, q.date_from, q.date_to, p)  # the whole dateTo day (10.11)
    return where


def _with_customer() -> QueryBuilder:
    return Query.from_(presales).join(customers).on(customers.id == presales.customer_id)


# The list's texts by shape: PyPika took ~1 ms to write the pre-sale json into every page's statement.
TEXTS = StatementTexts()


def page(q: PresaleListQuery, owner: uuid.UUID | None) -> Statement:
    """One page of full pre-sales, in one statement.

    The inner query picks the page's ids so the json of customers and items is only built for the rows
    returned, not for every matching row.
    """
    p = Params()
    order = Order.asc if q.sort_order == "asc" else Order.desc
    column = q.SORT_COLUMNS[q.sort_by]
    where = _filters(q, p, owner)
    limit, offset = p(q.limit), p(q.offset)

    def build() -> QueryBuilder:
        picked = (
            _with_customer()
            .where(Criterion.all(where))
            .select(presales.id)
            .orderby(presales.field(column), order=order)
            .orderby(presales.id, order=order)
            .limit(limit)
            .offset(offset)
        ).as_("pg")
        return (
            Query.from_(picked)
            .join(presales)
            .on(presales.id == picked.id)
            .select(PRESALE_JSON.as_("presale"))
            .orderby(presales.field(column), order=order)
            .orderby(presales.id, order=order)
        )

    return TEXTS.statement(p, ("page", shape(p, where, joined=True), column, order), build)


def count(q: PresaleListQuery, owner: uuid.UUID | None) -> BoundedCount:
    p = Params()
    return count_statement(p, _with_customer(), _filters(q, p, owner), TEXTS, joined=True)


CUSTOMER_EXISTS = Query.from_(customers).select(customers.id).where(customers.id == P[1]).get_sql()
# Plain SQL: PyPika writes FOR UPDATE but not FOR SHARE.
LOCK_PAYMENT_METHOD = 'SELECT "id","is_active" FROM "payment_methods" WHERE "id"=$1 FOR SHARE'
PRODUCTS_BY_ID = (
    Query.from_(products)
    .select(products.id, products.name, products.code, products.stock, products.sale_type)
    .where(products.id == Function("ANY", P[1]))
    .get_sql()
)
LOCK_PRODUCTS = (
    Query.from_(products)
    .select(products.id, products.name, products.code, products.stock)
    .where(products.id == Function("ANY", P[1]))
    .orderby(products.id)
    .for_update()
    .get_sql()
)
LOCK_PRESALE = _by_id(
    Query.from_(presales)
    .select(
        presales.id,
        presales.status,
        presales.customer_id,
        presales.discount,
        presales.discount_type,
        presales.discount_percentage,
    )
    .for_update()
)
ITEM_QUANTITIES = (
    Query.from_(items)
    .select(items.product_id, fn.Sum(items.quantity).as_("quantity"))
    .where(items.presale_id == P[1])
    .groupby(items.product_id)
    .get_sql()
)
ITEM_SUBTOTAL = (
    Query.from_(items).select(fn.Coalesce(fn.Sum(items.total_price), ZERO)).where(items.presale_id == P[1]).get_sql()
)
DELETE_ITEMS = Query.from_(items_table).delete().where(items_table.presale_id == P[1]).get_sql()
# For executemany: (quantity, product_id) pairs. The CHECK (stock >= 0) is the last guard.
DECREMENT_STOCK = (
    Query.update(products_table)
    .set(products_table.stock, products_table.stock - P[1])
    .where(products_table.id == P[2])
    .get_sql()
)

PRESALE_COLUMNS = (
    "customer_id",
    "status",
    "notes",
    "payment_method_id",
    "created_by",
    "total",
    "discount",
    "discount_type",
    "discount_percentage",
)
INSERT_PRESALE = insert_sql(presales_table, PRESALE_COLUMNS, returning=(presales_table.id,))

# Multi-row inserts: one text for any number of rows, each column an array ($n::type[]) that unnest() turns
# into rows (PyPika writes no unnest of typed arrays in FROM).
ITEM_COLUMNS = {
    "id": "uuid",
    "presale_id": "uuid",
    "product_id": "uuid",
    "quantity": "numeric",
    "unit_price": "numeric",
    "total_price": "numeric",
    "discount": "numeric",
    "discount_type": "discount_type",
    "discount_percentage": "numeric",
}
INSERT_ITEMS = (
    "INSERT INTO presale_items (id, presale_id, product_id, quantity, unit_price, total_price, discount,"
    " discount_type, discount_percentage)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[], $5::numeric[], $6::numeric[],"
    " $7::numeric[], $8::discount_type[], $9::numeric[])"
)
ADJUSTMENT_COLUMNS = (
    "product_id",
    "adjustment_type",
    "quantity",
    "previous_stock",
    "new_stock",
    "reason",
    "user_id",
    "user_name",
    "user_agent",
    "presale_id",
)
INSERT_ADJUSTMENTS = (
    "INSERT INTO stock_adjustments (product_id, adjustment_type, quantity, previous_stock, new_stock, reason,"
    " user_id, user_name, user_agent, presale_id, created_at)"
    " SELECT *, clock_timestamp() FROM unnest($1::uuid[], $2::stock_adjustment_type[], $3::int[], $4::int[],"
    " $5::int[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::uuid[])"
)


def columns_of(rows: list[dict[str, Any]], columns: Any) -> Statement:
    """The values of an unnest() insert: one list per column, in `columns` order."""
    return tuple([row[column] for row in rows] for column in columns)


def customer_exists(customer_id: uuid.UUID) -> Statement:
    return (CUSTOMER_EXISTS, customer_id)


def lock_payment_method(payment_method_id: uuid.UUID) -> Statement:
    """The method's row, share-locked until the transaction ends: it cannot be deactivated or deleted while
    the pre-sale that refers to it is written (other pre-sale writes share the lock and do not wait)."""
    return (LOCK_PAYMENT_METHOD, payment_method_id)


def products_by_id(product_ids: list[uuid.UUID]) -> Statement:
    return (PRODUCTS_BY_ID, product_ids)


def lock_products(product_ids: list[uuid.UUID]) -> Statement:
    """Row locks taken in id order, so two conversions sharing products never deadlock."""
    return (LOCK_PRODUCTS, product_ids)


def lock_presale(presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    """The pre-sale's row, locked until the transaction ends; no row when the caller may not see it."""
    return _one(LOCK_PRESALE, presale_id, owner)


def item_quantities(presale_id: uuid.UUID) -> Statement:
    return (ITEM_QUANTITIES, presale_id)


def item_subtotal(presale_id: uuid.UUID) -> Statement:
    return (ITEM_SUBTOTAL, presale_id)


def insert_presale(values: dict[str, Any]) -> Statement:
    return (INSERT_PRESALE, *(values[column] for column in PRESALE_COLUMNS))


def insert_items(rows: list[dict[str, Any]]) -> Statement:
    """All items of a pre-sale in one statement."""
    return (INSERT_ITEMS, *columns_of(rows, ITEM_COLUMNS))


def delete_items(presale_id: uuid.UUID) -> Statement:
    return (DELETE_ITEMS, presale_id)


def update_presale(presale_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    return update_row(presales_table, presale_id, values, (presales_table.id,))


def decrement_stock() -> str:
    return DECREMENT_STOCK


def insert_adjustments(rows: list[dict[str, Any]]) -> Statement:
    """The conversion's history rows. created_at is clock_timestamp() (taken under the product locks), like a
    manual adjustment's, not now() (the transaction start): a product's rows sort in the order its stock changed
    even when a conversion began before, but locked after, another change of the product."""
    return (INSERT_ADJUSTMENTS, *columns_of(rows, ADJUSTMENT_COLUMNS))


def delete_presale(presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    """Deletes unless converted; re-checked under the row lock, so a concurrent conversion wins."""
    p = Params()
    query = (
        Query.from_(presales_table)
        .delete()
        .where(presales_table.id == p(presale_id))
        .where(presales_table.status != p("converted"))
        .where(Criterion.all(visible(p, owner, presales_table)))
    )
    return p.statement(query.returning(presales_table.id))


def status_of(presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    p = Params()
    query = Query.from_(presales).select(presales.status).where(presales.id == p(presale_id))
    return p.statement(query.where(Criterion.all(visible(p, owner))))
