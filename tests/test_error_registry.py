"""Every entry of the error registry (service.db.errors.CONSTRAINTS), provoked for real against PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest

from service import errors
from service.db.errors import CONSTRAINTS, Action, translate, translate_errors
from tests.factories import create_customer, create_presale, create_product, create_user, valid_cpf

CUSTOMER = "INSERT INTO customers (name, email, phone, cpf) VALUES ('C', $1, '11999999999', $2)"
USER = "INSERT INTO users (email, password, name, role) VALUES ($1, 'x', 'U', 'employee')"
PRESALE = "INSERT INTO presales (customer_id, status, total, payment_method_id) VALUES ($1, 'draft', 0, $2)"
ITEM = "INSERT INTO presale_items (presale_id, product_id, quantity, unit_price, total_price) VALUES ($1, $2, 1, 1, 1)"
ADJUSTMENT = (
    "INSERT INTO stock_adjustments (product_id, adjustment_type, quantity, previous_stock, new_stock, "
    "reason, user_name) VALUES ($1, 'add', 1, 0, 1, 'r', 'u')"
)
MISSING = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Case:
    constraint: str
    action: Action
    status: int
    code: str
    message: str
    field: str | None = None


async def _payment_method(db: asyncpg.Connection) -> asyncpg.Record:
    return await db.fetchrow("INSERT INTO payment_methods (code, description) VALUES ('PM9998', 'Pix') RETURNING *")


async def violate(db: asyncpg.Connection, case: Case) -> None:
    """Run the statement that breaks `case.constraint` the way `case.action` does."""
    customer = await create_customer(db)
    product = await create_product(db)
    match case.constraint, case.action:
        case "customers_cpf_key", _:
            await db.execute(CUSTOMER, "other@example.com", customer["cpf"])
        case "customers_email_lower_key", _:
            await db.execute(CUSTOMER, customer["email"].upper(), valid_cpf())
        case "products_code_key", _:
            await create_product(db, code=product["code"])
        case "payment_methods_code_key", _:
            method = await _payment_method(db)
            await db.execute("INSERT INTO payment_methods (code, description) VALUES ($1, 'Other')", method["code"])
        case "users_email_key" | "users_email_lower_key", Action.CREATE:
            user = await create_user(db)
            await db.execute(USER, user["email"] if case.constraint == "users_email_key" else user["email"].upper())
        case "users_email_key" | "users_email_lower_key", _:
            user, other = await create_user(db), await create_user(db)
            email = user["email"] if case.constraint == "users_email_key" else user["email"].upper()
            await db.execute("UPDATE users SET email = $1 WHERE id = $2", email, other["id"])
        case "presales_customer_id_fkey", Action.DELETE:
            await create_presale(db, customer["id"], [])
            await db.execute("DELETE FROM customers WHERE id = $1", customer["id"])
        case "presales_customer_id_fkey", _:
            await db.execute(PRESALE, MISSING, None)
        case "presales_payment_method_id_fkey", Action.DELETE:
            method = await _payment_method(db)
            await db.execute(PRESALE, customer["id"], method["id"])
            await db.execute("DELETE FROM payment_methods WHERE id = $1", method["id"])
        case "presales_payment_method_id_fkey", _:
            await db.execute(PRESALE, customer["id"], MISSING)
        case "presale_items_product_id_fkey", Action.DELETE:
            await create_presale(db, customer["id"], [(product["id"], Decimal(1), Decimal(1))])
            await db.execute("DELETE FROM products WHERE id = $1", product["id"])
        case "presale_items_product_id_fkey", _:
            presale = await create_presale(db, customer["id"], [])
            await db.execute(ITEM, presale["id"], MISSING)
        case "stock_adjustments_product_id_fkey", _:
            await db.execute(ADJUSTMENT, product["id"])
            await db.execute("DELETE FROM products WHERE id = $1", product["id"])
        case _:
            raise AssertionError(f"no statement provokes {case.constraint} on {case.action}")


CUSTOMER_IN_USE = "Cannot delete customer with pre-sales (foreign key constraint): delete or reassign them first"
PRODUCT_IN_USE = "Cannot delete product that is referenced in pre-sales or stock history"
USER_TAKEN = "A user with this email already exists"
CASES = [
    Case("customers_cpf_key", Action.CREATE, 409, "CONFLICT", "A customer with this CPF already exists", "cpf"),
    Case(
        "customers_email_lower_key",
        Action.UPDATE,
        409,
        "CONFLICT",
        "A customer with this email already exists",
        "email",
    ),
    Case("products_code_key", Action.CREATE, 409, "CONFLICT", "A product with this code already exists", "code"),
    Case("payment_methods_code_key", Action.CREATE, 409, "CONFLICT", "A payment method with this code already exists"),
    Case("users_email_key", Action.CREATE, 409, "USER_ALREADY_EXISTS", USER_TAKEN, "email"),
    Case("users_email_lower_key", Action.CREATE, 409, "USER_ALREADY_EXISTS", USER_TAKEN, "email"),
    Case("users_email_key", Action.UPDATE, 409, "EMAIL_ALREADY_EXISTS", USER_TAKEN, "email"),
    Case("users_email_lower_key", Action.UPDATE, 409, "EMAIL_ALREADY_EXISTS", USER_TAKEN, "email"),
    Case("presales_customer_id_fkey", Action.DELETE, 409, "CONFLICT", CUSTOMER_IN_USE),
    Case("presales_customer_id_fkey", Action.CREATE, 404, "NOT_FOUND", "Customer not found"),
    Case("presales_payment_method_id_fkey", Action.DELETE, 409, "CONFLICT", "Payment method is in use by pre-sales"),
    Case("presales_payment_method_id_fkey", Action.UPDATE, 404, "NOT_FOUND", "Payment method not found"),
    Case("presale_items_product_id_fkey", Action.DELETE, 409, "CONFLICT", PRODUCT_IN_USE),
    Case("presale_items_product_id_fkey", Action.CREATE, 404, "NOT_FOUND", "Product not found"),
    Case("stock_adjustments_product_id_fkey", Action.DELETE, 409, "CONFLICT", PRODUCT_IN_USE),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.constraint}-{case.action.value}")
async def test_each_constraint_becomes_its_domain_error(db: asyncpg.Connection, case: Case) -> None:
    with pytest.raises(errors.AppError) as raised:
        with translate_errors(case.action):
            async with db.transaction():
                await violate(db, case)
    error = raised.value
    assert isinstance(error.__cause__, asyncpg.PostgresError)
    assert error.__cause__.constraint_name == case.constraint  # the statement broke the constraint meant
    assert (error.status_code, error.code, error.message) == (case.status, case.code, case.message)
    assert error.details == ([{"field": case.field, "message": case.message}] if case.field else None)


def test_every_registry_entry_and_action_has_a_case() -> None:
    covered = {(case.constraint, case.action) for case in CASES}
    for name, meanings in CONSTRAINTS.items():
        for meaning in meanings:
            assert any((name, action) in covered for action in meaning.actions), (name, meaning)


async def test_without_an_action_only_action_independent_meanings_apply(db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    await create_presale(db, customer["id"], [])
    with pytest.raises(asyncpg.ForeignKeyViolationError) as raised:
        await db.execute("DELETE FROM customers WHERE id = $1", customer["id"])
    error = translate(raised.value)
    assert isinstance(error, errors.ForeignKeyViolation) and error.message == error.default_message
