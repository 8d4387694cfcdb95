"""Liveness (`GET /health`, no I/O) and readiness (`GET /health/ready`, database and migrations)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from service import __version__
from service.config import Settings
from service.http.envelope import now_iso
from service.http.security import SecurityHeaders
from service.ops.shutdown import draining


def liveness_body(settings: Settings) -> dict[str, Any]:
    return {"status": "ok", "timestamp": now_iso(), "environment": settings.environment, "version": __version__}


@get("/health", summary="Liveness: the process answers (no database access)", tags=["health"], sync_to_thread=False)
def liveness(state: State) -> dict[str, Any]:
    return liveness_body(state.settings)


class LivenessFirst:
    """ASGI wrapper that answers `GET /health` before the framework, for `flowcrm serve`.

    Load balancers poll liveness many times a second and it must answer even when the app is busy: through
    Litestar's stack it cost ~3.5 times what this does (bench/README.md, "Liveness"). The answer is the
    route's own (same body, same headers); a request with an Origin header (a browser, which needs CORS) and
    every other request go to the app.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.headers = [(b"content-type", b"application/json"), *SecurityHeaders(settings).headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope["path"] == "/health"
            and scope["method"] == "GET"
            and not any(name == b"origin" for name, _ in scope["headers"])
        ):
            scope["path_template"] = "/health"  # the route it stands for, in metrics and the access log
            body = msgspec.json.encode(liveness_body(self.settings))
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self.app(scope, receive, send)


@get("/health/ready", summary="Readiness: database reachable and migrations applied", tags=["health"])
async def readiness(state: State) -> Response[dict[str, Any]]:
    if draining():  # shutting down (service/ops/shutdown.py): the balancer must stop sending requests here
        return Response({"status": "draining", "timestamp": now_iso()}, status_code=503, headers={"Retry-After": "5"})
    result = await state.health.check(state.get("pool"))
    return Response(
        result.to_json(), status_code=200 if result.ready else 503, headers={} if result.ready else {"Retry-After": "5"}
    )


@get("/api/test", summary="Fixed message (kept from the earlier backend)", tags=["health"], sync_to_thread=False)
def api_test() -> dict[str, str]:
    return {"message": "API is working!"}
