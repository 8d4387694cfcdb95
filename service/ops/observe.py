"""The ASGI wrapper that gives every HTTP request its id, its metrics and its access line.

A plain ASGI wrapper (no BaseHTTPMiddleware, no Litestar middleware): Litestar runs app-level middleware only
inside a matched route's stack, and every response must carry `X-Request-ID`, 404s and CORS preflights
included. `observe_requests` puts it around the app's router (so the tests' server has it too);
`flowcrm serve` also puts one in front of everything (service.app.create_server_app), so liveness answered
before the framework is covered; the inner one then sees the request is already observed and passes it on.

The route label is the matched route's template (`scope["path_template"]`, set by Litestar's router and read
once the response is sent), never the raw path, so ids do not make a series each.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.ops import metrics
from service.ops.logs import REQUEST_ID_HEADER, AccessLog, RequestContext, begin_request, end_request, request_id_from

OBSERVED = "flowcrm.request"  # scope key: this request already has its context


class ObservedRequests:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.access_log = AccessLog(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or OBSERVED in scope:
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id_from(scope["headers"]))
        scope[OBSERVED] = context  # type: ignore[literal-required]  # ASGI allows extension keys; Litestar types none
        id_header = (REQUEST_ID_HEADER, context.request_id.encode("ascii"))
        status = 500  # if the app fails before it answers, the server answers 500
        token = begin_request(context)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route: str = scope.get("path_template") or metrics.UNMATCHED_ROUTE
            method: str = scope["method"]
            metrics.observe_request(method, route, status, seconds)
            if self.access_log.wanted(status):
                client: Any = scope.get("client")
                self.access_log.write(context, method, route, status, seconds, client[0] if client else None)
            end_request(token)


def observe_requests(app: Litestar, settings: Settings) -> None:
    """Put ObservedRequests around the app's own handler (its router, behind CORS and the exception handlers),
    inside Litestar's entry point: every response, 404s and preflights too, and the exception handlers see the
    request's id."""
    app.asgi_handler = ObservedRequests(app.asgi_handler, settings)
