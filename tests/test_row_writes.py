"""Row writes (service/db/sql.py RowWrites) keep the statement text PyPika wrote for each set of columns, and a
pre-sale's multi-row inserts for each number of rows: whatever the order of requests, every statement must be
what PyPika writes for that request alone. The route tests run them against PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.terms import Criterion

from service.customers import queries as customer_queries
from service.db.sql import Params, RowWrites, Statement
from service.payment_methods import queries as method_queries
from service.presales import queries as presale_queries
from service.products import queries as product_queries

WRITES = {"customers": customer_queries.WRITES, "products": product_queries.WRITES,
          "payment methods": method_queries.WRITES}

COLUMN_SETS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {"name": "Ana", "cpf": "52998224725"}, {"name": "Bia", "cpf": "11144477735", "email": None},
        {"email": "a@b.c"}, {"phone": "11 9999-0000", "address": "Rua A, 1", "name": "Caio"},
    ],
    "products": [
        {"code": "A1", "name": "Arroz", "sale_price": Decimal("9.90")}, {"stock": Decimal("2.000")},
        {"name": "Feijão", "description": None}, {"purchase_price": Decimal("1.00"), "sale_price": Decimal("2.00")},
    ],
    "payment methods": [{"code": "PM0001", "description": "Pix"}, {"is_active": False}, {"description": "Cartão"}],
}


def alone(writes: RowWrites, action: str, row_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    """What PyPika writes for this statement with nothing kept from earlier ones."""
    table, p = writes.table, Params()
    if action == "insert":
        return p.statement(Query.into(table).columns(*values).insert(*(p(v) for v in values.values()))
                           .returning(*writes.returning))
    if action == "update":
        query = Query.update(table)
        for column, value in values.items():
            query = query.set(table.field(column), p(value))
        return p.statement(query.where(Criterion.all([table.id == p(row_id)])).returning(*writes.returning))
    return p.statement(Query.from_(table).delete().where(table.id == p(row_id)).returning(table.id))


def issued(writes: RowWrites, action: str, row_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    if action == "insert":
        return writes.insert(values)
    if action == "update":
        return writes.update(row_id, values)
    return writes.delete(row_id)


@pytest.mark.parametrize("name", WRITES)
def test_kept_statements_are_what_pypika_writes_for_each_request(name: str) -> None:
    writes, column_sets = WRITES[name], COLUMN_SETS[name]
    requests = [(action, values) for values in column_sets for action in ("insert", "update", "delete")]
    for action, values in itertools.chain(requests, reversed(requests), requests):  # kept texts are reused
        row_id = uuid.uuid4()
        assert issued(writes, action, row_id, values) == alone(writes, action, row_id, values)


def test_an_update_with_conditions_of_its_own_is_written_for_its_values() -> None:
    """The products' price guards add conditions only for the prices sent: such a text is never kept."""
    row_id = uuid.uuid4()
    plain = product_queries.update(row_id, {"sale_price": Decimal("5.00")})
    guarded = product_queries.update(row_id, {"sale_price": Decimal("5.00")}, sale_at_least=Decimal("5.00"))
    assert guarded[0].startswith(plain[0].split(" RETURNING ")[0] + " AND ")
    assert guarded[1:] == (Decimal("5.00"), row_id, Decimal("5.00"))
    assert product_queries.update(row_id, {"sale_price": Decimal("5.00")}) == plain


def test_multi_row_inserts_are_what_pypika_writes_for_their_number_of_rows() -> None:
    def rows(n: int) -> list[dict[str, Any]]:
        return [{column: uuid.uuid4() for column in presale_queries.ITEM_COLUMNS} for _ in range(n)]

    for n in (3, 1, 2, 3, 1, 5):
        batch = rows(n)
        p = Params()
        query = Query.into(presale_queries.items_table).columns(*presale_queries.ITEM_COLUMNS)
        for row in batch:
            query = query.insert(*(p(row[column]) for column in presale_queries.ITEM_COLUMNS))
        assert presale_queries.insert_items(batch) == p.statement(query)

    # With a column PostgreSQL computes for each row (a conversion's stock history: created_at).
    columns = ("product_id", "adjustment_type", "quantity", "previous_stock", "new_stock", "reason", "user_id",
               "user_name", "user_agent", "presale_id")
    for n in (2, 1, 2):
        history = [{column: uuid.uuid4() for column in columns} for _ in range(n)]
        p = Params()
        query = Query.into(presale_queries.adjustments).columns(*columns, "created_at")
        for row in history:
            query = query.insert(*(p(row[column]) for column in columns), fn.Function("clock_timestamp"))
        assert presale_queries.insert_adjustments(history) == p.statement(query)
