"""Each SQLSTATE mapping, provoked by a real statement against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from service import errors
from service.db.errors import translate, with_retry
from tests.support import free_port

CUSTOMER = "INSERT INTO customers (name, email, phone, cpf) VALUES ($1, $2, '11999999999', $3) RETURNING id"
PRODUCT = (
    "INSERT INTO products (code, name, unit, stock, purchase_price, sale_price, sale_type) "
    "VALUES ($1, 'P', 'un', $2, 1, 2, 'unit') RETURNING id"
)


async def raised(action: Awaitable[object]) -> BaseException:
    try:
        await action
    except BaseException as exc:  # noqa: BLE001 - the point is to inspect it
        return exc
    raise AssertionError("the statement did not fail")


async def test_unique_violation_is_conflict_with_constraint(db: asyncpg.Connection) -> None:
    await db.execute(CUSTOMER, "Ana", "ana@example.com", "52998224725")
    error = translate(await raised(db.execute(CUSTOMER, "Bia", "bia@example.com", "52998224725")))
    assert isinstance(error, errors.UniqueViolation) and error.status_code == 409
    assert error.constraint == "customers_cpf_key"


async def test_case_insensitive_email_unique_index(db: asyncpg.Connection) -> None:
    await db.execute(CUSTOMER, "Ana", "ana@example.com", "52998224725")
    error = translate(await raised(db.execute(CUSTOMER, "Ana 2", "ANA@example.com", "11144477735")))
    assert isinstance(error, errors.UniqueViolation) and error.constraint == "customers_email_lower_key"


async def test_foreign_key_violation_is_conflict_with_constraint(db: asyncpg.Connection) -> None:
    statement = "INSERT INTO presales (customer_id, status, total) VALUES (gen_random_uuid(), 'draft', 0)"
    error = translate(await raised(db.execute(statement)))
    assert isinstance(error, errors.ForeignKeyViolation) and error.status_code == 409
    assert error.constraint == "presales_customer_id_fkey"


async def test_not_null_violation_names_the_column(db: asyncpg.Connection) -> None:
    error = translate(await raised(db.execute(CUSTOMER, None, "x@example.com", "52998224725")))
    assert isinstance(error, errors.NotNullViolation) and error.status_code == 422
    assert error.column == "name"


async def test_check_violation_names_the_constraint(db: asyncpg.Connection) -> None:
    error = translate(await raised(db.execute(PRODUCT, "P1", -1)))
    assert isinstance(error, errors.CheckViolation) and error.status_code == 422
    assert error.constraint == "products_stock_nonnegative"


@pytest.mark.parametrize(
    ("statement", "args"),
    [
        (CUSTOMER, ("x" * 256, "long@example.com", "52998224725")),  # 22001 too long
        ("SELECT 123456789::numeric(10,2) * 100::numeric(10,2)::numeric(10,2)", ()),  # 22003 overflow
        ("SELECT $1::text::uuid", ("not-a-uuid",)),  # 22P02 invalid text
        ("SELECT $1::text::presale_status", ("shipped",)),  # 22P02 invalid enum text
    ],
)
async def test_invalid_values_are_422(db: asyncpg.Connection, statement: str, args: tuple) -> None:
    error = translate(await raised(db.fetch(statement, *args)))
    assert isinstance(error, errors.InvalidValue) and error.status_code == 422
    assert "SELECT" not in error.message and "uuid" not in error.message  # nothing internal leaks


async def test_statement_timeout_is_503(db: asyncpg.Connection) -> None:
    await db.execute("SET statement_timeout = 50")
    error = translate(await raised(db.execute("SELECT pg_sleep(2)")))
    assert isinstance(error, errors.QueryTimeout) and error.status_code == 503
    assert error.headers["Retry-After"]


async def test_too_many_connections_is_503(db: asyncpg.Connection, database_url: str) -> None:
    role = "flowcrm_limited_role"
    await db.execute(f"DROP ROLE IF EXISTS {role}")
    await db.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    try:
        url = database_url.replace("postgres@", f"{role}@", 1)
        error = translate(await raised(asyncpg.connect(url)))
        assert isinstance(error, errors.DatabaseUnavailable) and error.status_code == 503
    finally:
        await db.execute(f"DROP ROLE {role}")


async def test_refused_connection_is_503() -> None:
    error = translate(await raised(asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout=2)))
    assert isinstance(error, errors.DatabaseUnavailable)


async def test_terminated_backend_is_503(db: asyncpg.Connection, database_url: str) -> None:
    victim = await asyncpg.connect(database_url)
    await db.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
    error = translate(await raised(victim.fetch("SELECT 1")))
    assert isinstance(error, errors.DatabaseUnavailable)
    victim.terminate()


async def _two_connections(database_url: str) -> tuple[asyncpg.Connection, asyncpg.Connection]:
    return await asyncpg.connect(database_url), await asyncpg.connect(database_url)


async def test_serialization_failure_is_conflict(db: asyncpg.Connection, database_url: str) -> None:
    product_id = await db.fetchval(PRODUCT, "P1", 10)
    first, second = await _two_connections(database_url)
    try:
        tx1 = first.transaction(isolation="serializable")
        tx2 = second.transaction(isolation="serializable")
        await tx1.start()
        await tx2.start()
        await first.fetchval("SELECT stock FROM products WHERE id = $1", product_id)
        await second.fetchval("SELECT stock FROM products WHERE id = $1", product_id)
        await first.execute("UPDATE products SET stock = stock - 1 WHERE id = $1", product_id)
        await tx1.commit()
        exc = await raised(second.execute("UPDATE products SET stock = stock - 1 WHERE id = $1", product_id))
        await tx2.rollback()
        assert getattr(exc, "sqlstate", None) == "40001"
        error = translate(exc)
        assert isinstance(error, errors.TransactionConflict) and error.status_code == 409
    finally:
        await first.close()
        await second.close()


async def test_deadlock_is_conflict(db: asyncpg.Connection, database_url: str) -> None:
    a = await db.fetchval(PRODUCT, "A", 10)
    b = await db.fetchval(PRODUCT, "B", 10)
    first, second = await _two_connections(database_url)
    try:
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await first.execute("UPDATE products SET stock = 1 WHERE id = $1", a)
        await second.execute("UPDATE products SET stock = 1 WHERE id = $1", b)
        results = await asyncio.gather(
            first.execute("UPDATE products SET stock = 2 WHERE id = $1", b),
            second.execute("UPDATE products SET stock = 2 WHERE id = $1", a),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1 and getattr(failures[0], "sqlstate", None) == "40P01"
        assert isinstance(translate(failures[0]), errors.TransactionConflict)
        for tx in (tx1, tx2):
            await tx.rollback()
    finally:
        await first.close()
        await second.close()


async def test_with_retry_retries_serialization_failures_a_bounded_number_of_times() -> None:
    calls = 0

    async def always_conflicts() -> None:
        nonlocal calls
        calls += 1
        raise asyncpg.SerializationError("could not serialize access")

    with pytest.raises(asyncpg.SerializationError):
        await with_retry(always_conflicts, attempts=3)
    assert calls == 3


async def test_with_retry_returns_once_the_conflict_clears() -> None:
    outcomes: list[Callable[[], None]] = [lambda: (_ for _ in ()).throw(asyncpg.DeadlockDetectedError("x"))]

    async def flaky() -> str:
        if outcomes:
            outcomes.pop()()
        return "done"

    assert await with_retry(flaky) == "done"


def test_unknown_exceptions_are_not_translated() -> None:
    assert translate(ValueError("bug")) is None
