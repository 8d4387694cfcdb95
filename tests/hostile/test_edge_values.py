"""Property: no input makes any route answer 5xx or log an error, whatever one parameter holds.

Every operation of the app's OpenAPI document is taken, with each of its slots: path parameters, query
parameters, the body's fields (one level into arrays of objects: a pre-sale's `items.0.quantity`) and the body
as a whole. Each example puts one slot at an edge of its type, in an otherwise valid request aimed at seeded
records (so the value reaches the handler and the database, not only the first validator): years 1 and 9999,
integers beyond int64 and numbers beyond numeric(12,2), NaN and Infinity (as JSON tokens and as strings),
decimals Python reads but PostgreSQL cannot store (`sNaN`, `1E+999999999`), NUL and lone surrogates,
strings near the 1 MiB body limit, repeated JSON keys and repeated query parameters, wrong JSON types, and
JSON nested thousands of levels deep; Hypothesis adds integers, floats and text (surrogates included) of its
own. The properties: never a 5xx; every 4xx is the contract's JSON error envelope; nothing is logged at
ERROR (a traceback means an input reached code that did not expect it).

Bounded and deterministic: Hypothesis runs derandomized with MAX_EXAMPLES per operation; the full matrix
(every slot with every listed edge, ~5,000 requests) is what `all_requests` yields, for a manual run
(README, "Hostile input").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from service.app import create_app
from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.support import LiveServer

MAX_EXAMPLES = 25
# EDGE_MATRIX=<file> runs every listed edge of every slot instead (~12,000 requests, minutes) and writes each
# answer to <file>, one JSON line: operation, slot, edge, status, error code, records logged at ERROR.
MATRIX_FILE = os.environ.get("EDGE_MATRIX")
BODY_LIMIT = 1024 * 1024
_SENTINEL = "\x00edge-value\x00"


def _document() -> dict[str, Any]:
    app = create_app(Settings(DATABASE_URL="postgresql://edges@127.0.0.1:1/edges", ENVIRONMENT="test"))
    return app.openapi_schema.to_schema()


# --- the edges -------------------------------------------------------------------------------------------

# A JSON value as raw text, so that tokens a JSON encoder would not write (NaN, a lone surrogate, a number
# beyond any float) reach the server as sent.
JSON_EDGES: dict[str, str] = {
    "year 1": '"0001-01-01"',
    "year 9999": '"9999-12-31"',
    "year 9999, last instant": '"9999-12-31T23:59:59.999999Z"',
    "year 0": '"0000-01-01"',
    "Feb 29 of a non-leap year": '"2023-02-29"',
    "int64 max + 1": "9223372036854775808",
    "int64 min - 1": "-9223372036854775809",
    "integer of 400 digits": "9" * 400,
    "negative integer": "-1",
    "zero": "0",
    "numeric(12,2) overflow (string)": '"10000000000.00"',
    "numeric(12,2) overflow (number)": "10000000000.00",
    "negative decimal string": '"-0.01"',
    "too many decimals": '"1.001"',
    "huge number string": '"' + "9" * 400 + '"',
    "float beyond double": "1e400",
    "negative float beyond double": "-1e400",
    "exponent string": '"1E+999999999"',
    "tiny float": "1e-400",
    "NaN token": "NaN",
    "Infinity token": "Infinity",
    "-Infinity token": "-Infinity",
    "NaN string": '"NaN"',
    "Infinity string": '"Infinity"',
    "-Infinity string": '"-Infinity"',
    "sNaN string": '"sNaN"',
    "NUL alone": '"\\u0000"',
    "NUL inside": '"a\\u0000b"',
    "lone high surrogate": '"\\ud800"',
    "lone low surrogate": '"x\\udfff"',
    "raw invalid UTF-8": '"\udcff"',  # the byte 0xFF once encoded (surrogateescape)
    "empty string": '""',
    "blank string": '"   "',
    "right-to-left override": '"\\u202e"',
    "long string (900 KB)": '"' + "x" * 900_000 + '"',
    "true": "true",
    "false": "false",
    "null": "null",
    "empty array": "[]",
    "array": '["a", 1]',
    "empty object": "{}",
    "object": '{"a": 1}',
    "deep array (5000 levels)": "[" * 5000 + "]" * 5000,
    "deep object (5000 levels)": '{"a":' * 5000 + "1" + "}" * 5000,
    "SQL": '"\' OR 1=1 --"',
}

# A query or path value, percent-encoded as it travels.
TEXT_EDGES: dict[str, str] = {
    "year 1": "0001-01-01",
    "year 9999": "9999-12-31",
    "year 9999, last instant": "9999-12-31T23:59:59.999999Z",
    "year 1 minus an offset": "0001-01-01T00:00:00%2B01:00",
    "year 9999 plus an offset": "9999-12-31T23:00:00-05:00",
    "year 0": "0000-01-01",
    "year 10000": "10000-01-01",
    "Feb 29 of a non-leap year": "2023-02-29",
    "Feb 29 of a leap year": "2024-02-29",
    "month 13": "2026-13-01",
    "day 0": "2026-01-00",
    "hour 24": "2026-01-01T24:00:00Z",
    "int64 max + 1": "9223372036854775808",
    "int64 min - 1": "-9223372036854775809",
    "integer of 400 digits": "9" * 400,
    "negative integer": "-1",
    "zero": "0",
    "decimal": "1.5",
    "exponent": "1e400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "NUL": "%00",
    "NUL inside": "a%00b",
    "encoded surrogate (invalid UTF-8)": "%ED%A0%80",
    "invalid UTF-8": "%FF",
    "empty": "",
    "blank": "%20%20",
    "long (6,000 characters)": "x" * 6000,
    "true": "true",
    "array-looking": "[]",
    "SQL": "%27%20OR%201%3D1%20--",
    "not a uuid": "not-a-uuid",
    "uuid without dashes": "00000000000040008000000000000000",
}

CALENDAR_EDGES = {
    "year 1",
    "year 9999",
    "year 9999, last instant",
    "year 1 minus an offset",
    "year 9999 plus an offset",
    "year 0",
    "year 10000",
    "Feb 29 of a non-leap year",
    "Feb 29 of a leap year",
    "month 13",
    "day 0",
    "hour 24",
}

# A whole body, as raw bytes.
BODY_EDGES: dict[str, bytes] = {
    "deep array (5000 levels)": b"[" * 5000 + b"]" * 5000,
    "deep object (5000 levels)": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "65 levels in a field": b'{"name": ' + b"[" * 65 + b"]" * 65 + b"}",
    "NaN token": b"NaN",
    "Infinity token": b"Infinity",
    "number beyond double": b"1e400",
    "lone surrogate": b'"\\ud800"',
    "string near the limit": b'"' + b"x" * (BODY_LIMIT - 100) + b'"',
    "array near the limit": b"[" + b"1," * ((BODY_LIMIT - 100) // 2) + b"1]",
    "many keys": b"{" + b",".join(b'"k%d": 1' % n for n in range(50_000)) + b"}",
    "trailing garbage": b'{"a": 1} x',
    "byte order mark": b'\xef\xbb\xbf{"a": 1}',
    "NUL byte": b"\x00",
    "empty": b"",
    "null": b"null",
    "string": b'"text"',
    "array": b"[]",
}

WITHIN_DEPTH = "[" * 63 + "]" * 63  # in a field of the body: 64 levels, the most decoded (then refused by validation)


# --- the operations and their slots --------------------------------------------------------------------

VALID_BODIES: dict[str, dict[str, Any]] = {
    "LoginRequest": {"email": "admin@example.com", "password": "not the password"},
    "UserCreate": {"name": "Edge", "email": "edge@example.com", "password": "long enough 1", "role": "employee"},
    "UserUpdate": {"name": "Edge"},
    "CustomerCreate": {
        "name": "Maria",
        "email": "maria.edge@example.com",
        "phone": "(11) 98765-4321",
        "cpf": "529.982.247-25",
    },
    "CustomerUpdate": {"name": "Maria"},
    "ProductCreate": {
        "name": "Café",
        "unit": "un",
        "stock": 1,
        "purchasePrice": "1.00",
        "salePrice": "2.00",
        "saleType": "unit",
    },
    "ProductUpdate": {"name": "Café"},
    "PresaleCreate": {
        "customerId": "<customer_id>",
        "items": [{"productId": "<product_id>", "quantity": "1", "unitPrice": "15.00"}],
    },
    "PresaleUpdate": {"notes": "Edge", "items": [{"productId": "<product_id>", "quantity": "1", "unitPrice": "15.00"}]},
    "PresaleStatusChange": {"status": "approved"},
    "PaymentMethodCreate": {"description": "Edge", "code": "EDGE"},
    "PaymentMethodUpdate": {"description": "Edge"},
    "PaymentMethodStatusChange": {"isActive": True},
    "StockAdjustmentIn": {"adjustmentType": "add", "quantity": 1, "reason": "Edge"},
}
# Parameters that only mean something together: the others are sent with valid values.
VALID_QUERIES: dict[str, dict[str, str]] = {
    "/api/reports/payment-methods": {"startDate": "2024-01-01", "endDate": "2024-12-31"},
    "/api/reports/summary": {"startDate": "2024-01-01", "endDate": "2024-12-31"},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_schema: str | None  # a component name
    body_fields: tuple[str, ...]  # dotted: `items.0.quantity`
    date_params: tuple[str, ...]  # query parameters documented as a date or date-time

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("oneOf", []) if "$ref" in s), None)
    return ref.rsplit("/", 1)[-1] if ref else None


def _fields(components: dict[str, Any], name: str) -> list[str]:
    fields = []
    for field, schema in components[name].get("properties", {}).items():
        fields.append(field)
        arrays = [schema, *schema.get("oneOf", [])]
        for item in (s.get("items", {}) for s in arrays if s.get("type") == "array"):
            if (item_name := _ref_name(item)) is not None:
                fields += [f"{field}.0.{sub}" for sub in _fields(components, item_name)]
    return fields


def operations(document: dict[str, Any]) -> list[Operation]:
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = spec.get("parameters", [])
            body = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body_schema = _ref_name(body) if body else None
            found.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(p["name"] for p in params if p["in"] == "query"),
                    body_schema,
                    tuple(_fields(components, body_schema)) if body_schema else (),
                    tuple(p["name"] for p in params if p.get("schema", {}).get("format") in {"date", "date-time"}),
                )
            )
    # A fixed order, so every xdist worker collects the same tests: Litestar lists a handler's several paths
    # (`/me`, `/profile`) from a set, whose order varies between processes.
    return sorted(found, key=lambda op: (op.path, op.method))


OPERATIONS = operations(_document())


@dataclass(frozen=True)
class Edge:
    """One slot of one operation at one edge. `slot` is `path:<name>`, `query:<name>`, `body:<field>` or
    `body`; `value` is percent-encoded text (path, query), raw JSON text (a field) or bytes (a body)."""

    slot: str
    value: str | bytes
    label: str
    repeated: bool = False  # the query parameter or JSON key is sent twice: a valid value, then this one


def slots(op: Operation) -> list[str]:
    """Every slot of the operation; `query:undeclared` is a parameter the operation does not take."""
    return (
        [f"path:{n}" for n in op.path_params]
        + [f"query:{n}" for n in (*op.query_params, "undeclared")]
        + [f"body:{f}" for f in op.body_fields]
        + (["body"] if op.body_schema else [])
    )


def all_requests(op: Operation) -> Iterator[Edge]:
    """The whole matrix for one operation: every slot at every listed edge (and repeated where it can be)."""
    for slot in slots(op):
        kind = slot.split(":", 1)[0]
        edges: dict[str, Any] = {"path": TEXT_EDGES, "query": TEXT_EDGES, "body": JSON_EDGES}[kind]
        if slot == "body":
            edges = BODY_EDGES
        for label, value in edges.items():
            yield Edge(slot, value, label)
            if slot.startswith(("query:", "body:")):
                yield Edge(slot, value, label + ", repeated", repeated=True)


def _generated(slot: str) -> st.SearchStrategy[Edge]:
    """Values of Hypothesis's own for a slot, beyond the listed edges."""
    text = st.text(st.characters(codec=None), max_size=40)  # surrogates and control characters included
    if slot.startswith(("path:", "query:")):
        values = st.one_of(
            text.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
            st.integers().map(str),
            st.floats().map(repr),
        )
    elif slot == "body":
        return st.just(Edge(slot, WITHIN_DEPTH.encode(), "63 levels"))
    else:
        # json.dumps writes NaN/Infinity tokens for such floats and escapes lone surrogates as \\udxxx.
        values = st.one_of(
            text.map(json.dumps),
            st.integers(min_value=-(2**80), max_value=2**80).map(str),
            st.floats().map(json.dumps),
            st.just(WITHIN_DEPTH),
        )
    return values.map(lambda value: Edge(slot, value, "generated"))


