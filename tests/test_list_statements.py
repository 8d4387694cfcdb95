"""Lists keep each statement text PyPika wrote, by the shape of the request (StatementTexts, the one cache of
statement texts: service/db/pages.py and the pre-sale list): whatever the order of requests, every statement
must be what PyPika writes for that request alone."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika.queries import QueryBuilder

from service.customers import queries as customer_queries
from service.customers.schemas import CustomerListQuery
from service.db.pages import count_statement, page_statement
from service.db.sql import Params, StatementTexts
from service.payment_methods import queries as method_queries
from service.payment_methods.schemas import PaymentMethodListQuery
from service.presales import queries as presale_queries
from service.presales.schemas import PresaleListQuery
from service.products import queries as product_queries
from service.products.schemas import ProductListQuery

# module, the table it reads (its alias), the name of its kept row count, the query class, requests
LISTS: dict[str, tuple[Any, Table, str | None, type, list[dict[str, str]]]] = {
    "customers": (
        customer_queries,
        customer_queries.c,
        "customers",
        CustomerListQuery,
        [
            {},
            {"search": "ana"},
            {"search": "100%_off"},
            {"name": "silva", "email": "x@y"},
            {"cpf": "123"},
            {"sortBy": "createdAt", "sortOrder": "desc", "page": "4", "limit": "7"},
            {"search": "b", "page": "2"},
        ],
    ),
    "products": (
        product_queries,
        product_queries.pr,
        "products",
        ProductListQuery,
        [
            {},
            {"search": "arroz"},
            {"minStock": "1"},
            {"maxStock": "9"},
            {"minStock": "0", "maxStock": "0"},
            {"code": "A1", "saleType": "unit", "sortBy": "stock"},
            {"name": "feijão", "sortOrder": "desc"},
        ],
    ),
    "payment methods": (
        method_queries,
        method_queries.payment_methods,
        None,
        PaymentMethodListQuery,
        [
            {},
            {"isActive": "true"},
            {"isActive": "false", "search": "pix"},
            {"sortBy": "code", "limit": "3"},
        ],
    ),
}


def rendered_alone(module: Any, table: Table, kept: str | None, q: Any) -> tuple[Any, ...]:
    """What PyPika writes for this request with nothing kept from earlier ones."""
    p = Params()
    page = page_statement(p, table, module.COLUMNS, module._filters(q, p), q)
    p = Params()
    return page, count_statement(p, lambda: Query.from_(table), module._filters(q, p), kept=kept)


@pytest.mark.parametrize("name", LISTS)
def test_kept_statements_are_what_pypika_writes_for_each_request(name: str) -> None:
    module, table, kept_count, query_class, requests = LISTS[name]
    queries = [query_class.from_query(params) for params in requests]
    for q in itertools.chain(queries, reversed(queries), queries):  # every order: kept texts are reused
        page, counted = rendered_alone(module, table, kept_count, q)
        assert module.page(q) == page
        kept = module.count(q)
        assert (kept.count, kept.estimate, kept.limit, kept.filtered) == (
            counted.count,
            counted.estimate,
            counted.limit,
            counted.filtered,
        )


PRESALE_REQUESTS = [
    {},
    {"status": ["pending"]},
    {"status": ["pending", "approved"]},
    {"customerName": "ana"},
    {"search": "bia"},
    {"customerName": "ana", "search": "bia"},
    {"dateFrom": "2026-01-01", "dateTo": "2026-02-01"},
    {"sortBy": "total", "sortOrder": "asc", "page": "3", "limit": "7"},
    {"customerId": str(uuid.uuid4())},
]


def test_kept_presale_list_statements_are_what_pypika_writes_for_each_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-sale list joins customers: conditions on either table, with or without an owner, never share a
    text."""
    kept = presale_queries.TEXTS
    requests = [
        (PresaleListQuery.from_query(params), owner) for params in PRESALE_REQUESTS for owner in (None, uuid.uuid4())
    ]
    for q, owner in itertools.chain(requests, reversed(requests), requests):
        monkeypatch.setattr(presale_queries, "TEXTS", StatementTexts())  # nothing kept: rendered alone
        page, counted = presale_queries.page(q, owner), presale_queries.count(q, owner)
        monkeypatch.setattr(presale_queries, "TEXTS", kept)
        assert presale_queries.page(q, owner) == page
        assert presale_queries.count(q, owner) == counted


def test_kept_texts_are_bounded_and_written_again_past_the_bound() -> None:
    texts = StatementTexts(limit=2)
    built: list[str] = []

    def statement(name: str, value: int) -> tuple[object, ...]:
        p = Params()
        placeholder = p(value)

        def build() -> QueryBuilder:
            built.append(name)
            return Query.from_(Table(name)).select("*").where(Table(name).id == placeholder)

        return texts.statement(p, name, build)

    assert statement("a", 1) == ('SELECT * FROM "a" WHERE "id"=$1', 1)
    assert statement("a", 2) == ('SELECT * FROM "a" WHERE "id"=$1', 2) and built == ["a"]  # kept: not built again
    statement("b", 3)
    assert statement("c", 4) == ('SELECT * FROM "c" WHERE "id"=$1', 4)  # the third shape clears the two kept
    assert len(texts.texts) == 1
    assert statement("a", 5) == ('SELECT * FROM "a" WHERE "id"=$1', 5) and built == ["a", "b", "c", "a"]
