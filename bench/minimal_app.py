"""The floor of this stack for a customer by id: a minimal Litestar + asyncpg app under the same server.

One route, a pooled `fetchrow` of the service's own statement (`service.customers.queries.GET`, the same columns as
wire text), the row as a dict in a small envelope; no token, no permission, no request id, no metrics, no access
line, no security headers. Nothing the service does per request can cost less than this, so it is the yardstick
for the service's per-request overhead (bench/floor.py measures it beside the original and the service).

    cd bench && DATABASE_URL=postgresql://... ../.venv/bin/granian --interface asgi --workers 2 minimal_app:app
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

from service.customers.queries import GET


async def open_pool(app: Litestar) -> None:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20)  # as the service


async def close_pool(app: Litestar) -> None:
    await app.state.pool.close()


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/api/customers/{customer_id:uuid}")
async def customer(customer_id: uuid.UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(GET, customer_id)
    return {"success": True, "data": dict(row) if row else None}


app = Litestar([health, customer], on_startup=[open_pool], on_shutdown=[close_pool])
