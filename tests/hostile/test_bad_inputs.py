"""Hostile input, table-driven: every endpoint family gets malformed, truncated, oversized, mistyped, unknown,
NUL-laden, unicode-broken and SQL-looking input.

Each row names the request and the one answer expected (status and `error.code`; a 200 for a search that simply
matches nothing). Every answer must be in the contract's envelope and never a 5xx, and the database must be
exactly as it was: the row count of every table is compared before and after.

Unicode decisions: lone surrogates (`"\\ud800"` escaped in JSON) cannot be stored as UTF-8, and the JSON decoder
refuses them: 400 BAD_REQUEST, like any malformed JSON. Emoji, right-to-left marks, combining characters and
other scripts are ordinary text and are accepted as sent (see test_unicode_text_is_stored_as_sent).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import (
    bearer,
    create_customer,
    create_presale,
    create_product,
    create_user,
    valid_cpf,
)

SQL_OR = "' OR 1=1 --"
SQL_DROP = "name; DROP TABLE customers"
SQL_DROP_Q = "name%3B%20DROP%20TABLE%20customers"  # the same, percent-encoded for a raw query string
SQL_OR_Q = "%27%20OR%201%3D1%20--"
HUGE_INT = "99999999999999999999"
MISSING_ID = "00000000-0000-4000-8000-000000000000"
LONG = "x" * 10_000
JSON_CT = {"Content-Type": "application/json"}
NO_BODY = object()
WORLD_CPF = "23456789092"


@dataclass
class Case:
    id: str
    method: str
    path: str  # may name <customer>, <product>, <presale>, <pm>, <user>, <employee>, <admin>
    status: int
    code: str | None  # None for a 2xx
    body: Any = NO_BODY  # a JSON value, sent with json=
    raw: bytes | None = None  # sent as is, with `headers`
    headers: dict[str, str] = field(default_factory=dict)
    who: str = "admin"  # admin, none (no token), nobody (a user without any permission), employee


def row(id: str, method: str, path: str, status: int, code: str | None = None, **kw: Any) -> Any:
    return pytest.param(Case(id, method, path, status, code, **kw), id=id)


def customer(**changes: Any) -> dict[str, Any]:
    body = {"name": "Maria", "email": "maria.hostile@example.com", "phone": "(11) 98765-4321", "cpf": "529.982.247-25"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def product(**changes: Any) -> dict[str, Any]:
    body = {"name": "Café", "unit": "un", "stock": 1, "purchasePrice": "1.00", "salePrice": "2.00", "saleType": "unit"}
    body.update(changes)
    return body


def presale(**item_changes: Any) -> dict[str, Any]:
    item = {"productId": "<product>", "quantity": "1", "unitPrice": "15.00", **item_changes}
    return {"customerId": "<customer>", "items": [item]}


def adjust(**changes: Any) -> dict[str, Any]:
    return {"adjustmentType": "add", "quantity": 1, "reason": "Hostile", **changes}


ADJUST = "/api/products/<product>/stock-adjustment"
V = "VALIDATION_ERROR"
BAD = "BAD_REQUEST"
MEDIA = "UNSUPPORTED_MEDIA_TYPE"

CASES = [
    # --- auth ------------------------------------------------------------------------------------------------
    row(
        "login-truncated-json",
        "POST",
        "/api/auth/login",
        400,
        BAD,
        who="none",
        raw=b'{"email": "admin@example.com", "password": "s3cret',
        headers=JSON_CT,
    ),
    row(
        "login-malformed-json", "POST", "/api/auth/login", 400, BAD, who="none", raw=b"{email: admin}", headers=JSON_CT
    ),
    row(
        "login-not-utf8", "POST", "/api/auth/login", 400, BAD, who="none", raw=b'{"email": "\xff\xfe"}', headers=JSON_CT
    ),
    row("login-no-body", "POST", "/api/auth/login", 422, V, who="none", headers=JSON_CT),
    row("login-array-body", "POST", "/api/auth/login", 422, V, who="none", body=[]),
    row("login-null-body", "POST", "/api/auth/login", 422, V, who="none", body=None),
    row("login-email-wrong-type", "POST", "/api/auth/login", 422, V, who="none", body={"email": 123, "password": "x"}),
    row("login-missing-password", "POST", "/api/auth/login", 422, V, who="none", body={"email": "admin@example.com"}),
    row(
        "login-nul-in-email",
        "POST",
        "/api/auth/login",
        422,
        V,
        who="none",
        body={"email": "admin@example.com\x00", "password": "x"},
    ),
    row(
        "login-lone-surrogate",
        "POST",
        "/api/auth/login",
        400,
        BAD,
        who="none",
        raw=b'{"email": "\\ud800@example.com", "password": "x"}',
        headers=JSON_CT,
    ),
    row(
        "login-email-too-long",
        "POST",
        "/api/auth/login",
        422,
        V,
        who="none",
        body={"email": LONG + "@example.com", "password": "x"},
    ),
    row(
        "login-sql-in-email",
        "POST",
        "/api/auth/login",
        401,
        "LOGIN_FAILED",
        who="none",
        body={"email": "admin@example.com' OR 1=1 --", "password": SQL_OR},
    ),
    row(
        "login-text-plain",
        "POST",
        "/api/auth/login",
        415,
        MEDIA,
        who="none",
        raw=b'{"email": "admin@example.com", "password": "s3cret-Passw0rd"}',
        headers={"Content-Type": "text/plain"},
    ),
    row(
        "login-form-encoded",
        "POST",
        "/api/auth/login",
        415,
        MEDIA,
        who="none",
        raw=b"email=admin%40example.com&password=s3cret-Passw0rd",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    row(
        "login-oversized",
        "POST",
        "/api/auth/login",
        413,
        "PAYLOAD_TOO_LARGE",
        who="none",
        raw=b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}',
        headers=JSON_CT,
    ),
    row(
        "me-garbage-token",
        "GET",
        "/api/auth/me",
        401,
        "INVALID_TOKEN",
        who="none",
        headers={"Authorization": "Bearer not.a.jwt"},
    ),
    row(
        "me-sql-token",
        "GET",
        "/api/auth/me",
        401,
        "INVALID_TOKEN",
        who="none",
        headers={"Authorization": f"Bearer {SQL_OR}"},
    ),
    row("refresh-no-token", "POST", "/api/auth/refresh", 401, "UNAUTHORIZED", who="none"),
    row(
        "register-no-token",
        "POST",
        "/api/auth/register",
        401,
        "UNAUTHORIZED",
        who="none",
        body={"name": "X", "email": "x@example.com", "password": "long enough", "role": "admin"},
    ),
    row(
        "register-as-employee",
        "POST",
        "/api/auth/register",
        403,
        "FORBIDDEN",
        who="employee",
        body={"name": "X", "email": "x@example.com", "password": "long enough", "role": "admin"},
    ),
    row(
        "register-short-password",
        "POST",
        "/api/auth/register",
        422,
        V,
        body={"name": "X", "email": "x@example.com", "password": "short", "role": "employee"},
    ),
    row(
        "register-unknown-role",
        "POST",
        "/api/auth/register",
        422,
        V,
        body={"name": "X", "email": "x@example.com", "password": "long enough", "role": "root"},
    ),
    row(
        "register-unknown-field",
        "POST",
        "/api/auth/register",
        422,
        V,
        body={
            "name": "X",
            "email": "x@example.com",
            "password": "long enough",
            "role": "employee",
            "isSuperuser": True,
        },
    ),
    row(
        "register-permissions-wrong-type",
        "POST",
        "/api/auth/register",
        422,
        V,
        body={
            "name": "X",
            "email": "x@example.com",
            "password": "long enough",
            "role": "employee",
            "permissions": "all",
        },
    ),
    row(
        "register-duplicate-email",
        "POST",
        "/api/auth/register",
        409,
        "USER_ALREADY_EXISTS",
        body={"name": "X", "email": "ADMIN@example.com", "password": "long enough", "role": "employee"},
    ),
    row(
        "register-sql-email",
        "POST",
        "/api/auth/register",
        422,
        V,
        body={"name": "X", "email": SQL_OR, "password": "long enough", "role": "employee"},
    ),
    # --- users -----------------------------------------------------------------------------------------------
    row("user-invalid-uuid", "GET", "/api/users/not-a-uuid", 422, V),
    row("user-sql-in-path", "GET", f"/api/users/{SQL_OR_Q}", 422, V),
    row("user-missing", "GET", f"/api/users/{MISSING_ID}", 404, "USER_NOT_FOUND"),
    row("users-as-employee", "GET", "/api/users", 403, "FORBIDDEN", who="employee"),
    row("user-update-empty", "PUT", "/api/users/<employee>", 422, V, body={}),
    row("user-update-role-number", "PUT", "/api/users/<employee>", 422, V, body={"role": 1}),
    row("user-update-name-null", "PUT", "/api/users/<employee>", 422, V, body={"name": None}),
    row(
        "user-update-permissions-partial",
        "PUT",
        "/api/users/<employee>",
        422,
        V,
        body={"permissions": {"modules": {"products": True}}},
    ),
    row("user-delete-self", "DELETE", "/api/users/<admin>", 400, "CANNOT_DELETE_SELF"),
    # --- customers -------------------------------------------------------------------------------------------
    row("customer-cpf-repeated-digits", "POST", "/api/customers", 422, V, body=customer(cpf="111.111.111-11")),
    row("customer-cpf-bad-check-digit", "POST", "/api/customers", 422, V, body=customer(cpf="52998224726")),
    row("customer-cpf-letters", "POST", "/api/customers", 422, V, body=customer(cpf="529.982.247-2X")),
    row("customer-cpf-number", "POST", "/api/customers", 422, V, body=customer(cpf=52998224725)),
    row("customer-cpf-too-long", "POST", "/api/customers", 422, V, body=customer(cpf="5" * 1000)),
    row("customer-name-too-long", "POST", "/api/customers", 422, V, body=customer(name=LONG)),
    row("customer-name-nul", "POST", "/api/customers", 422, V, body=customer(name="Ma\x00ria")),
    row("customer-name-blank", "POST", "/api/customers", 422, V, body=customer(name=" \t ")),
    row("customer-name-list", "POST", "/api/customers", 422, V, body=customer(name=["Maria"])),
    row(
        "customer-name-lone-surrogate",
        "POST",
        "/api/customers",
        400,
        BAD,
        headers=JSON_CT,
        raw=json.dumps(customer(name="\ud800Maria")).encode(),
    ),
    row(
        "customer-reversed-surrogates",
        "POST",
        "/api/customers",
        400,
        BAD,
        headers=JSON_CT,
        raw=json.dumps(customer(name="\udc00\ud800")).encode(),
    ),
    row(
        "customer-name-not-utf8",
        "POST",
        "/api/customers",
        400,
        BAD,
        headers=JSON_CT,
        raw=json.dumps(customer(name="NAME")).replace("NAME", "Jo\\xe3o").encode().replace(b"\\xe3", b"\xe3"),
    ),
    row("customer-missing-email", "POST", "/api/customers", 422, V, body=customer(email=None)),
    row("customer-sql-email", "POST", "/api/customers", 422, V, body=customer(email=SQL_OR)),
    row("customer-unknown-field", "POST", "/api/customers", 422, V, body=customer(id=MISSING_ID)),
    row("customer-array-body", "POST", "/api/customers", 422, V, body=[customer()]),
    row("customer-address-nul", "POST", "/api/customers", 422, V, body=customer(address="Rua\x00")),
    row("customer-phone-sql", "POST", "/api/customers", 422, V, body=customer(phone=SQL_DROP)),
    row(
        "customer-oversized",
        "POST",
        "/api/customers",
        413,
        "PAYLOAD_TOO_LARGE",
        headers=JSON_CT,
        raw=json.dumps(customer(address="y" * (2 * 1024 * 1024))).encode(),
    ),
    row(
        "customer-form-encoded",
        "POST",
        "/api/customers",
        415,
        MEDIA,
        raw=b"name=Maria&email=m%40example.com&phone=11987654321&cpf=52998224725",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    row(
        "customer-text-plain",
        "POST",
        "/api/customers",
        415,
        MEDIA,
        raw=json.dumps(customer()).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    ),
    row("customer-duplicate-cpf", "POST", "/api/customers", 409, "CONFLICT", body=customer(cpf="<customer_cpf>")),
    row(
        "customer-duplicate-email-case",
        "POST",
        "/api/customers",
        409,
        "CONFLICT",
        body=customer(email="<customer_email_upper>"),
    ),
    row("customer-invalid-uuid", "GET", "/api/customers/12345", 422, V),
    row("customer-nul-in-path", "GET", "/api/customers/%00", 422, V),
    row("customer-not-utf8-in-path", "GET", "/api/customers/%FF", 422, V),
    row("customer-missing", "GET", f"/api/customers/{MISSING_ID}", 404, "NOT_FOUND"),
    row("customer-update-empty", "PUT", "/api/customers/<customer>", 422, V, body={}),
    row("customer-update-bad-cpf", "PUT", "/api/customers/<customer>", 422, V, body={"cpf": "000.000.000-00"}),
    row("customer-delete-with-presales", "DELETE", "/api/customers/<customer>", 409, "CONFLICT"),
    row("customers-as-nobody", "GET", "/api/customers", 403, "FORBIDDEN", who="nobody"),
    row("customers-no-token", "GET", "/api/customers", 401, "UNAUTHORIZED", who="none"),
    row("customers-search-sql-or", "GET", f"/api/customers?search={SQL_OR_Q}", 200),
    row("customers-search-sql-drop", "GET", f"/api/customers?search={SQL_DROP_Q}", 200),
    row("customers-filters-sql", "GET", f"/api/customers?name={SQL_OR_Q}&email={SQL_DROP_Q}&cpf=1%27--", 200),
    row("customers-sortby-sql", "GET", f"/api/customers?sortBy={SQL_DROP_Q}", 422, V),
    row("customers-sortorder-sql", "GET", f"/api/customers?sortOrder={SQL_OR_Q}", 422, V),
    row("customers-search-nul", "GET", "/api/customers?search=ab%00cd", 422, V),
    row("customers-search-not-utf8", "GET", "/api/customers?search=%FF%FE", 200),
    row("customers-search-too-long", "GET", f"/api/customers?search={'x' * 300}", 422, V),
    row("customers-page-huge", "GET", f"/api/customers?page={HUGE_INT}", 422, V),
    row("customers-limit-negative", "GET", "/api/customers?limit=-1", 422, V),
    row("customers-limit-fractional", "GET", "/api/customers?limit=1.5", 422, V),
    row("customers-page-1e400", "GET", "/api/customers?page=1e400", 422, V),
    # --- products --------------------------------------------------------------------------------------------
    row("product-stock-negative", "POST", "/api/products", 422, V, body=product(stock=-1)),
    row("product-stock-fractional", "POST", "/api/products", 422, V, body=product(stock=1.5)),
    row("product-stock-string", "POST", "/api/products", 422, V, body=product(stock="10")),
    row(
        "product-stock-huge",
        "POST",
        "/api/products",
        422,
        V,
        raw=json.dumps(product(stock=0)).replace('"stock": 0', f'"stock": {HUGE_INT}').encode(),
        headers=JSON_CT,
    ),
    row(
        "product-price-1e400",
        "POST",
        "/api/products",
        400,
        BAD,
        headers=JSON_CT,
        raw=json.dumps(product()).replace('"salePrice": "2.00"', '"salePrice": 1e400').encode(),
    ),
    row("product-price-float", "POST", "/api/products", 422, V, body=product(salePrice=2.5)),
    row("product-price-huge", "POST", "/api/products", 422, V, body=product(salePrice=HUGE_INT)),
    row("product-price-negative", "POST", "/api/products", 422, V, body=product(purchasePrice="-1.00")),
    row("product-price-three-decimals", "POST", "/api/products", 422, V, body=product(salePrice="2.001")),
    row("product-price-nan", "POST", "/api/products", 422, V, body=product(salePrice="NaN")),
    row(
        "product-price-below-cost",
        "POST",
        "/api/products",
        422,
        V,
        body=product(purchasePrice="5.00", salePrice="4.99"),
    ),
    row("product-code-sql", "POST", "/api/products", 422, V, body=product(code=SQL_OR)),
    row("product-code-ligature", "POST", "/api/products", 422, V, body=product(code="\ufb00")),
    row("product-unit-too-long", "POST", "/api/products", 422, V, body=product(unit="u" * 21)),
    row(
        "product-missing-name",
        "POST",
        "/api/products",
        422,
        V,
        body={k: v for k, v in product().items() if k != "name"},
    ),
    row("product-duplicate-code", "POST", "/api/products", 409, "CONFLICT", body=product(code="<product_code>")),
    row("product-update-code", "PUT", "/api/products/<product>", 422, V, body={"code": "NEW1"}),
    row("product-update-stock-null", "PUT", "/api/products/<product>", 422, V, body={"stock": None}),
    row("product-as-nobody", "POST", "/api/products", 403, "FORBIDDEN", who="nobody", body=product()),
    row("product-invalid-uuid", "GET", "/api/products/PROD0000001", 422, V),
    row("product-missing", "DELETE", f"/api/products/{MISSING_ID}", 404, "NOT_FOUND"),
    row("product-delete-in-use", "DELETE", "/api/products/<product>", 409, "CONFLICT"),
    row("products-search-sql", "GET", f"/api/products?search={SQL_OR_Q}&code={SQL_DROP_Q}", 200),
    row("products-filters-sql", "GET", f"/api/products?name={SQL_OR_Q}&saleType={SQL_DROP_Q}", 200),
    row("products-search-like-wildcards", "GET", "/api/products?search=%25%5C_%25", 200),
    row("products-sortby-sql", "GET", f"/api/products?sortBy={SQL_DROP_Q}", 422, V),
    row("products-sortorder-sql", "GET", "/api/products?sortOrder=asc%3B%20DROP%20TABLE%20products", 422, V),
    row("products-minstock-negative", "GET", "/api/products?minStock=-1", 422, V),
    row("products-maxstock-huge", "GET", f"/api/products?maxStock={HUGE_INT}", 422, V),
    row("products-minstock-text", "GET", f"/api/products?minStock={SQL_OR_Q}", 422, V),
    # --- pre-sales -------------------------------------------------------------------------------------------
    row("presale-quantity-negative", "POST", "/api/presales", 422, V, body=presale(quantity="-1")),
    row("presale-quantity-zero", "POST", "/api/presales", 422, V, body=presale(quantity="0")),
    row("presale-quantity-fraction-of-unit", "POST", "/api/presales", 422, V, body=presale(quantity="1.5")),
    row("presale-quantity-four-decimals", "POST", "/api/presales", 422, V, body=presale(quantity="0.0001")),
    row("presale-quantity-float", "POST", "/api/presales", 422, V, body=presale(quantity=1.5)),
    row("presale-quantity-huge", "POST", "/api/presales", 422, V, body=presale(quantity=HUGE_INT)),
    row(
        "presale-quantity-1e400",
        "POST",
        "/api/presales",
        400,
        BAD,
        headers=JSON_CT,
        raw=b'{"customerId": "<customer>", "items": [{"productId": "<product>", "quantity": 1e400,'
        b' "unitPrice": "15.00"}]}',
    ),
    row(
        "presale-quantity-over-stock", "POST", "/api/presales", 409, "INSUFFICIENT_STOCK", body=presale(quantity="1000")
    ),
    row(
        "presale-customer-invalid-uuid",
        "POST",
        "/api/presales",
        422,
        V,
        body={**presale(), "customerId": "'; DROP TABLE presales; --"},
    ),
    row(
        "presale-customer-missing",
        "POST",
        "/api/presales",
        404,
        "NOT_FOUND",
        body={**presale(), "customerId": MISSING_ID},
    ),
    row("presale-product-missing", "POST", "/api/presales", 404, "NOT_FOUND", body=presale(productId=MISSING_ID)),
    row("presale-items-empty", "POST", "/api/presales", 422, V, body={**presale(), "items": []}),
    row(
        "presale-items-too-many", "POST", "/api/presales", 422, V, body={**presale(), "items": presale()["items"] * 101}
    ),
    row("presale-items-not-list", "POST", "/api/presales", 422, V, body={**presale(), "items": {"0": "x"}}),
    row("presale-status-converted", "POST", "/api/presales", 422, V, body={**presale(), "status": "converted"}),
    row(
        "presale-discount-percentage-over",
        "POST",
        "/api/presales",
        422,
        V,
        body={**presale(), "discountType": "percentage", "discountPercentage": "100.01"},
    ),
    row("presale-item-unknown-field", "POST", "/api/presales", 422, V, body=presale(total="0.01")),
    row("presale-notes-nul", "POST", "/api/presales", 422, V, body={**presale(), "notes": "a\x00b"}),
    row("presale-status-sql", "PATCH", "/api/presales/<presale>/status", 422, V, body={"status": SQL_OR}),
    row("presale-status-bad-transition", "PATCH", "/api/presales/<presale>/status", 400, BAD, body={"status": "draft"}),
    row(
        "presale-status-missing",
        "PATCH",
        f"/api/presales/{MISSING_ID}/status",
        404,
        "NOT_FOUND",
        body={"status": "approved"},
    ),
    row("presale-convert-invalid-uuid", "POST", "/api/presales/1%20OR%201=1/convert", 422, V),
    row("presale-update-items-empty", "PUT", "/api/presales/<presale>", 422, V, body={"items": []}),
    row("presale-delete-missing", "DELETE", f"/api/presales/{MISSING_ID}", 404, "NOT_FOUND"),
    row("presales-sortby-sql", "GET", "/api/presales?sortBy=createdAt%3B%20DROP%20TABLE%20presales", 422, V),
    row("presales-sortorder-sql", "GET", f"/api/presales?sortOrder={SQL_OR_Q}", 422, V),
    row("presales-status-sql", "GET", f"/api/presales?status={SQL_OR_Q}", 422, V),
    row("presales-search-sql", "GET", f"/api/presales?search={SQL_OR_Q}&customerName={SQL_DROP_Q}", 200),
    row("presales-date-invalid", "GET", "/api/presales?dateFrom=2024-13-45", 422, V),
    row("presales-customer-id-sql", "GET", f"/api/presales?customerId={SQL_OR_Q}", 422, V),
    row("presales-search-nul", "GET", "/api/presales?search=%00", 422, V),
    # --- payment methods -------------------------------------------------------------------------------------
    row("pm-description-empty", "POST", "/api/payment-methods", 422, V, body={"description": ""}),
    row("pm-description-one-char", "POST", "/api/payment-methods", 422, V, body={"description": "x"}),
    row("pm-description-nul", "POST", "/api/payment-methods", 422, V, body={"description": "Pix\x00"}),
    row("pm-description-too-long", "POST", "/api/payment-methods", 422, V, body={"description": LONG}),
    row(
        "pm-is-active-string", "POST", "/api/payment-methods", 422, V, body={"description": "Pix 2", "isActive": "yes"}
    ),
    row("pm-unknown-field", "POST", "/api/payment-methods", 422, V, body={"description": "Pix 2", "owner": "me"}),
    row(
        "pm-as-employee",
        "POST",
        "/api/payment-methods",
        403,
        "FORBIDDEN",
        who="employee",
        body={"description": "Pix 2"},
    ),
    row("pm-status-number", "PATCH", "/api/payment-methods/<pm>/status", 422, V, body={"isActive": 1}),
    row("pm-update-empty", "PUT", "/api/payment-methods/<pm>", 422, V, body={}),
    row("pm-invalid-uuid", "DELETE", "/api/payment-methods/PM0001", 422, V),
    row("pm-delete-in-use", "DELETE", "/api/payment-methods/<pm>", 409, "CONFLICT"),
    row("pms-is-active-bogus", "GET", "/api/payment-methods?isActive=maybe", 422, V),
    row("pms-search-sql", "GET", f"/api/payment-methods?search={SQL_OR_Q}", 200),
    row("pms-sortby-sql", "GET", "/api/payment-methods?sortBy=description%3B%20DROP%20TABLE%20payment_methods", 422, V),
    row("pms-sortorder-sql", "GET", f"/api/payment-methods?sortOrder={SQL_OR_Q}", 422, V),
    # --- stock adjustments -----------------------------------------------------------------------------------
    row("adjust-quantity-negative", "POST", ADJUST, 422, V, body=adjust(quantity=-5)),
    row("adjust-quantity-zero", "POST", ADJUST, 422, V, body=adjust(quantity=0)),
    row("adjust-quantity-fractional", "POST", ADJUST, 422, V, body=adjust(quantity=2.5)),
    row("adjust-quantity-string", "POST", ADJUST, 422, V, body=adjust(quantity="10")),
    row("adjust-quantity-bool", "POST", ADJUST, 422, V, body=adjust(quantity=True)),
    row("adjust-quantity-over-max", "POST", ADJUST, 422, V, body=adjust(quantity=1_000_000)),
    row(
        "adjust-quantity-huge",
        "POST",
        ADJUST,
        422,
        V,
        headers=JSON_CT,
        raw=f'{{"adjustmentType": "add", "quantity": {HUGE_INT}, "reason": "x"}}'.encode(),
    ),
    row(
        "adjust-quantity-1e400",
        "POST",
        ADJUST,
        400,
        BAD,
        headers=JSON_CT,
        raw=b'{"adjustmentType": "add", "quantity": 1e400, "reason": "x"}',
    ),
    row("adjust-remove-too-many", "POST", ADJUST, 400, BAD, body=adjust(adjustmentType="remove", quantity=999)),
    row("adjust-type-sql", "POST", ADJUST, 422, V, body=adjust(adjustmentType=SQL_OR)),
    row("adjust-reason-nul", "POST", ADJUST, 422, V, body=adjust(reason="\x00")),
    row("adjust-reason-too-long", "POST", ADJUST, 422, V, body=adjust(reason=LONG)),
    row("adjust-missing-reason", "POST", ADJUST, 422, V, body={"adjustmentType": "add", "quantity": 1}),
    row(
        "adjust-unknown-product",
        "POST",
        f"/api/products/{MISSING_ID}/stock-adjustment",
        404,
        "NOT_FOUND",
        body=adjust(),
    ),
    row("adjust-invalid-uuid", "POST", f"/api/products/{SQL_OR_Q}/stock-adjustment", 422, V, body=adjust()),
    row(
        "adjust-text-plain",
        "POST",
        ADJUST,
        415,
        MEDIA,
        raw=json.dumps(adjust()).encode(),
        headers={"Content-Type": "text/plain"},
    ),
    row("adjust-no-token", "POST", ADJUST, 401, "UNAUTHORIZED", who="none", body=adjust()),
    row("history-product-code-sql", "GET", f"/api/stock-adjustments?productCode={SQL_OR_Q}&sortBy={SQL_DROP_Q}", 200),
    row(
        "history-type-sql",
        "GET",
        "/api/stock-adjustments?adjustmentType=add%3B%20DROP%20TABLE%20stock_adjustments",
        422,
        V,
    ),
    row("history-start-date-bad", "GET", "/api/stock-adjustments?startDate=yesterday", 422, V),
    row("history-product-id-bad", "GET", "/api/stock-adjustments?productId=1", 422, V),
    row("history-page-zero", "GET", "/api/stock-adjustments?page=0", 422, V),
    # --- reports ---------------------------------------------------------------------------------------------
    row("report-start-sql", "GET", f"/api/reports/summary?startDate={SQL_OR_Q}&endDate=2025-01-01", 422, V),
    row("report-start-only", "GET", "/api/reports/summary?startDate=2025-01-01", 422, V),
    row(
        "report-pm-id-sql", "GET", "/api/reports/payment-methods?paymentMethodId=x%3B%20DROP%20TABLE%20presales", 422, V
    ),
    row(
        "report-start-after-end", "GET", "/api/reports/payment-methods?startDate=2025-02-01&endDate=2025-01-01", 422, V
    ),
    row("report-start-in-future", "GET", "/api/reports/summary?startDate=2999-01-01&endDate=2999-12-31", 422, V),
    row(
        "report-date-overflow",
        "GET",
        "/api/reports/summary?startDate=9999-12-31T23:59:59-23:59&endDate=9999-12-31",
        422,
        V,
    ),
    row("report-as-nobody", "GET", "/api/reports/summary", 403, "FORBIDDEN", who="nobody"),
    # --- audit log -------------------------------------------------------------------------------------------
    row("audit-action-sql", "GET", f"/api/audit-logs?action={SQL_OR_Q}", 422, V),
    row(
        "audit-resource-sql",
        "GET",
        f"/api/audit-logs?resource=customers%3B%20DROP%20TABLE%20audit_logs&sortBy={SQL_DROP_Q}",
        200,
    ),
    row("audit-user-id-bad", "GET", f"/api/audit-logs?userId={SQL_OR_Q}", 422, V),
    row("audit-recent-limit-huge", "GET", "/api/audit-logs/recent?limit=1000", 422, V),
    row("audit-recent-limit-text", "GET", "/api/audit-logs/recent?limit=abc", 422, V),
    row("audit-as-manager-less", "GET", "/api/audit-logs", 403, "FORBIDDEN", who="employee"),
    # --- routing ---------------------------------------------------------------------------------------------
    row("unknown-route", "GET", "/api/customers-admin", 404, "NOT_FOUND"),
    row("unknown-route-nul", "GET", "/api/%00", 404, "NOT_FOUND"),
    row("wrong-method", "PATCH", "/api/customers", 405, "METHOD_NOT_ALLOWED", body={}),
]


async def table_counts(db: asyncpg.Connection) -> dict[str, int]:
    # rate_limits is not data: a refused request still takes its rate-limit slot (stock routes, login).
    tables = [
        r["tablename"]
        for r in await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'rate_limits' ORDER BY 1"
        )
    ]
    return {t: await db.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}


@pytest.fixture
async def world(db: asyncpg.Connection, admin: asyncpg.Record, settings: Settings) -> dict[str, Any]:
    """A customer with a pending pre-sale of a product (stock 5) paid with a seeded payment method, an employee
    and a user without any permission."""
    # Digits in a search also match CPFs (by design): this CPF holds no 1, so "' OR 1=1 --" matches nothing.
    cust = await create_customer(db, cpf=WORLD_CPF)
    prod = await create_product(db, stock=5, sale_price=Decimal("15.00"))
    sale = await create_presale(db, cust["id"], [(prod["id"], Decimal(1), Decimal("15.00"))], created_by=admin["id"])
    pm = await db.fetchval("SELECT id FROM payment_methods ORDER BY code LIMIT 1")
    await db.execute("UPDATE presales SET payment_method_id = $1 WHERE id = $2", pm, sale["id"])
    employee = await create_user(db, "employee")
    nobody = await create_user(db, "employee", permissions={"modules": {}, "presales": {}})
    return {
        "values": {
            "<customer>": str(cust["id"]),
            "<product>": str(prod["id"]),
            "<presale>": str(sale["id"]),
            "<pm>": str(pm),
            "<employee>": str(employee["id"]),
            "<admin>": str(admin["id"]),
            "<customer_cpf>": cust["cpf"],
            "<customer_email_upper>": cust["email"].upper(),
            "<product_code>": prod["code"],
        },
        "headers": {
            "admin": bearer(settings, admin),
            "employee": bearer(settings, employee),
            "nobody": bearer(settings, nobody),
            "none": {},
        },
    }


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _replace(value, values)
    if isinstance(value, bytes):
        for key, replacement in values.items():
            value = value.replace(key.encode(), replacement.encode())
        return value
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    return value


def _replace(text: str, values: dict[str, str]) -> str:
    for key, replacement in values.items():
        text = text.replace(key, replacement)
    return text


def assert_error_envelope(response: httpx.Response, case: Case) -> None:
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "error", "message", "timestamp", "path"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    if case.code is not None:
        assert body["error"]["code"] == case.code, response.text
    assert isinstance(body["message"], str) and body["message"] == body["error"]["message"]
    assert body["timestamp"].endswith("Z")
    assert body["path"] == response.request.url.path
    assert "Traceback" not in response.text and "asyncpg" not in response.text
    assert "SELECT" not in response.text and "DROP TABLE" not in body["message"]


@pytest.mark.parametrize("case", CASES)
async def test_hostile_input_is_refused_cleanly(
    case: Case, client: httpx.AsyncClient, db: asyncpg.Connection, world: dict[str, Any]
) -> None:
    values = world["values"]
    before = await table_counts(db)
    request: dict[str, Any] = {"headers": {**world["headers"][case.who], **case.headers}}
    if case.raw is not None:
        request["content"] = fill(case.raw, values)
    elif case.body is not NO_BODY:
        request["json"] = fill(case.body, values)
    response = await client.request(case.method, fill(case.path, values), **request)

    assert response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    if case.status >= 400:
        assert_error_envelope(response, case)
    else:  # a search made of SQL-looking text is just text that matches nothing
        body = response.json()
        assert body["success"] is True and body["data"] == [] and body["pagination"]["total"] == 0
    assert await table_counts(db) == before


def test_the_table_covers_every_endpoint_family() -> None:
    paths = " ".join(param.values[0].path for param in CASES)
    for family in (
        "/api/auth/login",
        "/api/auth/register",
        "/api/auth/me",
        "/api/users",
        "/api/customers",
        "/api/products",
        "/api/presales",
        "/api/payment-methods",
        "stock-adjustment",
        "/api/stock-adjustments",
        "/api/reports",
        "/api/audit-logs",
    ):
        assert family in paths, family
    assert len(CASES) >= 60
    assert len({param.values[0].id for param in CASES}) == len(CASES)


# --- unicode that is valid text -----------------------------------------------------------------------------

VALID_NAMES = [
    pytest.param("Café ☕ Coração 🇧🇷", id="emoji-and-flag"),
    pytest.param("\u200fمحمد\u200f", id="rtl-marks"),
    pytest.param("\u202eevil.exe", id="rtl-override"),
    pytest.param("Zoe\u0308 Ĳssel 김민준", id="combining-and-other-scripts"),
    pytest.param("𝕏" * 255, id="255-astral-characters"),
]


@pytest.mark.parametrize("name", VALID_NAMES)
async def test_unicode_text_is_stored_as_sent(
    name: str, client: httpx.AsyncClient, db: asyncpg.Connection, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/customers",
        headers=admin_headers,
        json=customer(name=name, email=f"u{uuid.uuid4().hex[:8]}@example.com", cpf=valid_cpf()),
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == name
    assert (
        await db.fetchval("SELECT name FROM customers WHERE id = $1", uuid.UUID(response.json()["data"]["id"])) == name
    )
    search = await client.get("/api/customers", params={"search": name[:40]}, headers=admin_headers)
    assert search.status_code == 200 and search.json()["pagination"]["total"] == 1
