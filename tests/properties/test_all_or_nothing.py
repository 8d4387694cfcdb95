"""All-or-nothing writes: every multi-row write, failed on purpose in its middle (after some of its rows were
written inside its transaction), leaves the database exactly as it was (every table, every value) and answers
a clean error in the envelope. The live server runs in this process, so monkeypatching a service step works."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service import errors
from service.audit import queries as audit_queries
from service.audit import service as audit_service
from service.config import Settings
from service.presales import queries as presale_queries
from service.presales.service import PresaleService
from service.stock import queries as stock_queries
from tests.factories import bearer, create_customer, create_presale, create_product, create_user

SECRET = "injected failure: SELECT password FROM users"  # must never reach a client


async def snapshot(db: asyncpg.Connection) -> dict[str, list[str]]:
    """Every row of every table (dbmate's and the rate limits' aside: a failed request still took its rate-limit
    slot), as sorted text: counts and values in one comparison."""
    tables = [
        r["tablename"]
        for r in await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('schema_migrations', 'rate_limits')"
        )
    ]
    return {
        table: sorted(repr(tuple(row.values())) for row in await db.fetch(f'SELECT * FROM "{table}"'))
        for table in tables
    }


class World:
    """Rows every case works on: an admin, a user to delete who owns rows in other tables, two products, a
    pending pre-sale (to update) and an approved one over both products (to convert)."""

    admin: asyncpg.Record
    victim: asyncpg.Record
    headers: dict[str, str]
    customer: asyncpg.Record
    products: list[asyncpg.Record]
    pending: asyncpg.Record
    approved: asyncpg.Record


@pytest.fixture
async def world(client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings) -> World:
    w = World()
    w.admin = await create_user(db, "admin", name="Admin")
    w.headers = bearer(settings, w.admin)
    w.victim = await create_user(db, "employee", name="Victim")
    victim_headers = bearer(settings, w.victim)
    w.customer = await create_customer(db)
    w.products = [await create_product(db, stock=20), await create_product(db, stock=20)]
    w.pending = await create_presale(
        db, w.customer["id"], [(w.products[0]["id"], Decimal("2"), Decimal("15.00"))], created_by=w.victim["id"]
    )
    w.approved = await create_presale(
        db,
        w.customer["id"],
        [(p["id"], Decimal("3"), Decimal("15.00")) for p in w.products],
        status="approved",
        created_by=w.admin["id"],
    )
    # The victim's own history: a stock adjustment, an audit row, a revoked token (deleting it touches them all).
    response = await client.post(
        f"/api/products/{w.products[1]['id']}/stock-adjustment",
        headers=victim_headers,
        json={"adjustmentType": "add", "quantity": 5, "reason": "delivery"},
    )
    assert response.status_code == 200, response.text
    assert (await client.post("/api/auth/logout", headers=victim_headers)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM revoked_tokens WHERE user_id = $1", w.victim["id"]) == 1
    return w


def fail_after(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The step runs (its rows are written), then the request fails."""

    async def step(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        raise RuntimeError(SECRET)

    return step


def explode(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


def after_audit_row(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Fail right after the change's audit row was written (the last row of every audited write)."""
    monkeypatch.setattr(f"{module}.record", fail_after(audit_service.record))


def audit_part_fails(monkeypatch: pytest.MonkeyPatch, module: Any = audit_queries, builder: str = "audited") -> None:
    """A change and its audit row are one statement (audit.change_audited, a pre-sale's create): make its audit
    insert fail at run time, after the changed rows were produced (division by zero: no rule maps it, so a 500)."""
    original = getattr(module, builder)

    def failing(*args: Any) -> Any:
        sql, *params = original(*args)
        return (sql.replace("clock_timestamp()", "clock_timestamp()+1/0*interval '1 second'"), *params)

    monkeypatch.setattr(module, builder, failing)


Request = Callable[[httpx.AsyncClient, World], Awaitable[httpx.Response]]
Inject = Callable[[pytest.MonkeyPatch], None]


def create_presale_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.post(
        "/api/presales",
        headers=w.headers,
        json={
            "customerId": str(w.customer["id"]),
            "discountType": "percentage",
            "discountPercentage": "10",
            "items": [{"productId": str(p["id"]), "quantity": "2", "unitPrice": "15.00"} for p in w.products],
        },
    )


def update_presale_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.put(
        f"/api/presales/{w.pending['id']}",
        headers=w.headers,
        json={
            "notes": "changed",
            "items": [{"productId": str(p["id"]), "quantity": "1", "unitPrice": "20.00"} for p in w.products],
        },
    )


def convert_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.post(f"/api/presales/{w.approved['id']}/convert", headers=w.headers)


def convert_by_patch_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.patch(f"/api/presales/{w.approved['id']}/status", headers=w.headers, json={"status": "converted"})


def adjust_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.post(
        f"/api/products/{w.products[0]['id']}/stock-adjustment",
        headers=w.headers,
        json={"adjustmentType": "remove", "quantity": 4, "reason": "breakage"},
    )


def delete_user_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.delete(f"/api/users/{w.victim['id']}", headers=w.headers)


def register_request(client: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return client.post(
        "/api/auth/register",
        headers=w.headers,
        json={"email": "new.user@example.com", "password": "a-long-password-1", "name": "New User", "role": "employee"},
    )


CASES: list[Any] = [
    # presale create: presale row, items and audit row in one statement and no transaction around it (its checks
    # take no lock), so its middle is inside that statement: its audit part refused takes the rest back with it
    pytest.param(
        create_presale_request,
        lambda mp: audit_part_fails(mp, presale_queries, "create"),
        id="presale-create-audit-fails",
    ),
    # presale update with items: delete items, insert new ones, update the row, audit row
    pytest.param(
        update_presale_request,
        lambda mp: mp.setattr(PresaleService, "_insert_items", fail_after(PresaleService._insert_items)),
        id="presale-update-after-items",
    ),
    pytest.param(
        update_presale_request,
        lambda mp: after_audit_row(mp, "service.presales.service"),
        id="presale-update-after-audit",
    ),
    # conversion: stock of both products deducted, then history rows, status, audit row
    pytest.param(
        convert_request,
        lambda mp: mp.setattr(presale_queries, "insert_adjustments", explode),
        id="convert-after-stock-deducted",
    ),
    pytest.param(
        convert_request,
        lambda mp: mp.setattr(PresaleService, "_change_status", fail_after(PresaleService._change_status)),
        id="convert-after-history-and-status",
    ),
    pytest.param(
        convert_by_patch_request,
        lambda mp: after_audit_row(mp, "service.presales.service"),
        id="patch-converted-after-audit",
    ),
    # stock adjustment: product stock, history row, audit row
    pytest.param(
        adjust_request,
        lambda mp: mp.setattr(stock_queries, "insert_adjustment", explode),
        id="adjustment-after-stock-set",
    ),
    pytest.param(adjust_request, lambda mp: after_audit_row(mp, "service.stock.service"), id="adjustment-after-audit"),
    # user delete: the user, its revoked tokens (cascade), SET NULL on its pre-sales/history/audit rows, audit row
    pytest.param(delete_user_request, audit_part_fails, id="user-delete-audit-fails"),
    # register: the user row, audit row
    pytest.param(register_request, audit_part_fails, id="register-audit-fails"),
]


@pytest.mark.parametrize(("send", "inject"), CASES)
async def test_a_failure_in_the_middle_leaves_the_database_as_it_was(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    send: Request,
    inject: Inject,
) -> None:
    before = await snapshot(db)
    inject(monkeypatch)
    response = await send(client, world)
    monkeypatch.undo()

    assert response.status_code == 500, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "INTERNAL_ERROR", body
    assert uuid.UUID(body["error"]["requestId"]) and body["path"] == response.request.url.path
    assert "injected" not in response.text and "password" not in response.text.lower()
    assert await snapshot(db) == before

    # The same request without the fault succeeds (so the case did exercise a write that changes rows).
    response = await send(client, world)
    assert response.status_code in {200, 201}, response.text
    assert await snapshot(db) != before


async def test_a_domain_error_in_the_middle_is_a_clean_4xx_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal raised late (after the stock was deducted) is the same: its 4xx, nothing written."""
    before = await snapshot(db)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise errors.Conflict("refused late")

    monkeypatch.setattr(presale_queries, "insert_adjustments", refuse)
    response = await convert_request(client, world)
    assert response.status_code == 409 and response.json()["error"]["message"] == "refused late"
    assert await snapshot(db) == before
