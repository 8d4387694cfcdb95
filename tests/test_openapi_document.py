"""The OpenAPI document states the rules the validators apply (no database: the document is built from the app).

The shared building blocks' rules live in validator functions pydantic cannot see; service/http/schemas.py
states each as a JSON schema (`JsonSchema`). A property test checks every such schema against its validator:
the validator accepts a value exactly when the schema does. The fuzz run (tests/fuzz) checks the whole
document against the running service.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.serialization import encode_json
from pydantic import TypeAdapter, ValidationError

from service.app import create_app
from service.config import Settings
from service.customers.schemas import Phone
from service.http.schemas import Money, Percentage, Quantity, clean_text, nullable_text
from service.presales.schemas import PositiveQuantity
from service.products.schemas import Code

DOCUMENT: dict[str, Any] = json.loads(
    encode_json(
        create_app(
            Settings(DATABASE_URL="postgresql://document@127.0.0.1:1/document", ENVIRONMENT="test")
        ).openapi_schema.to_schema()
    )
)

# Each type with the characters its rule is about: whitespace of several kinds, NUL, digits, signs, letters.
TYPES = {
    "clean_text(6)": (Annotated[str, *clean_text(6)], " \t\n\u00a0\x00ab"),
    "clean_text(6, min_length=2)": (Annotated[str, *clean_text(6, min_length=2)], " \t\n\x00ab"),
    "nullable_text(5)": (Annotated[str | None, *nullable_text(5)], " \t\n\u2003\x00ab"),
    "Money": (Money, "0129. \t-e"),
    "Percentage": (Percentage, "01009. "),
    "Quantity": (Quantity, "019. \n"),
    "PositiveQuantity": (PositiveQuantity, "0. 1"),
    "Phone": (Phone, "19 ()+-\ta"),
    "Code": (Code, "aZ9_- \u00e9\x00"),
}


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except (ValidationError, ValueError):
        return False
    return True


@pytest.mark.parametrize("name", TYPES)
@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(data=st.data())
def test_stated_schema_accepts_exactly_what_the_validator_accepts(name: str, data: st.DataObject) -> None:
    kind, alphabet = TYPES[name]
    adapter = TypeAdapter(kind)
    schema = jsonschema_rs.validator_for(adapter.json_schema())
    # Not 625.0: JSON Schema counts it an integer, while the service refuses any JSON number written with a
    # decimal point (the schema's description says "integer" in that sense; JSON Schema cannot tell them apart).
    fractional = st.floats(-1e9, 1e9).filter(lambda number: not number.is_integer())
    value = data.draw(
        st.one_of(st.text(alphabet, max_size=14), st.integers(-2, 100_000_001), st.none(), st.booleans(), fractional),
        label="value",
    )
    assert _accepts(adapter, value) == schema.is_valid(value), f"{name}: {value!r}"


def _query_parameters() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path} ?{parameter['name']}", parameter)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]


@pytest.mark.parametrize("value", ["", "  ", "string", "undefined", "null"])
def test_every_query_parameter_takes_the_values_that_count_as_absent(value: str) -> None:
    parameters = _query_parameters()
    assert len(parameters) > 40
    for label, parameter in parameters:
        assert parameter["allowEmptyValue"] is True, label
        schema = parameter["schema"]
        if schema.get("type") == "array":
            schema = schema["items"]
        assert jsonschema_rs.validator_for(schema).is_valid(value), label


def _operation(label: str) -> dict[str, Any]:
    method, path = label.split(" ", 1)
    return DOCUMENT["paths"][path][method.lower()]


def _body_schema(label: str) -> jsonschema_rs.Validator:
    reference = _operation(label)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return jsonschema_rs.validator_for({**DOCUMENT, "$ref": reference})


def test_every_body_declares_its_error_statuses_in_the_envelope() -> None:
    bodies = [
        (f"{method.upper()} {path}", operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(bodies) == 14
    for label, operation in bodies:
        for status in ("400", "413", "415", "422", "503"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"]["required"] == ["success", "error", "message", "timestamp", "path"], label


def test_statuses_the_fuzzer_once_found_undeclared() -> None:
    assert "400" in _operation("DELETE /api/users/{user_id}")["responses"]  # CANNOT_DELETE_SELF
    assert "404" in _operation("POST /api/presales")["responses"]  # a customerId naming no customer
    assert "422" in _operation("GET /api/reports/summary")["responses"]  # one date without the other
    assert "503" in _operation("GET /health/ready")["responses"]


def test_paired_report_dates_are_described() -> None:
    for path in ("/api/reports/summary", "/api/reports/payment-methods"):
        parameters = {p["name"]: p for p in DOCUMENT["paths"][path]["get"]["parameters"]}
        for name in ("startDate", "endDate"):
            assert "together or neither" in parameters[name]["description"], (path, name)


def test_strict_bodies_refuse_unknown_keys_and_updates_state_their_rules() -> None:
    create = _body_schema("POST /api/customers")
    customer = {"name": "Maria", "email": "maria@example.com", "phone": "(11) 98765-4321", "cpf": "52998224725"}
    assert create.is_valid(customer)
    assert not create.is_valid({**customer, "unknown": 1})
    update = _body_schema("PUT /api/customers/{customer_id}")
    assert not update.is_valid({})  # at least one field
    assert update.is_valid({"address": None})  # null clears the address...
    assert not update.is_valid({"name": None})  # ...but not the name
    prices = _body_schema("PUT /api/products/{product_id}")
    assert prices.is_valid({"salePrice": "19.90"}) and prices.is_valid({"salePrice": 20})
    assert not prices.is_valid({"salePrice": 19.9}) and not prices.is_valid({"salePrice": "19.999"})
    assert Decimal("99999999.99") == TypeAdapter(Money).validate_python(" 099999999.99 ")
