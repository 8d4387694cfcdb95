"""The payment method of a pre-sale (decision 10.4): optional on create and update, must exist and be active,
checked under a share lock held by the write (an update's transaction; a create's one statement, which checks it
again), returned on every pre-sale."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from service.presales import queries as presale_queries
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.presales.helpers import Write, around_the_checked_write, assert_full_shape, body, counts, create, error, item
from tests.support import wait_until


async def _method(db: asyncpg.Connection, code: str) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM payment_methods WHERE code = $1", code)


async def _stored(db: asyncpg.Connection, presale_id: str | uuid.UUID) -> uuid.UUID | None:
    return await db.fetchval("SELECT payment_method_id FROM presales WHERE id = $1", uuid.UUID(str(presale_id)))


async def _setup(db: asyncpg.Connection) -> tuple[asyncpg.Record, asyncpg.Record]:
    return await create_customer(db), await create_product(db, stock=10)


# --- create ----------------------------------------------------------------------------------------------


async def test_create_with_an_active_method_links_it_and_every_read_shows_it(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    pix = await _method(db, "PM0004")
    created = await create(client, admin_headers, body(customer, item(product), paymentMethodId=str(pix["id"])))
    assert_full_shape(created)
    assert created["paymentMethodId"] == str(pix["id"])
    assert await _stored(db, created["id"]) == pix["id"]

    got = (await client.get(f"/api/presales/{created['id']}", headers=admin_headers)).json()["data"]
    assert got["paymentMethodId"] == str(pix["id"])
    listed = (await client.get("/api/presales", headers=admin_headers)).json()["data"]
    assert [(p["id"], p["paymentMethodId"]) for p in listed] == [(created["id"], str(pix["id"]))]
    patched = await client.patch(
        f"/api/presales/{created['id']}/status", json={"status": "approved"}, headers=admin_headers
    )
    assert patched.json()["data"]["paymentMethodId"] == str(pix["id"])


@pytest.mark.parametrize("extra", [{}, {"paymentMethodId": None}])
async def test_create_without_a_method_shows_null(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, extra: dict
) -> None:
    customer, product = await _setup(db)
    created = await create(client, admin_headers, body(customer, item(product), **extra))
    assert_full_shape(created)
    assert created["paymentMethodId"] is None
    assert await _stored(db, created["id"]) is None
    listed = (await client.get("/api/presales", headers=admin_headers)).json()["data"]
    assert listed[0]["paymentMethodId"] is None


async def test_create_with_a_missing_method_is_404_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    response = await client.post(
        "/api/presales", json=body(customer, item(product), paymentMethodId=str(uuid.uuid4())), headers=admin_headers
    )
    assert response.status_code == 404, response.text
    assert error(response) == {"code": "NOT_FOUND", "message": "Payment method not found"}
    assert await counts(db) == (0, 0)


async def test_create_with_an_inactive_method_is_422_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    cash = await _method(db, "PM0001")
    await db.execute("UPDATE payment_methods SET is_active = false WHERE id = $1", cash["id"])
    response = await client.post(
        "/api/presales", json=body(customer, item(product), paymentMethodId=str(cash["id"])), headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "VALIDATION_ERROR"
    assert error(response)["message"] == "Payment method is inactive"
    assert [d["field"] for d in error(response)["details"]] == ["paymentMethodId"]
    assert await counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [("deactivate", 422, "Payment method is inactive"), ("delete", 404, "Payment method not found")],
)
async def test_a_method_changed_after_the_check_is_seen_by_the_write_which_writes_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    status: int,
    message: str,
) -> None:
    """When its first write refused (queries.CREATE's own test of the items), a create checks the method, then its
    items, then writes in one statement without a transaction: a change of the method in between is caught by
    that statement, which then writes nothing."""
    customer, product = await _setup(db)
    pix = await _method(db, "PM0004")

    async def change_then_write(conn: asyncpg.Connection, write: Write) -> Any:
        if change == "deactivate":
            await conn.execute("UPDATE payment_methods SET is_active = false WHERE id = $1", pix["id"])
        else:
            await conn.execute("DELETE FROM payment_methods WHERE id = $1", pix["id"])
        return await write()

    around_the_checked_write(monkeypatch, change_then_write)
    response = await client.post(
        "/api/presales", json=body(customer, item(product), paymentMethodId=str(pix["id"])), headers=admin_headers
    )
    assert response.status_code == status, response.text
    assert error(response)["message"] == message
    assert await counts(db) == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM audit_logs WHERE resource = 'presales'") == 0


async def test_a_method_deactivated_and_active_again_during_the_write_is_a_409_that_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write found the method inactive, the check after it finds it active again: nothing to blame on the
    request, which can be sent again."""
    customer, product = await _setup(db)
    pix = await _method(db, "PM0004")

    async def deactivate_write_activate(conn: asyncpg.Connection, write: Write) -> Any:
        await conn.execute("UPDATE payment_methods SET is_active = false WHERE id = $1", pix["id"])
        rows = await write()
        await conn.execute("UPDATE payment_methods SET is_active = true WHERE id = $1", pix["id"])
        return rows

    around_the_checked_write(monkeypatch, deactivate_write_activate)
    response = await client.post(
        "/api/presales", json=body(customer, item(product), paymentMethodId=str(pix["id"])), headers=admin_headers
    )
    assert response.status_code == 409, response.text
    assert "payment method changed" in error(response)["message"]
    assert await counts(db) == (0, 0)


async def test_an_employee_may_use_a_method_without_managing_methods(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    employee = await create_user(db, "employee")  # presales.canCreate, not modules.paymentMethods
    pix = await _method(db, "PM0004")
    created = await create(
        client, bearer(settings, employee), body(customer, item(product), paymentMethodId=str(pix["id"]))
    )
    assert created["paymentMethodId"] == str(pix["id"])


# --- update ----------------------------------------------------------------------------------------------


async def test_update_sets_changes_keeps_and_clears_the_method(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))])
    url = f"/api/presales/{presale['id']}"
    pix, card = await _method(db, "PM0004"), await _method(db, "PM0002")

    response = await client.put(url, json={"paymentMethodId": str(pix["id"])}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert_full_shape(response.json()["data"])
    assert response.json()["data"]["paymentMethodId"] == str(pix["id"])
    assert await _stored(db, presale["id"]) == pix["id"]

    changed = await client.put(url, json={"paymentMethodId": str(card["id"]), "notes": "cartão"}, headers=admin_headers)
    assert changed.json()["data"]["paymentMethodId"] == str(card["id"])

    untouched = await client.put(url, json={"notes": "sem mudar o método"}, headers=admin_headers)
    assert untouched.status_code == 200 and untouched.json()["data"]["paymentMethodId"] == str(card["id"])
    assert await _stored(db, presale["id"]) == card["id"]

    cleared = await client.put(url, json={"paymentMethodId": None}, headers=admin_headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["paymentMethodId"] is None
    assert await _stored(db, presale["id"]) is None
    got = (await client.get(url, headers=admin_headers)).json()["data"]
    assert got["paymentMethodId"] is None


async def test_update_with_a_missing_or_inactive_method_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))])
    pix, cash = await _method(db, "PM0004"), await _method(db, "PM0001")
    await db.execute("UPDATE presales SET payment_method_id = $1 WHERE id = $2", pix["id"], presale["id"])
    await db.execute("UPDATE payment_methods SET is_active = false WHERE id = $1", cash["id"])
    url = f"/api/presales/{presale['id']}"

    missing = await client.put(url, json={"paymentMethodId": str(uuid.uuid4()), "notes": "x"}, headers=admin_headers)
    assert missing.status_code == 404, missing.text
    assert error(missing) == {"code": "NOT_FOUND", "message": "Payment method not found"}

    inactive = await client.put(url, json={"paymentMethodId": str(cash["id"]), "notes": "x"}, headers=admin_headers)
    assert inactive.status_code == 422, inactive.text
    assert error(inactive)["message"] == "Payment method is inactive"
    assert [d["field"] for d in error(inactive)["details"]] == ["paymentMethodId"]

    bad = await client.put(url, json={"paymentMethodId": "pix"}, headers=admin_headers)
    assert bad.status_code == 422 and [d["field"] for d in error(bad)["details"]] == ["paymentMethodId"]

    row = await db.fetchrow("SELECT payment_method_id, notes FROM presales WHERE id = $1", presale["id"])
    assert (row["payment_method_id"], row["notes"]) == (pix["id"], None)