def edges_for(op: Operation) -> st.SearchStrategy[Edge]:
    choices = [st.sampled_from(list(all_requests(op))), st.sampled_from(slots(op)).flatmap(_generated)]
    if op.date_params:  # a third of the examples aim the calendar's edges at the date filters
        choices.append(
            st.sampled_from(
                [
                    Edge(f"query:{name}", value, label)
                    for name in op.date_params
                    for label, value in TEXT_EDGES.items()
                    if label in CALENDAR_EDGES
                ]
            )
        )
    return st.one_of(choices)


# --- building and checking one request -------------------------------------------------------------------


def _fill(value: Any, seeded: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, seeded) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, seeded) for v in value]
    if isinstance(value, str) and value.startswith("<"):
        return seeded[value.strip("<>")]
    return value


def _body_with(op: Operation, edge: Edge, seeded: dict[str, str]) -> bytes | None:
    if op.body_schema is None:
        return None
    if edge.slot == "body":
        return edge.value if isinstance(edge.value, bytes) else edge.value.encode()
    body = _fill(VALID_BODIES[op.body_schema], seeded)
    if not edge.slot.startswith("body:"):
        return json.dumps(body).encode()
    *parents, key = edge.slot.removeprefix("body:").split(".")
    holder = body
    for part in parents:
        holder = holder[int(part)] if part.isdigit() else holder.setdefault(part, [{}])
    valid = holder.get(key)
    holder[key] = _SENTINEL
    value = str(edge.value)
    if edge.repeated:
        value = f"{json.dumps(valid)}, {json.dumps(key)}: {value}"
    return json.dumps(body).replace(json.dumps(_SENTINEL), value).encode("utf-8", "surrogateescape")


