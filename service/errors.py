"""The one error hierarchy of the service.

Services raise these; `service.db.errors` turns PostgreSQL failures into them; `service.http.errors`
turns every one of them into the contract's error envelope. Each class fixes the HTTP status and the
default `error.code`; a raise may pick a more specific code (e.g. USER_NOT_FOUND).
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    status_code = 400
    code = "BAD_REQUEST"
    default_message = "Bad request"


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication required"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"
    default_message = "You do not have permission to do this"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Not found"


class MethodNotAllowed(AppError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state of the data"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body is too large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "Request body must be JSON (Content-Type: application/json)"


class ValidationFailed(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"
    default_message = "Validation failed"

    @classmethod
    def field(cls, field: str, message: str, value: Any = None) -> ValidationFailed:
        detail: dict[str, Any] = {"field": field, "message": message}
        if value is not None:
            detail["value"] = value
        return cls(message, details=[detail])


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests"


class Unavailable(AppError):
    """The database cannot serve now (down, pool exhausted, timed out); the client should retry."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable, please retry"

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


# Database-specific refinements: they keep the constraint or column so callers can say which field.
class DatabaseConstraintError(AppError):
    def __init__(
        self, message: str | None = None, *, constraint: str | None = None, column: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.constraint = constraint
        self.column = column


class UniqueViolation(DatabaseConstraintError, Conflict):
    default_message = "A record with these values already exists"


class ForeignKeyViolation(DatabaseConstraintError, Conflict):
    default_message = "The record is referenced by, or refers to, another record"


class NotNullViolation(DatabaseConstraintError, ValidationFailed):
    default_message = "A required value is missing"


class CheckViolation(DatabaseConstraintError, ValidationFailed):
    default_message = "A value is outside its allowed range"


class InvalidValue(DatabaseConstraintError, ValidationFailed):
    """Too long, out of numeric range, malformed text for the column type, NUL bytes..."""

    default_message = "A value is not valid for its field"


class TransactionConflict(DatabaseConstraintError, Conflict):
    """Serialization failure or deadlock that persisted after the bounded retries."""

    code = "TRANSACTION_CONFLICT"
    default_message = "The request conflicted with concurrent changes, please retry"


class QueryTimeout(Unavailable):
    code = "QUERY_TIMEOUT"
    default_message = "The database took too long to answer, please retry"


class DatabaseUnavailable(Unavailable):
    code = "DATABASE_UNAVAILABLE"
    default_message = "The database is unavailable, please retry shortly"
