"""Liveness (`GET /health`, no I/O) and readiness (`GET /health/ready`, database and migrations)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service import __version__
from service.http.envelope import now_iso


@get("/health", summary="Liveness: the process answers (no database access)", tags=["health"], sync_to_thread=False)
def liveness(state: State) -> dict[str, Any]:
    return {"status": "ok", "timestamp": now_iso(), "environment": state.settings.environment, "version": __version__}


@get("/health/ready", summary="Readiness: database reachable and migrations applied", tags=["health"])
async def readiness(state: State) -> Response[dict[str, Any]]:
    result = await state.health.check(state.get("pool"))
    return Response(result.to_json(), status_code=200 if result.ready else 503,
                    headers={} if result.ready else {"Retry-After": "5"})


@get("/api/test", summary="Fixed message (kept from the earlier backend)", tags=["health"], sync_to_thread=False)
def api_test() -> dict[str, str]:
    return {"message": "API is working!"}
