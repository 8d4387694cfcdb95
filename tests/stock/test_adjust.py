"""POST /api/products/:id/stock-adjustment over HTTP against the real database (contract 6.1, 7.4, 9.16)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_product, create_user
from tests.stock.helpers import adjust_url, new_user, rows_of, stock_of

RESULT_KEYS = {"id", "code", "name", "stock", "previousStock", "adjustment"}
ADJUSTMENT_KEYS = {"id", "type", "quantity", "reason", "createdAt"}
AGENT = {"User-Agent": "inventory-screen/2.1 (test)"}


async def test_add_increases_stock_and_writes_one_history_row(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=5)
    body = {"adjustmentType": "add", "quantity": 3, "reason": "  Restock   from\tsupplier  "}
    response = await client.post(adjust_url(product["id"]), json=body, headers={**admin_headers, **AGENT})
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["success"] is True and envelope["message"] == "Stock adjusted successfully"
    data = envelope["data"]
    assert set(data) == RESULT_KEYS and set(data["adjustment"]) == ADJUSTMENT_KEYS
    assert data["id"] == str(product["id"]) and data["code"] == product["code"] and data["name"] == product["name"]
    assert data["stock"] == 8 and data["previousStock"] == 5
    assert data["adjustment"]["type"] == "add" and data["adjustment"]["quantity"] == 3
    assert data["adjustment"]["reason"] == "Restock from supplier"
    assert data["adjustment"]["createdAt"].endswith("Z")

    assert await stock_of(db, product["id"]) == 8
    rows = await rows_of(db, product["id"])
    assert len(rows) == 1
    row = rows[0]
    assert str(row["id"]) == data["adjustment"]["id"]
    assert (row["adjustment_type"], row["quantity"], row["previous_stock"], row["new_stock"]) == ("add", 3, 5, 8)
    assert row["reason"] == "Restock from supplier"
    assert row["user_id"] == admin["id"] and row["user_name"] == "Admin"
    assert row["user_agent"] == "inventory-screen/2.1 (test)"
    assert row["ip_address"] == "127.0.0.1"
    assert row["presale_id"] is None


async def test_remove_decreases_stock_down_to_zero(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    clerk, headers = await new_user(db, settings, "employee", name="Joana Clerk")  # any logged-in user may adjust
    product = await create_product(db, stock=5)
    response = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "remove", "quantity": 5, "reason": "Damaged"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["stock"] == 0 and data["previousStock"] == 5 and data["adjustment"]["type"] == "remove"
    assert await stock_of(db, product["id"]) == 0
    [row] = await rows_of(db, product["id"])
    assert (row["adjustment_type"], row["quantity"], row["previous_stock"], row["new_stock"]) == ("remove", 5, 5, 0)
    assert row["user_id"] == clerk["id"] and row["user_name"] == "Joana Clerk"


async def test_remove_below_zero_is_400_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=3)
    response = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "remove", "quantity": 4, "reason": "Lost"},
        headers=admin_headers,
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "BAD_REQUEST"
    message = body["error"]["message"]
    assert message.startswith("Insufficient stock for this operation. Current stock: 3, requested removal: 4")
    assert "insufficient stock" in message  # the inventory screen looks for the lower-case words
    assert body["message"] == message
    assert body["error"]["details"][0]["currentStock"] == 3 and body["error"]["details"][0]["requestedRemoval"] == 4
    assert await stock_of(db, product["id"]) == 3
    assert await rows_of(db, product["id"]) == []


async def test_add_past_the_integer_column_is_400_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=2_147_483_000)
    response = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "add", "quantity": 999_999, "reason": "Too much"},
        headers=admin_headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert await stock_of(db, product["id"]) == 2_147_483_000
    assert await rows_of(db, product["id"]) == []


async def test_missing_user_agent_is_stored_as_null(server, admin_headers: dict, db: asyncpg.Connection) -> None:
    product = await create_product(db, stock=1)
    async with httpx.AsyncClient(base_url=server.url) as bare:
        del bare.headers["user-agent"]
        response = await bare.post(
            adjust_url(product["id"]),
            json={"adjustmentType": "add", "quantity": 1, "reason": "x"},
            headers=admin_headers,
        )
    assert response.status_code == 200, response.text
    [row] = await rows_of(db, product["id"])
    assert row["user_agent"] is None


async def test_a_long_user_agent_is_cut_as_in_the_audit_log(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=1)
    response = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "add", "quantity": 1, "reason": "x"},
        headers={**admin_headers, "User-Agent": "a" * 1500},
    )
    assert response.status_code == 200, response.text
    [row] = await rows_of(db, product["id"])
    assert row["user_agent"] == "a" * 1000  # service/auth/current_user.USER_AGENT_MAX, the audit log's rule


async def test_unknown_product_is_404_and_bad_id_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    body = {"adjustmentType": "add", "quantity": 1, "reason": "x"}
    missing = await client.post(adjust_url(uuid.uuid4()), json=body, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "Product not found",
        "requestId": missing.headers["x-request-id"],
    }
    bad = await client.post(adjust_url("not-a-uuid"), json=body, headers=admin_headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments") == 0


VALID = {"adjustmentType": "add", "quantity": 2, "reason": "Restock"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 1_000_000}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": 2.0}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"reason": "   "}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": 12}, "reason"),
        ({"reason": "a\x00b"}, "reason"),
        ({"adjustmentType": "set"}, "adjustmentType"),
        ({"adjustmentType": "ADD"}, "adjustmentType"),
        ({"adjustmentType": "subtract"}, "adjustmentType"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_invalid_body_is_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, change: dict, field: str
) -> None:
    product = await create_product(db, stock=10)
    response = await client.post(adjust_url(product["id"]), json={**VALID, **change}, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]
    assert await stock_of(db, product["id"]) == 10
    assert await rows_of(db, product["id"]) == []


@pytest.mark.parametrize("missing", ["adjustmentType", "quantity", "reason"])
async def test_missing_field_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, missing: str
) -> None:
    product = await create_product(db, stock=10)
    body = {key: value for key, value in VALID.items() if key != missing}
    response = await client.post(adjust_url(product["id"]), json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [missing]


async def test_boundaries_are_accepted_and_reason_is_collapsed(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=0)
    reason = "  " + "y" * 500 + "  "
    big = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "add", "quantity": 999_999, "reason": reason},
        headers=admin_headers,
    )
    assert big.status_code == 200, big.text
    assert big.json()["data"]["stock"] == 999_999 and big.json()["data"]["adjustment"]["reason"] == "y" * 500
    one = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "remove", "quantity": 1, "reason": "a"},
        headers=admin_headers,
    )
    assert one.status_code == 200, one.text
    assert await stock_of(db, product["id"]) == 999_998


async def test_malformed_json_is_400_and_missing_body_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=10)
    malformed = await client.post(
        adjust_url(product["id"]),
        content=b'{"adjustmentType": ',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    empty = await client.post(adjust_url(product["id"]), headers=admin_headers)
    assert empty.status_code == 422
    assert await stock_of(db, product["id"]) == 10


async def test_a_user_without_any_module_may_adjust(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    nobody = await create_user(db, "employee", permissions={"modules": {}, "presales": {}})
    product = await create_product(db, stock=1)
    response = await client.post(adjust_url(product["id"]), json=VALID, headers=bearer(settings, nobody))
    assert response.status_code == 200, response.text
    assert await stock_of(db, product["id"]) == 3


async def test_without_or_with_a_bad_token_is_401(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    product = await create_product(db, stock=10)
    no_token = await client.post(adjust_url(product["id"]), json=VALID)
    assert no_token.status_code == 401 and no_token.json()["error"]["code"] == "UNAUTHORIZED"
    forged = await client.post(adjust_url(product["id"]), json=VALID, headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    assert await stock_of(db, product["id"]) == 10
    assert await rows_of(db, product["id"]) == []


# --- concurrency ----------------------------------------------------------------------------------------------


def assert_chain(rows: list[asyncpg.Record], start: int) -> None:
    """Written in order, each row starts where the previous one ended: no update was lost or interleaved."""
    stock = start
    for row in rows:
        assert row["previous_stock"] == stock, [(r["previous_stock"], r["new_stock"]) for r in rows]
        delta = row["quantity"] if row["adjustment_type"] == "add" else -row["quantity"]
        assert row["new_stock"] == stock + delta
        stock = row["new_stock"]


async def test_concurrent_removes_never_oversell(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, headers = await new_user(db, settings)
    product = await create_product(db, stock=10)
    body = {"adjustmentType": "remove", "quantity": 1, "reason": "Sold at the counter"}
    responses = await asyncio.gather(
        *(client.post(adjust_url(product["id"]), json=body, headers=headers) for _ in range(15))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [400] * 5, [r.text for r in responses if r.status_code not in (200, 400)]
    assert sorted(r.json()["data"]["stock"] for r in responses if r.status_code == 200) == list(range(10))
    assert all("insufficient stock" in r.json()["error"]["message"] for r in responses if r.status_code == 400)
    assert await stock_of(db, product["id"]) == 0
    rows = await rows_of(db, product["id"])
    assert len(rows) == 10
    assert_chain(rows, 10)


async def test_concurrent_adds_and_removes_end_at_the_exact_stock(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, adder = await new_user(db, settings, name="Adder")
    _, remover = await new_user(db, settings, name="Remover")
    product = await create_product(db, stock=50)
    add = {"adjustmentType": "add", "quantity": 3, "reason": "In"}
    remove = {"adjustmentType": "remove", "quantity": 2, "reason": "Out"}
    calls = []
    for _ in range(12):
        calls.append(client.post(adjust_url(product["id"]), json=add, headers=adder))
        calls.append(client.post(adjust_url(product["id"]), json=remove, headers=remover))
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [200] * 24, [r.text for r in responses if r.status_code != 200]
    assert await stock_of(db, product["id"]) == 50 + 12 * 3 - 12 * 2
    rows = await rows_of(db, product["id"])
    assert len(rows) == 24
    assert_chain(rows, 50)
