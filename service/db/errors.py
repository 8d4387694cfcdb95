"""The one place that maps database failures to the service's domain errors (like PostgREST's error table).

By SQLSTATE first; a constraint (or, for 23502, column) named in `CONSTRAINTS` gets its own class, message and
field. Nothing of the database's own text (SQL, constraint wording, values) reaches clients; the constraint or
column name is kept on the exception. Services wrap a write in `with translate_errors(Action.X):` and never catch
asyncpg exceptions themselves: the action tells apart what one constraint means in two places (a foreign key
refused on delete is "in use", on insert "not found"; the users' email code differs on create and update).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import asyncpg

from service import errors
from service.ops import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATE -> domain error class. Classes 08 (connection) and 57P (operator intervention) are by prefix below.
_BY_SQLSTATE: dict[str, type[errors.AppError]] = {
    "23505": errors.UniqueViolation,
    "23503": errors.ForeignKeyViolation,
    "23502": errors.NotNullViolation,
    "23514": errors.CheckViolation,
    "22001": errors.InvalidValue,  # string_data_right_truncation (too long)
    "22003": errors.InvalidValue,  # numeric_value_out_of_range
    "22P02": errors.InvalidValue,  # invalid_text_representation (bad uuid, enum, number text)
    "22P05": errors.InvalidValue,  # untranslatable_character (NUL and friends)
    "22021": errors.InvalidValue,  # character_not_in_repertoire
    "22007": errors.InvalidValue,  # invalid_datetime_format
    "22008": errors.InvalidValue,  # datetime_field_overflow
    "22023": errors.InvalidValue,  # invalid_parameter_value
    "40001": errors.TransactionConflict,  # serialization_failure
    "40P01": errors.TransactionConflict,  # deadlock_detected
    "57014": errors.QueryTimeout,  # query_canceled (statement_timeout)
    "53300": errors.DatabaseUnavailable,  # too_many_connections
    "57P01": errors.DatabaseUnavailable,  # admin_shutdown
    "57P02": errors.DatabaseUnavailable,  # crash_shutdown
    "57P03": errors.DatabaseUnavailable,  # cannot_connect_now (starting up / shutting down)
}

_MESSAGES = {
    "22001": "A value is too long for its field",
    "22003": "A number is out of the allowed range",
    "22P02": "A value has the wrong format for its field",
    "22P05": "A text value contains characters that cannot be stored",
    "22021": "A text value contains characters that cannot be stored",
}

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


class Action(Enum):
    """What the failing statement did, for constraints whose meaning depends on it."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


WRITES = frozenset({Action.CREATE, Action.UPDATE})
DELETES = frozenset({Action.DELETE})
ANY_ACTION = frozenset(Action)


@dataclass(frozen=True)
class Meaning:
    """The domain error one constraint stands for: class (status and default code), message, field, code."""

    cls: type[errors.AppError]
    message: str
    field: str | None = None
    code: str | None = None
    actions: frozenset[Action] = ANY_ACTION


_CUSTOMER_HAS_PRESALES = "Cannot delete customer with pre-sales (foreign key constraint): delete or reassign them first"
_PRODUCT_REFERENCED = "Cannot delete product that is referenced in pre-sales or stock history"
_USER_EMAIL_TAKEN = "A user with this email already exists"

