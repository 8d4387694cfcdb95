"""The one place that maps database failures (by SQLSTATE) to the service's domain errors.

Nothing of the database's own text (SQL, constraint wording, values) is put in the message that reaches
clients; the constraint or column name is kept on the exception for callers that want to say which field.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

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


def translate(exc: BaseException) -> errors.AppError | None:
    """The domain error for a database-layer exception, or None when it is not one."""
    if isinstance(exc, errors.AppError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
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
