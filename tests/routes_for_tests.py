"""Routes registered only by tests, to exercise the plumbing (pool, errors) before business routes exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
import httpx
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from service.app import create_app
from service.config import Settings
from tests.support import live_server


class EchoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=10)]
    quantity: int


@post("/test/echo", status_code=200)
async def echo(data: JSONBody[EchoBody]) -> dict[str, object]:
    return {"name": data.name, "quantity": data.quantity}


@get("/test/sleep")
async def sleep(conn: NamedDependency[asyncpg.Connection], seconds: FromQuery[float] = 0.5) -> dict[str, bool]:
    await conn.execute("SELECT pg_sleep($1)", seconds)
    return {"slept": True}


WAIT_LOCK = 4242  # the advisory lock /test/wait-for-lock waits on (a test holds it while requests pile up)


@get("/test/wait-for-lock")
async def wait_for_lock(conn: NamedDependency[asyncpg.Connection]) -> dict[str, bool]:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", WAIT_LOCK)
    return {"locked": True}


@get("/test/boom")
async def boom() -> None:
    raise RuntimeError("internal detail: SELECT password FROM users")


@get("/test/duplicate-cpf")
async def duplicate_cpf(conn: NamedDependency[asyncpg.Connection]) -> None:
    insert = "INSERT INTO customers (name, email, phone, cpf) VALUES ($1, $2, '11999999999', '52998224725')"
    await conn.execute(insert, "A", "a@example.com")
    await conn.execute(insert, "B", "b@example.com")


TEST_ROUTES = [echo, sleep, wait_for_lock, boom, duplicate_cpf]


async def serve_with_test_routes(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own with the test routes, under a real server: a client for it (`async for http in ...`)."""
    app = create_app(settings)
    for route in TEST_ROUTES:
        app.register(route)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            yield http
