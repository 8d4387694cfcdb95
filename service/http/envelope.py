"""The contract's response envelopes (section 3): success, paginated list and error."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from litestar import Response

from service.db.pages import Total
from service.ops.logs import current_request_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Response[Any]: the body is a dict already in wire form; a route's return annotation (Response[Envelope[X]])
# states its schema for the OpenAPI document.
def ok(data: Any = None, message: str = "OK", *, status_code: int = 200) -> Response[Any]:
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    body["message"] = message
    body["timestamp"] = now_iso()
    return Response(body, status_code=status_code)


def paginated(data: list[Any], *, total: Total, page: int, limit: int, message: str = "OK") -> Response[Any]:
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
    return Response(body)


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
