"""Pre-sales' statements: constants written once at import, and the builders of the list and of an update.
Each function returns (sql, *params); no I/O here.

A page of pre-sales is read in two statements, the pre-sales with their customers (`page`), then the items of all
of them with their products (`ITEMS_OF`); one pre-sale in one (`get`: a row per item). The service assembles
them (service.assemble_presales). Every
column comes as the text the contract sends (`wire_text`, `wire_timestamp`), so neither asyncpg nor the JSON
encoder converts a value. Measured against one statement building the json in PostgreSQL: bench/README.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.functions import Cast
from pypika.queries import QueryBuilder
from pypika.terms import Bracket, Criterion, ExistsCriterion, Function, Term

from service.audit.queries import AUDIT_PARAMS, audit_params, audit_rows_of
from service.customers.queries import c as customers
from service.customers.queries import wire_fields as customer_fields
from service.db.pages import BoundedCount, count_statement, shape
from service.db.sql import (
    P,
    Params,
    Statement,
    StatementTexts,
    date_range,
    insert_sql,
    like_pattern,
    placeholders,
    update_row,
    wire_text,
    wire_timestamp,
)
from service.presales.schemas import PresaleListQuery
from service.presales.totals import ZERO
from service.products.queries import pr as products
from service.products.queries import wire_fields as product_fields

presales = Table("presales").as_("ps")
items = Table("presale_items").as_("pi")
adjustments = Table("stock_adjustments")
payment_methods = Table("payment_methods")

# Bare tables (no alias) for INSERT / UPDATE / DELETE.
presales_table = Table("presales")
items_table = Table("presale_items")
products_table = Table("products")

# The wire fields (PresaleOut's camelCase keys, in its order) and the columns they come from, as text. A row of
# `page` / `get` holds PRESALE_FIELDS then CUSTOMER_FIELDS; a row of ITEMS_OF holds ITEM_FIELDS then PRODUCT_FIELDS.
PRESALE_FIELDS: dict[str, Term] = {
    "id": wire_text(presales.id),
    "customerId": wire_text(presales.customer_id),
    "status": presales.status,
    "total": wire_text(presales.total),
    "discount": wire_text(presales.discount),
    "discountType": presales.discount_type,
    "discountPercentage": wire_text(presales.discount_percentage),
    "notes": presales.notes,
    "paymentMethodId": wire_text(presales.payment_method_id),
    "createdBy": wire_text(presales.created_by),
    "createdAt": wire_timestamp(presales.created_at),
    "updatedAt": wire_timestamp(presales.updated_at),
}
CUSTOMER_FIELDS = customer_fields(customers)
ITEM_FIELDS: dict[str, Term] = {
    "id": wire_text(items.id),
    "preSaleId": wire_text(items.presale_id),
    "productId": wire_text(items.product_id),
    "quantity": wire_text(items.quantity),
    "unitPrice": wire_text(items.unit_price),
    "totalPrice": wire_text(items.total_price),
    "discount": wire_text(items.discount),
    "discountType": items.discount_type,
    "discountPercentage": wire_text(items.discount_percentage),
}
PRODUCT_FIELDS = product_fields(products)
READ_COLUMNS = [*PRESALE_FIELDS.values(), *CUSTOMER_FIELDS.values()]
# The tables a page of the list reads (service/db/page_cache.py: a kept page is valid while they are unchanged).
LIST_READS = ("presales", "presale_items", "customers", "products")


def _with_customer() -> QueryBuilder:
    return Query.from_(presales).join(customers).on(customers.id == presales.customer_id)


# $1: the ids of the pre-sales read. Item ids are time-ordered: request order (see service.new_item_ids).
ITEMS_OF = (
    Query.from_(items)
    .join(products)
    .on(products.id == items.product_id)
    .select(*ITEM_FIELDS.values(), *PRODUCT_FIELDS.values())
    .where(items.presale_id == Function("ANY", P[1]))
    .orderby(items.id)
    .get_sql()
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


def _whole_presale(from_presales: Table = presales, from_items: Table = items) -> QueryBuilder:
    """Pre-sales whole, in one statement (one snapshot, one round trip): a row per item (one with null item
    columns for a pre-sale without items), each holding READ_COLUMNS then ITEMS_OF's columns. The sources are the
    tables, or CTEs named like their aliases (CREATE)."""
    return (
        Query.from_(from_presales)
        .join(customers)
        .on(customers.id == from_presales.customer_id)
        .left_join(from_items)
        .on(from_items.presale_id == from_presales.id)
        .left_join(products)
        .on(products.id == from_items.product_id)
        .select(*READ_COLUMNS, *ITEM_FIELDS.values(), *PRODUCT_FIELDS.values())
        .orderby(from_items.id)
    )


GET = _by_id(_whole_presale())


def get(presale_id: uuid.UUID, owner: uuid.UUID | None = None) -> Statement:
    """The whole pre-sale: its rows (see _whole_presale), none when there is no such pre-sale for this owner."""
    return _one(GET, presale_id, owner)


def items_of(presale_ids: list[str]) -> Statement:
    return (ITEMS_OF, presale_ids)


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


# The list's texts by shape: PyPika takes ~0.3 ms to write a page's statement.
TEXTS = StatementTexts()


def page(q: PresaleListQuery, owner: uuid.UUID | None) -> Statement:
    """One page of pre-sales with their customers (then ITEMS_OF for their items, in the same snapshot)."""
    p = Params()
    order = Order.asc if q.sort_order == "asc" else Order.desc
    column = q.SORT_COLUMNS[q.sort_by]
    where = _filters(q, p, owner)
    limit, offset = p(q.limit), p(q.offset)

    def build() -> QueryBuilder:
        return (
            _with_customer()
            .where(Criterion.all(where))
            .select(*READ_COLUMNS)
            .orderby(presales.field(column), order=order)
            .orderby(presales.id, order=order)
            .limit(limit)
            .offset(offset)
        )

    return TEXTS.statement(p, ("page", shape(p, where, joined=True), column, order), build)


def count(q: PresaleListQuery, owner: uuid.UUID | None) -> BoundedCount:
    """Joined to customers only when a condition is on the customer's name: every pre-sale has its customer (NOT
    NULL foreign key), and counting 10,000 pre-sales through the join cost ~5x the index-only count of them
    alone. The conditions' text names the customers table exactly when the join is there, so each shape's kept
    text has one source."""
    p = Params()
    source = _with_customer if q.customer_name or q.search else lambda: Query.from_(presales)
    return count_statement(p, source, _filters(q, p, owner), TEXTS, joined=True, kept="presales")


CUSTOMER_EXISTS = Query.from_(customers).select(customers.id).where(customers.id == P[1]).get_sql()


def _share_locked_method(number: int) -> str:
    """The payment method whose id is $number, share-locked until the transaction ends. The lock clause is text:
    PyPika writes FOR UPDATE but not FOR SHARE."""
    method = payment_methods
    query = Query.from_(method).select(method.id, method.is_active).where(method.id == P[number])
    return f"{query.get_sql()} FOR SHARE"


LOCK_PAYMENT_METHOD = _share_locked_method(1)
# The items' products; each row also says whether the customer $2 exists (a create checks both in one round trip;
# $2 null: false).
PRODUCTS_BY_ID = (
    Query.from_(products)
    .select(
        products.id,
        products.name,
        products.code,
        products.stock,
        products.sale_type,
        Bracket(ExistsCriterion(Query.from_(customers).select(customers.id).where(customers.id == P[2]))).as_(
            "customer_found"
        ),
    )
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
DECREMENT_STOCK: str = (
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
# Creating a pre-sale is one statement: its row, its items (their presale_id: the new row's) and its audit row,
# returning the whole pre-sale as `get` does, read from the CTEs' RETURNING rows (the statement's snapshot does not
# see its own inserts in the tables). Plain SQL around PyPika's parts: PyPika writes no data-modifying CTE.
NEW_ITEM_COLUMNS = {column: type_ for column, type_ in ITEM_COLUMNS.items() if column != "presale_id"}
_ITEM_ARRAYS = ",".join(f"${number}::{type_}[]" for number, type_ in enumerate(NEW_ITEM_COLUMNS.values(), start=10))
_ITEM_VALUES = ",".join('"ps"."id"' if column == "presale_id" else f'"i"."{column}"' for column in ITEM_COLUMNS)
# The payment method ($4, when one is named) is share-locked by the statement itself and must still be active when
# the row goes in: no row is written (and none returned) when it was deactivated or deleted since it was checked,
# so creating needs no transaction around its reads (decision 10.4 holds: the lock lasts until the statement
# commits, and a deactivation in flight is waited for, then seen).
#
# The items' products may be checked by the statement too (the service's first attempt: one round trip): "need"
# holds, per distinct product, the whole units its lines take from stock and whether any of its lines is
# fractional; no row is written when a product is missing, short of stock, or not exactly 'fractional' for a
# fractional line. A conservative test of service._prepare_items' rules, which stay the one statement of them: when
# nothing is written, the service reads the products and those rules name the refusal (or find none, when the
# products changed or hold a sale type spelled otherwise, and it writes with no need: empty arrays).
_METHOD = PRESALE_COLUMNS.index("payment_method_id") + 1
NEED_COLUMNS = {"product_id": "uuid", "units": "bigint", "fractional": "boolean"}
_NEED_AT = 10 + len(NEW_ITEM_COLUMNS) + AUDIT_PARAMS  # after the presale's, the items' and the audit row's
_locked_method = Table("pm")
_need = Table("need")
_unmet_need = (
    Query.from_(_need)
    .left_join(products_table)
    .on(products_table.id == _need.product_id)
    .select(_need.product_id)
    .where(
        products_table.id.isnull()
        | (products_table.stock < _need.units)
        | (_need.fractional & (products_table.sale_type != "fractional"))
    )
)
_INSERT_PRESALE = (
    Query.into(presales_table)
    .columns(*PRESALE_COLUMNS)
    .select(*placeholders(len(PRESALE_COLUMNS)))
    .where(
        (
            P[_METHOD].isnull()
            | ExistsCriterion(Query.from_(_locked_method).select(_locked_method.id).where(_locked_method.is_active))
        )
        & ExistsCriterion(_unmet_need).negate()
    )
    .get_sql()
)
# The needs as rows: set-returning functions in one select list advance together (arrays of one length).
_NEEDS = Query.select(
    *(
        Function("unnest", Cast(P[number], f"{type_}[]")).as_(column)
        for number, (column, type_) in enumerate(NEED_COLUMNS.items(), start=_NEED_AT)
    )
).get_sql()
CREATE = (
    f'WITH "pm" AS ({_share_locked_method(_METHOD)}),'
    f'"need" AS ({_NEEDS}),'
    f'"ps" AS ({_INSERT_PRESALE} RETURNING *),'
    f'"pi" AS (INSERT INTO "presale_items" ({",".join(ITEM_COLUMNS)}) SELECT {_ITEM_VALUES}'
    f' FROM "ps",unnest({_ITEM_ARRAYS}) AS "i"({",".join(NEW_ITEM_COLUMNS)}) RETURNING *),'
    f'"audit" AS ({audit_rows_of("ps", 10 + len(NEW_ITEM_COLUMNS))}) '
    + _whole_presale(Table("ps"), Table("pi")).get_sql()
)


def create(
    presale: dict[str, Any],
    item_rows: list[dict[str, Any]],
    audit: dict[str, Any],
    needs: list[dict[str, Any]] | None = None,
) -> Statement:
    """The pre-sale's columns, its items' (without presale_id), its audit row's values (audit_values) and, to have
    the statement check the products, their needs (NEED_COLUMNS' keys; none: the caller checked them)."""
    return (
        CREATE,
        *(presale[column] for column in PRESALE_COLUMNS),
        *columns_of(item_rows, NEW_ITEM_COLUMNS),
        *audit_params(audit),
        *columns_of(needs or [], NEED_COLUMNS),
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


def products_by_id(product_ids: list[uuid.UUID], customer_id: uuid.UUID | None = None) -> Statement:
    return (PRODUCTS_BY_ID, product_ids, customer_id)


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
