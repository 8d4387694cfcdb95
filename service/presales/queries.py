"""PyPika builders for pre-sales. Each returns (sql, *params); no I/O here.

A pre-sale is always read whole in one statement: the row, its customer and its items (each with the full
product) are assembled by PostgreSQL with json_build_object / json_agg, keyed in the contract's camelCase.
"""

from __future__ import annotations

import uuid
from typing import Any

from pypika import Order
from pypika import PostgreSQLQuery as Query
from pypika import Table, functions as fn
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.queries import QueryBuilder
from pypika.terms import AggregateFunction, Criterion, Function, Parameter, Term, ValueWrapper
from pypika.utils import builder

from service.db.pages import BoundedCount, count_statement
from service.db.sql import (
    FixedStatement,
    Params,
    RenderedOnce,
    RowsInsert,
    RowWrites,
    Statement,
    date_range,
    like_pattern,
    wire_decimal,
    wire_timestamp,
)
from service.presales.schemas import PresaleListQuery

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


class JsonAgg(AggregateFunction):
    """json_agg(expr ORDER BY term): aggregate input order stated, not left to the plan."""

    def __init__(self, term: Term, order_by: Term) -> None:
        super().__init__("json_agg", term)
        self.order_by = order_by

    def get_special_params_sql(self, **kwargs: Any) -> str:
        return " ORDER BY " + self.order_by.get_sql(**kwargs)


class _SharedLockQuery(PostgreSQLQueryBuilder):
    """SELECT ... FOR SHARE (PyPika renders only FOR UPDATE)."""

    @builder
    def for_share(self) -> None:
        self._for_update = True

    def _for_update_sql(self, **kwargs: Any) -> str:
        return " FOR SHARE" if self._for_update else ""


def json_object(**fields: Term) -> Function:
    """json_build_object('key', value, ...); keys are constants of this module, never request values."""
    args: list[Any] = []
    for key, value in fields.items():
        args.extend((ValueWrapper(key), value))
    return Function("json_build_object", *args)


def _product_json() -> Function:
    return json_object(
        id=products.id, code=products.code, name=products.name, unit=products.unit,
        description=products.description, stock=products.stock, purchasePrice=wire_decimal(products.purchase_price),
        salePrice=wire_decimal(products.sale_price), saleType=products.sale_type,
        createdAt=wire_timestamp(products.created_at), updatedAt=wire_timestamp(products.updated_at),
    )


def _customer_json() -> QueryBuilder:
    obj = json_object(
        id=customers.id, name=customers.name, email=customers.email, phone=customers.phone, cpf=customers.cpf,
        address=customers.address, createdAt=wire_timestamp(customers.created_at),
        updatedAt=wire_timestamp(customers.updated_at),
    )
    return Query.from_(customers).select(obj).where(customers.id == presales.customer_id)


def _items_json() -> Term:
    item = json_object(
        id=items.id, preSaleId=items.presale_id, productId=items.product_id, quantity=wire_decimal(items.quantity),
        unitPrice=wire_decimal(items.unit_price), totalPrice=wire_decimal(items.total_price),
        discount=wire_decimal(items.discount), discountType=items.discount_type,
        discountPercentage=wire_decimal(items.discount_percentage), product=_product_json(),
    )
    aggregated = (
        Query.from_(items)
        .join(products).on(products.id == items.product_id)
        .select(JsonAgg(item, items.id))  # item ids are time-ordered: request order (see service.new_item_ids)
        .where(items.presale_id == presales.id)
    )
    return fn.Coalesce(aggregated, ValueWrapper("[]"))


def presale_json() -> Function:
    """The full pre-sale of the `presales` row in scope, as one json value already in the wire format of
    `PresaleOut` (camelCase keys, decimal strings, UTC timestamps): the service passes it on as it is."""
    return json_object(
        id=presales.id, customerId=presales.customer_id, status=presales.status, total=wire_decimal(presales.total),
        discount=wire_decimal(presales.discount), discountType=presales.discount_type,
        discountPercentage=wire_decimal(presales.discount_percentage), notes=presales.notes,
        paymentMethodId=presales.payment_method_id, createdBy=presales.created_by,
        createdAt=wire_timestamp(presales.created_at), updatedAt=wire_timestamp(presales.updated_at),
        customer=_customer_json(), items=_items_json(),
    )


