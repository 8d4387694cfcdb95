"""The one place that turns every exception into the contract's error envelope (contract 3.3, 10.9)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pydantic
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from service import errors
from service.db.errors import count_in_metrics, translate
from service.http.envelope import error_body
from service.ops.logs import current_request_id
from service.ops.metrics import RATE_LIMITED, UNMATCHED_ROUTE

log = logging.getLogger(__name__)

_TYPE_ERRORS_WITHOUT_VALUE = ("_type", "missing", "_parsing")


def _detail_from_pydantic(error: Mapping[str, Any]) -> dict[str, Any]:
    field = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "Invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error.get("type") == "extra_forbidden":
        message = f"Unrecognized key: '{field}'"
    detail: dict[str, Any] = {"field": field, "message": message}
    kind = str(error.get("type", ""))
    value = error.get("input")
    secret = "password" in field.lower()  # never echo a password back, not even a rejected one
    if not secret and not kind.endswith(_TYPE_ERRORS_WITHOUT_VALUE) and isinstance(value, str | int | float | bool):
        detail["value"] = value
    return detail


def validation_details(exc: ValidationException) -> list[dict[str, Any]]:
    """Field-level details, from pydantic's own errors when Litestar kept them as the cause."""
    cause = exc.__cause__
    pydantic_errors = getattr(cause, "errors", None)
    if isinstance(pydantic_errors, list) and pydantic_errors and isinstance(pydantic_errors[0], dict):
        return [_detail_from_pydantic(e) for e in pydantic_errors]
    details = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key = str(item.get("key", ""))
        message = str(item.get("message", "Invalid value"))
        if item.get("source") == "body" and key == "data":
            key, message = "", "A JSON request body is required"
        details.append({"field": key, "message": message})
    return details or [{"field": "", "message": "Invalid request"}]


def to_app_error(exc: Exception) -> errors.AppError:
    if isinstance(exc, errors.AppError):
        return exc
    translated = translate(exc)
    if translated is not None:
        return translated
    if isinstance(exc, NotFoundException):
        return errors.NotFound("Route not found")
    if isinstance(exc, MethodNotAllowedException):  # keeps the router's Allow header (RFC 9110 requires it)
        allow = (exc.headers or {}).get("allow")
        return errors.MethodNotAllowed(headers={"Allow": allow} if allow else None)
    if isinstance(exc, pydantic.ValidationError):  # query strings validated inside handlers
        details = [_detail_from_pydantic(e) for e in exc.errors()]
        return errors.ValidationFailed(details[0]["message"], details=details)
    if isinstance(exc, ValidationException):
        details = validation_details(exc)
        return errors.ValidationFailed(details[0]["message"], details=details)
    if isinstance(exc, ClientException) and exc.status_code == 400:
        return errors.BadRequest("Malformed JSON in request body" if "JSON" in str(exc.detail) else str(exc.detail))
    if isinstance(exc, HTTPException) and exc.status_code == 413:
        return errors.PayloadTooLarge()
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        error = errors.AppError(str(exc.detail), code="BAD_REQUEST")
        error.status_code = exc.status_code
        return error
    return errors.AppError()


def exception_to_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    count_in_metrics(exc)
    error = to_app_error(exc)
    request_id = current_request_id()  # on the log line as in the body (error_body)
    extra: dict[str, Any] = {}
    if error.status_code >= 500 and not isinstance(error, errors.Unavailable):
        log.exception("unexpected error %s on %s %s", request_id, request.method, request.url.path, exc_info=exc)
    elif isinstance(error, errors.Unavailable):
        log.warning("%s on %s %s: %s", error.code, request.method, request.url.path, exc)
    retry_after = error.headers.get("Retry-After")
    if isinstance(error, errors.RateLimited):
        RATE_LIMITED.labels(request.scope.get("path_template") or UNMATCHED_ROUTE).inc()
        if retry_after:
            extra["retryAfter"] = int(retry_after)
    body = error_body(error.code, error.message, request.url.path, error.details, **extra)
    return Response(body, status_code=error.status_code, headers=error.headers)
