"""A refused CORS preflight answers the error envelope: 403 CORS_NOT_ALLOWED, JSON.

Litestar's CORS middleware answers a preflight it refuses (origin, method or request headers not allowed)
with `400 text/plain` "Disallowed CORS Origin, method". That middleware sits outside the app's exception
handlers, so this `before_send` hook rewrites its answer instead: it is the only 400 an OPTIONS request can
get (every OPTIONS with an Origin header is the middleware's; one without reaches the route's automatic
204). 403, not 400: the request is well formed, its origin is simply not one the service serves.
"""

from __future__ import annotations

from typing import Any

from litestar.serialization import encode_json

from service.http.envelope import error_body

CODE = "CORS_NOT_ALLOWED"
_REJECTED = "flowcrm.cors_rejected"  # scope key: the start message was rewritten, the body must be too


class CorsRejection:
    """`before_send` hook: `CorsRejection()` in the app's `before_send` list."""

    async def __call__(self, message: Any, scope: Any) -> None:
        if scope.get("method") != "OPTIONS":
            return
        if message["type"] == "http.response.start" and message["status"] == 400:
            scope[_REJECTED] = True
            message["status"] = 403
            # The envelope's length is known only with the body (it names what was refused): sent chunked.
            message["headers"] = [
                (name, value)
                for name, value in message.get("headers", ())
                if name.lower() not in (b"content-type", b"content-length")
            ]
            message["headers"].append((b"content-type", b"application/json"))
        elif message["type"] == "http.response.body" and scope.get(_REJECTED):
            refused = message.get("body", b"").decode("utf-8", "replace").removeprefix("Disallowed CORS ").lower()
            text = f"Cross-origin request not allowed ({refused or 'origin'} not allowed)"
            message["body"] = encode_json(error_body(CODE, text, scope.get("path", "")))
            message["more_body"] = False