PRESALE_JSON = RenderedOnce(presale_json())


def visible(p: Params, owner: uuid.UUID | None) -> Criterion:
    """Rows the caller may see: all, or only those created by `owner` (decision 10.3)."""
    return presales.created_by == p(owner) if owner is not None else Criterion.all([])


_GET_ANY = FixedStatement(lambda p: (
    Query.from_(presales).select(PRESALE_JSON.as_("presale")).where(presales.id == p("id"))
))
_GET_OWN = FixedStatement(lambda p: (
    Query.from_(presales).select(PRESALE_JSON.as_("presale"))
    .where(presales.id == p("id")).where(presales.created_by == p("owner"))
))


def get(presale_id: uuid.UUID, owner: uuid.UUID | None = None) -> Statement:
    """The whole pre-sale as one JSON value (customer, items, products): one round trip."""
    if owner is None:
        return _GET_ANY(id=presale_id)
    return _GET_OWN(id=presale_id, owner=owner)


def _filters(q: PresaleListQuery, p: Params, owner: uuid.UUID | None) -> list[Criterion]:
    where: list[Criterion] = []
    if owner is not None:
        where.append(presales.created_by == p(owner))
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


def page(q: PresaleListQuery, owner: uuid.UUID | None) -> Statement:
    """One page of full pre-sales, in one statement.

    The inner query picks the page's ids so the json of customers and items is only built for the rows
    returned, not for every matching row.
    """
    p = Params()
    order = Order.asc if q.sort_order == "asc" else Order.desc
    column = q.SORT_COLUMNS[q.sort_by]
    picked = (
        _with_customer().where(Criterion.all(_filters(q, p, owner)))
        .select(presales.id)
        .orderby(presales.field(column), order=order)
        .orderby(presales.id, order=order)
        .limit(p(q.limit))
        .offset(p(q.offset))
    ).as_("pg")
    query = (
        Query.from_(picked)
        .join(presales).on(presales.id == picked.id)
        .select(PRESALE_JSON.as_("presale"))
        .orderby(presales.field(column), order=order)
        .orderby(presales.id, order=order)
    )
    return p.statement(query)


def count(q: PresaleListQuery, owner: uuid.UUID | None) -> BoundedCount:
    p = Params()
    return count_statement(p, _with_customer(), _filters(q, p, owner))


# The statements of a pre-sale's writes that have one shape are rendered once (FixedStatement): PyPika took
# ~50-90 µs for each, ~300 µs of a pre-sale's creation.
_CUSTOMER_EXISTS = FixedStatement(lambda p: (
    Query.from_(customers).select(customers.id).where(customers.id == p("customer_id"))
))


def customer_exists(customer_id: uuid.UUID) -> Statement:
    return _CUSTOMER_EXISTS(customer_id=customer_id)


_LOCK_PAYMENT_METHOD = FixedStatement(lambda p: (
    _SharedLockQuery()
    .from_(payment_methods)
    .select(payment_methods.id, payment_methods.is_active)
    .where(payment_methods.id == p("id"))
    .for_share()
))


def lock_payment_method(payment_method_id: uuid.UUID) -> Statement:
    """The method's row, share-locked until the transaction ends: it cannot be deactivated or deleted while
    the pre-sale that refers to it is written (other pre-sale writes share the lock and do not wait)."""
    return _LOCK_PAYMENT_METHOD(id=payment_method_id)


_PRODUCTS_BY_ID = FixedStatement(lambda p: (
    Query.from_(products)
    .select(products.id, products.name, products.code, products.stock, products.sale_type)
    .where(products.id == Function("ANY", p("ids")))
))


def products_by_id(product_ids: list[uuid.UUID]) -> Statement:
    return _PRODUCTS_BY_ID(ids=product_ids)


_LOCK_PRODUCTS = FixedStatement(lambda p: (
    Query.from_(products)
    .select(products.id, products.name, products.code, products.stock)
    .where(products.id == Function("ANY", p("ids")))
    .orderby(products.id)
    .for_update()
))


