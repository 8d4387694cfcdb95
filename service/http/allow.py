"""`Allow` on the automatic OPTIONS answer lists every method of the path (RFC 9110).

Litestar builds one route per path, but when a second handler joins a path it keeps the OPTIONS handler made
for the first one, whose `Allow` names only the first handler's methods (`OPTIONS /api/users/{id}` said
`DELETE, OPTIONS`, not `GET, PUT`). This `before_send` hook rewrites the header from the route's real methods.
Its 405 answers are right already (the router lists the path's methods; service/http/errors.py keeps them).
"""

from __future__ import annotations

from typing import Any

from litestar.routes import HTTPRoute


class OptionsAllow:
    """`before_send` hook; reads the app's routes on first use (the app is built after its hooks)."""

    def __init__(self) -> None:
        self.allow_by_path: dict[str, bytes] | None = None

    async def __call__(self, message: Any, scope: Any) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        handler = scope.get("route_handler")
        if handler is None or not getattr(handler, "paths", None):
            return
        if self.allow_by_path is None:
            self.allow_by_path = {
                route.path: ", ".join(sorted(route.methods)).encode()
                for route in scope["litestar_app"].routes
                if isinstance(route, HTTPRoute)
            }
        allow = next((self.allow_by_path[path] for path in handler.paths if path in self.allow_by_path), None)
        if allow is not None:
            message["headers"] = [
                (name, allow if name.lower() == b"allow" else value) for name, value in message.get("headers", ())
            ]
