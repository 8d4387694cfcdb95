"""`WireModel.from_row` writes a database row as JSON field by field (service/http/schemas.py); it must give
exactly what pydantic gives (`model_validate(row).to_wire()`) for every response model it serves, with the
rows the services really read: asyncpg's UUIDs, timestamps without zone, numerics, nulls."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.audit import queries as audit_queries
from service.audit.schemas import AuditLogListQuery, AuditLogOut
from service.customers.schemas import CustomerOut
from service.http.schemas import WireModel, _row_writer
from service.payment_methods.schemas import PaymentMethodOut
from service.products.schemas import ProductOut
from service.stock import queries as stock_queries
from service.stock.schemas import StockAdjustmentListQuery, StockAdjustmentOut
from service.users.schemas import UserOut
from tests.factories import create_customer, create_product


def assert_same_wire(model: type[WireModel], rows: list[asyncpg.Record]) -> None:
    assert rows, f"no {model.__name__} rows to compare"
    for row in rows:
        assert model.from_row(row) == model.model_validate(dict(row)).to_wire()


async def test_plain_models_are_written_field_by_field_like_pydantic(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_customer(db, address=None)
    await create_customer(db, address="Rua das Flores, 10")
    product = await create_product(db, description=None, purchase_price=Decimal("0.10"), sale_price=Decimal("12345.60"))
    await create_product(db, description="Caixa", purchase_price=Decimal("1"), sale_price=Decimal("2.5"))
    for description, active in (("Pix", True), ("Boleto", False)):
        response = await client.post(
            "/api/payment-methods", headers=admin_headers, json={"description": description, "isActive": active}
        )
        assert response.status_code == 201, response.text
    response = await client.post(
        f"/api/products/{product['id']}/stock-adjustment",
        headers=admin_headers,
        json={"adjustmentType": "add", "quantity": 3, "reason": "Recount"},
    )
    assert response.status_code == 200, response.text

    assert_same_wire(CustomerOut, await db.fetch("SELECT * FROM customers"))
    assert_same_wire(ProductOut, await db.fetch("SELECT * FROM products"))
    assert_same_wire(PaymentMethodOut, await db.fetch("SELECT * FROM payment_methods"))
    assert_same_wire(StockAdjustmentOut, await db.fetch(*stock_queries.page(StockAdjustmentListQuery())))
    # Audit rows with and without a user, resource id, details and client (the system's own entries have none).
    await db.execute("INSERT INTO audit_logs (user_name, action, resource) VALUES ('system', 'create', 'users')")
    assert_same_wire(AuditLogOut, await db.fetch(*audit_queries.page(AuditLogListQuery())))


def test_models_with_nested_objects_go_through_pydantic() -> None:
    assert _row_writer(UserOut) is False  # permissions is an object: validated and written by pydantic
    assert [alias for alias, _, _ in _row_writer(CustomerOut)] == [
        "id",
        "name",
        "email",
        "phone",
        "cpf",
        "address",
        "createdAt",
        "updatedAt",
    ]


@pytest.mark.parametrize("model", [CustomerOut, ProductOut, PaymentMethodOut, AuditLogOut, StockAdjustmentOut])
def test_every_field_of_the_plain_models_has_a_writer(model: type[WireModel]) -> None:
    writer = _row_writer(model)
    assert writer is not False and len(writer) == len(model.model_fields)