def lock_products(product_ids: list[uuid.UUID]) -> Statement:
    """Row locks taken in id order, so two conversions sharing products never deadlock."""
    return _LOCK_PRODUCTS(ids=product_ids)


_LOCK_PRESALE = FixedStatement(lambda p: (
    Query.from_(presales)
    .select(presales.id, presales.status, presales.customer_id, presales.discount, presales.discount_type,
            presales.discount_percentage, presales.created_by)
    .where(presales.id == p("id"))
    .for_update()
))


def lock_presale(presale_id: uuid.UUID) -> Statement:
    return _LOCK_PRESALE(id=presale_id)


_ITEM_QUANTITIES = FixedStatement(lambda p: (
    Query.from_(items)
    .select(items.product_id, fn.Sum(items.quantity).as_("quantity"))
    .where(items.presale_id == p("presale_id"))
    .groupby(items.product_id)
))


def item_quantities(presale_id: uuid.UUID) -> Statement:
    return _ITEM_QUANTITIES(presale_id=presale_id)


_ITEM_SUBTOTAL = FixedStatement(lambda p: (
    Query.from_(items).select(fn.Coalesce(fn.Sum(items.total_price), 0)).where(items.presale_id == p("presale_id"))
))


def item_subtotal(presale_id: uuid.UUID) -> Statement:
    return _ITEM_SUBTOTAL(presale_id=presale_id)


PRESALE_WRITES = RowWrites(presales_table, (presales_table.id,))


def insert_presale(values: dict[str, Any]) -> Statement:
    return PRESALE_WRITES.insert(values)


ITEM_COLUMNS = ("id", "presale_id", "product_id", "quantity", "unit_price", "total_price", "discount",
                "discount_type", "discount_percentage")


_INSERT_ITEMS = RowsInsert(items_table, ITEM_COLUMNS)


def insert_items(rows: list[dict[str, Any]]) -> Statement:
    """All items of a pre-sale in one multi-row INSERT."""
    return _INSERT_ITEMS(rows)


_DELETE_ITEMS = FixedStatement(lambda p: (
    Query.from_(items_table).delete().where(items_table.presale_id == p("presale_id"))
))


def delete_items(presale_id: uuid.UUID) -> Statement:
    return _DELETE_ITEMS(presale_id=presale_id)


def update_presale(presale_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    return PRESALE_WRITES.update(presale_id, values)


def decrement_stock() -> str:
    """For executemany: (quantity, product_id) pairs. The CHECK (stock >= 0) is the last guard."""
    query = (
        Query.update(products_table)
        .set(products_table.stock, products_table.stock - Parameter("$1"))
        .where(products_table.id == Parameter("$2"))
    )
    return query.get_sql()


_INSERT_ADJUSTMENTS = RowsInsert(
    adjustments,
    ("product_id", "adjustment_type", "quantity", "previous_stock", "new_stock", "reason", "user_id", "user_name",
     "user_agent", "presale_id"),
    computed={"created_at": fn.Function("clock_timestamp")},
)


def insert_adjustments(rows: list[dict[str, Any]]) -> Statement:
    """The conversion's history rows. created_at is clock_timestamp() (taken under the product locks), like a
    manual adjustment's, not now() (the transaction start): a product's rows sort in the order its stock changed
    even when a conversion began before, but locked after, another change of the product."""
    return _INSERT_ADJUSTMENTS(rows)


def delete_presale(presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    """Deletes unless converted; re-checked under the row lock, so a concurrent conversion wins."""
    p = Params()
    query = (
        Query.from_(presales_table)
        .delete()
        .where(presales_table.id == p(presale_id))
        .where(presales_table.status != p("converted"))
    )
    if owner is not None:
        query = query.where(presales_table.created_by == p(owner))
    return p.statement(query.returning(presales_table.id))


def status_of(presale_id: uuid.UUID, owner: uuid.UUID | None) -> Statement:
    p = Params()
    query = Query.from_(presales).select(presales.status).where(presales.id == p(presale_id))
    if owner is not None:
        query = query.where(presales.created_by == p(owner))
    return p.statement(query)