# Constraint (or NOT NULL column) name -> its meanings, by action. "foreign key constraint" in the customer
# message is the phrase the web app looks for to explain the refusal.
CONSTRAINTS: dict[str, tuple[Meaning, ...]] = {
    "customers_cpf_key": (Meaning(errors.UniqueViolation, "A customer with this CPF already exists", "cpf"),),
    "customers_email_lower_key": (
        Meaning(errors.UniqueViolation, "A customer with this email already exists", "email"),
    ),
    "products_code_key": (Meaning(errors.UniqueViolation, "A product with this code already exists", "code"),),
    "payment_methods_code_key": (Meaning(errors.UniqueViolation, "A payment method with this code already exists"),),
    **{
        name: (
            Meaning(
                errors.UniqueViolation, _USER_EMAIL_TAKEN, "email", "USER_ALREADY_EXISTS", frozenset({Action.CREATE})
            ),
            Meaning(
                errors.UniqueViolation, _USER_EMAIL_TAKEN, "email", "EMAIL_ALREADY_EXISTS", frozenset({Action.UPDATE})
            ),
        )
        for name in ("users_email_key", "users_email_lower_key")
    },
    "presales_customer_id_fkey": (
        Meaning(errors.ForeignKeyViolation, _CUSTOMER_HAS_PRESALES, actions=DELETES),
        Meaning(errors.NotFound, "Customer not found", actions=WRITES),  # deleted between our check and insert
    ),
    "presales_payment_method_id_fkey": (
        Meaning(errors.ForeignKeyViolation, "Payment method is in use by pre-sales", actions=DELETES),
        Meaning(errors.NotFound, "Payment method not found", actions=WRITES),
    ),
    "presale_items_product_id_fkey": (
        Meaning(errors.ForeignKeyViolation, _PRODUCT_REFERENCED, actions=DELETES),
        Meaning(errors.NotFound, "Product not found", actions=WRITES),
    ),
    "stock_adjustments_product_id_fkey": (Meaning(errors.ForeignKeyViolation, _PRODUCT_REFERENCED, actions=DELETES),),
}


def _meaning(exc: asyncpg.PostgresError, action: Action | None) -> Meaning | None:
    name = getattr(exc, "constraint_name", None) or getattr(exc, "column_name", None) or ""
    for meaning in CONSTRAINTS.get(name, ()):
        if action in meaning.actions if action else meaning.actions == ANY_ACTION:
            return meaning
    return None


def _domain_error(meaning: Meaning, exc: asyncpg.PostgresError) -> errors.AppError:
    details = [{"field": meaning.field, "message": meaning.message}] if meaning.field else None
    extra: dict[str, Any] = {}
    if issubclass(meaning.cls, errors.DatabaseConstraintError):
        extra = {"constraint": getattr(exc, "constraint_name", None), "column": getattr(exc, "column_name", None)}
    return meaning.cls(meaning.message, code=meaning.code, details=details, **extra)


def translate(exc: BaseException, action: Action | None = None) -> errors.AppError | None:
    """The domain error for a database-layer exception, or None when it is not one. Without an action, only
    the constraint meanings that hold for every action apply."""
    if isinstance(exc, errors.AppError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        if meaning := _meaning(exc, action):
            return _domain_error(meaning, exc)
        sqlstate = exc.sqlstate or ""
        cls = _BY_SQLSTATE.get(sqlstate)
        if cls is None and sqlstate.startswith("08"):
            cls = errors.DatabaseUnavailable
        if cls is None:
            return None
        message = _MESSAGES.get(sqlstate)
        if issubclass(cls, errors.DatabaseConstraintError):
            return cls(
                message,
                constraint=getattr(exc, "constraint_name", None),
                column=getattr(exc, "column_name", None),
            )
        return cls(message)
    if isinstance(exc, asyncpg.exceptions.InternalClientError) or (
        isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
    ):
        # The connection died under us (server restart, pg_terminate_backend, network). Other interface
        # errors are programming errors and stay 500s.
        return errors.DatabaseUnavailable()
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        # asyncpg raises the builtin TimeoutError for pool acquire, connect and command timeouts.
        return errors.DatabaseUnavailable("The database did not answer in time, please retry")
    if isinstance(exc, OSError):  # refused, reset, unreachable: not Postgres error classes
        return errors.DatabaseUnavailable()
    return None


@contextmanager
def translate_errors(action: Action) -> Iterator[None]:
    """Around a service's write: a PostgreSQL error leaves as its domain error for this action (cause kept)."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        translated = translate(exc, action)
        if translated is None:
            raise
        raise translated from exc


def count_in_metrics(exc: BaseException) -> None:
    """Count a PostgreSQL error that ends a request, mapped or not, by SQLSTATE class (flowcrm_db_errors_total):
    the exception itself, or the one a service turned into a domain error of its own (`raise ... from exc`)."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, asyncpg.PostgresError):
            metrics.count_database_error(candidate.sqlstate or "")
            return


async def with_retry(operation: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run a transactional operation again after a serialization failure or deadlock (bounded)."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except asyncpg.PostgresError as exc:
            if exc.sqlstate not in RETRYABLE_SQLSTATES or attempt == attempts:
                raise
            log.info("retrying after %s (attempt %d of %d)", exc.sqlstate, attempt, attempts)
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
