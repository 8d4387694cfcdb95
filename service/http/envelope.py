"""The contract's response envelopes (section 3): success, paginated list and error."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Response
from litestar.response.base import ASGIResponse
from litestar.serialization import encode_json
from litestar.types import Receive, Scope, Send

from service.db.pages import Total
from service.ops.logs import current_request_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


JSON_HEADER = (b"content-type", b"application/json")


class EnvelopeResponse(Response[Any]):
    """A success envelope: a dict already in wire form, encoded straight into its two ASGI messages.

    Litestar's Response, for every answer, merges the route's headers and cookies, resolves type encoders and the
    media type and builds an ASGIResponse; the envelopes use none of that (their headers come from the app's
    `before_send` hooks and the request wrapper, service/http/security.py and service/ops/observe.py). Skipping it
    took a customer by id from ~400 to ~370 us of the worker's CPU (in-process, alternating, 2026-12-06).
    The route's return annotation (Response[Envelope[X]]) still states its schema for the OpenAPI document.
    """

    def __init__(self, content: dict[str, Any], status_code: int = 200) -> None:  # no super(): nothing to resolve
        self.content = content
        self.status_code = status_code

    def to_asgi_response(  # takes (and ignores) the rest of Litestar's keywords
        self, app: Any, request: Any, *, is_head_response: bool = False, **_: Any
    ) -> ASGIResponse:
        body = encode_json(self.content)
        return _Encoded(self.status_code or 200, b"" if is_head_response else body, len(body))


class _Encoded(ASGIResponse):
    """Its two messages, made at once (ASGIResponse's own __init__ and __call__ go through header objects)."""

    __slots__ = ("start_message", "body_message")

    def __init__(self, status: int, body: bytes, length: int) -> None:  # no super(): see the class
        self.start_message = {
            "type": "http.response.start",
            "status": status,
            "headers": [JSON_HEADER, (b"content-length", str(length).encode())],
        }
        self.body_message = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self.start_message)  # type: ignore[arg-type]  # the ASGI message, as a plain dict
        await send(self.body_message)  # type: ignore[arg-type]


def ok(data: Any = None, message: str = "OK", *, status_code: int = 200) -> Response[Any]:
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    body["message"] = message
    body["timestamp"] = now_iso()
    return EnvelopeResponse(body, status_code)


def paginated(
    data: list[Any] | msgspec.Raw, *, total: Total, page: int, limit: int, message: str = "OK"
) -> Response[Any]:
    total_pages = math.ceil(total.value / limit) if limit else 0
    body = {
        "success": True,
        "data": data,
        "pagination": {
            "total": total.value,
            "page": page,
            "limit": limit,
            "totalPages": total_pages,
            "hasNext": page < total_pages,
            "hasPrev": page > 1,
            "totalExact": total.exact,  # false: total is an estimate (over 10,000 matches, service/db/pages.py)
        },
        "message": message,
        "timestamp": now_iso(),
    }
    return EnvelopeResponse(body)


def error_body(code: str, message: str, path: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    error.update(extra)
    # Every error names its request (X-Request-ID, service/ops/logs.py), so a client can quote it.
    if (request_id := current_request_id()) is not None:
        error["requestId"] = request_id
    # `message` is repeated at top level for the web app code that reads body.message (contract 10.9).
    return {"success": False, "error": error, "message": message, "timestamp": now_iso(), "path": path}