def request_for(op: Operation, edge: Edge, seeded: dict[str, str]) -> tuple[str, bytes | None]:
    """The URL (path and raw query string) and body of one example."""
    path = op.path
    for name in op.path_params:
        value = edge.value if edge.slot == f"path:{name}" else seeded[name]
        path = path.replace("{" + name + "}", str(value))
    query = [
        f"{quote(k)}={quote(v)}"
        for k, v in VALID_QUERIES.get(op.path, {}).items()
        if edge.slot != f"query:{k}" or edge.repeated
    ]
    if edge.slot.startswith("query:"):
        name = edge.slot.removeprefix("query:")
        twice = edge.repeated and name not in VALID_QUERIES.get(op.path, {})  # no valid value to send first
        query += [f"{quote(name)}={edge.value}"] * (2 if twice else 1)
    return path + ("?" + "&".join(query) if query else ""), _body_with(op, edge, seeded)


def assert_answer(response: httpx.Response, errors_logged: list[logging.LogRecord]) -> None:
    assert response.status_code < 500, response.text[:2000]
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text[:500]
        payload = response.json()
        assert payload["success"] is False and payload["path"], payload
        assert isinstance(payload["error"]["code"], str) and payload["error"]["message"] == payload["message"]
    assert not errors_logged, [record.getMessage() for record in errors_logged]