async def test_deactivating_a_method_keeps_it_on_existing_presales(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer, product = await _setup(db)
    pix = await _method(db, "PM0004")
    created = await create(client, admin_headers, body(customer, item(product), paymentMethodId=str(pix["id"])))
    off = await client.patch(
        f"/api/payment-methods/{pix['id']}/status", json={"isActive": False}, headers=admin_headers
    )
    assert off.status_code == 200
    got = (await client.get(f"/api/presales/{created['id']}", headers=admin_headers)).json()["data"]
    assert got["paymentMethodId"] == str(pix["id"])
    # In use: it cannot be deleted.
    refused = await client.delete(f"/api/payment-methods/{pix['id']}", headers=admin_headers)
    assert refused.status_code == 409 and error(refused)["message"] == "Payment method is in use by pre-sales"


# --- the check holds against concurrent changes of the method ---------------------------------------------


async def _wait_for_lock(db: asyncpg.Connection) -> None:
    """Until another session waits on a lock (the request queued behind our transaction)."""

    async def waiting() -> bool:
        return await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )

    await wait_until(waiting, within=30, what="the request waiting for the payment method's row")


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_a_write_waits_for_a_concurrent_change_of_the_method_and_sees_it(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, database_url: str, change: str
) -> None:
    """The method is read under a lock: a deactivation or delete in flight is waited for, not read around."""
    customer, product = await _setup(db)
    pix = await _method(db, "PM0004")
    other = await asyncpg.connect(database_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        if change == "deactivate":
            await other.execute("UPDATE payment_methods SET is_active = false WHERE id = $1", pix["id"])
        else:
            await other.execute("DELETE FROM payment_methods WHERE id = $1", pix["id"])
        request = asyncio.create_task(
            client.post(
                "/api/presales",
                json=body(customer, item(product), paymentMethodId=str(pix["id"])),
                headers=admin_headers,
            )
        )
        await _wait_for_lock(db)
        assert not request.done()
        await transaction.commit()
        response = await request
    finally:
        await other.close()
    expected = 422 if change == "deactivate" else 404
    assert response.status_code == expected, response.text
    assert await counts(db) == (0, 0)


async def test_a_deactivation_waits_for_a_presale_write_in_flight(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, database_url: str
) -> None:
    """The other way round: while a pre-sale write holds the method (share lock), deactivating it waits."""
    pix = await _method(db, "PM0004")
    other = await asyncpg.connect(database_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        # The very statement the pre-sale service uses.
        assert (await other.fetchrow(*presale_queries.lock_payment_method(pix["id"])))["is_active"] is True
        request = asyncio.create_task(
            client.patch(f"/api/payment-methods/{pix['id']}/status", json={"isActive": False}, headers=admin_headers)
        )
        await _wait_for_lock(db)
        assert not request.done()
        await transaction.commit()
        response = await request
    finally:
        await other.close()
    assert response.status_code == 200 and response.json()["data"]["isActive"] is False
