"""Single-table lists keep each statement text PyPika wrote, by the shape of the request (service/db/pages.py):
whatever the order of requests, every statement must be what PyPika writes for that request alone."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from pypika import PostgreSQLQuery as Query
from pypika.terms import Criterion

from service.customers import queries as customer_queries
from service.customers.schemas import CustomerListQuery
from service.db.pages import count_statement, page_statement
from service.db.sql import Params
from service.payment_methods import queries as method_queries
from service.payment_methods.schemas import PaymentMethodListQuery
from service.products import queries as product_queries
from service.products.schemas import ProductListQuery

LISTS: dict[str, tuple[Any, type, Callable[..., list[Criterion]], list[dict[str, str]]]] = {
    "customers": (customer_queries, CustomerListQuery, customer_queries._filters, [
        {}, {"search": "ana"}, {"search": "100%_off"}, {"name": "silva", "email": "x@y"}, {"cpf": "123"},
        {"sortBy": "createdAt", "sortOrder": "desc", "page": "4", "limit": "7"}, {"search": "b", "page": "2"},
    ]),
    "products": (product_queries, ProductListQuery, product_queries._filters, [
        {}, {"search": "arroz"}, {"minStock": "1"}, {"maxStock": "9"}, {"minStock": "0", "maxStock": "0"},
        {"code": "A1", "saleType": "unit", "sortBy": "stock"}, {"name": "feijão", "sortOrder": "desc"},
    ]),
    "payment methods": (method_queries, PaymentMethodListQuery, method_queries._filters, [
        {}, {"isActive": "true"}, {"isActive": "false", "search": "pix"}, {"sortBy": "code", "limit": "3"},
    ]),
}


def rendered_alone(module: Any, q: Any, filters: Callable[..., list[Criterion]]) -> tuple[Any, ...]:
    """What PyPika writes for this request with nothing kept from earlier ones."""
    p = Params()
    page = page_statement(p, _table(module), module.COLUMNS, filters(q, p), q)
    p = Params()
    where = filters(q, p)
    counted = count_statement(p, Query.from_(_table(module)).where(Criterion.all(where)), filtered=bool(where))
    return page, counted


def _table(module: Any) -> Any:
    return {customer_queries: customer_queries.customers, product_queries: product_queries.products,
            method_queries: method_queries.payment_methods}[module]


@pytest.mark.parametrize("name", LISTS)
def test_kept_statements_are_what_pypika_writes_for_each_request(name: str) -> None:
    module, query_class, filters, requests = LISTS[name]
    queries = [query_class.from_query(params) for params in requests]
    for q in itertools.chain(queries, reversed(queries), queries):  # every order: kept texts are reused
        page, counted = rendered_alone(module, q, filters)
        assert module.page(q) == page
        assert module.count(q) == counted