# --- the property ------------------------------------------------------------------------------------------


@pytest.fixture
async def seeded(db: asyncpg.Connection, admin: asyncpg.Record) -> dict[str, str]:
    customer = await create_customer(db)
    product = await create_product(db, stock=1000)
    presale = await create_presale(
        db, customer["id"], [(product["id"], 2, product["sale_price"])], status="pending", created_by=admin["id"]
    )
    other = await create_user(db, "employee")  # not the admin: deleting the caller would end its token
    method = await db.fetchval("SELECT id FROM payment_methods ORDER BY code LIMIT 1")
    return {
        "customer_id": str(customer["id"]),
        "product_id": str(product["id"]),
        "presale_id": str(presale["id"]),
        "user_id": str(other["id"]),
        "payment_method_id": str(method),
    }


@pytest.fixture
def clear_rate_limits(database_url: str) -> Iterator[Callable[[], object]]:
    """Empties the rate limits' counters (a table, shared by every process): the limits (login, stock) would
    soon answer 429 to everything, so each example starts with none used. One connection, on a loop of its own
    (the property runs synchronously)."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(database_url))
    try:
        yield lambda: loop.run_until_complete(conn.execute("DELETE FROM rate_limits"))
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


def send(
    http: httpx.Client, clear_limits: Callable[[], object], op: Operation, edge: Edge, seeded: dict[str, str]
) -> httpx.Response:
    clear_limits()
    url, body = request_for(op, edge, seeded)
    return http.request(op.method, url, content=body)


class ErrorRecords(logging.Handler):
    """Every record at ERROR or above, from any logger of the process (the app's, Litestar's, uvicorn's)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged_errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    # uvicorn's loggers do not propagate to the root: they are watched on their own.
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.id)
def test_no_input_is_a_server_error(
    op: Operation,
    server: LiveServer,
    settings: Settings,
    admin: asyncpg.Record,
    seeded: dict[str, str],
    logged_errors: ErrorRecords,
    clear_rate_limits: Callable[[], object],
) -> None:
    headers = {**bearer(settings, admin), "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        if MATRIX_FILE:  # the manual run: every listed edge, each answer written down
            failures = []
            with open(MATRIX_FILE, "a", encoding="utf-8") as out:
                for edge in all_requests(op):
                    logged_errors.records.clear()
                    response = send(http, clear_rate_limits, op, edge, seeded)
                    try:
                        code = response.json()["error"]["code"] if response.status_code >= 400 else ""
                        assert_answer(response, logged_errors.records)
                    except (AssertionError, ValueError, KeyError) as exc:
                        code = f"FAILED {exc!r}"[:300]
                        failures.append((edge.slot, edge.label, code))
                    out.write(json.dumps([op.id, edge.slot, edge.label, response.status_code, code]) + "\n")
            assert not failures, failures
            return

        @given(edge=edges_for(op))
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def property(edge: Edge) -> None:
            logged_errors.records.clear()
            response = send(http, clear_rate_limits, op, edge, seeded)
            assert_answer(response, logged_errors.records)

        property()
