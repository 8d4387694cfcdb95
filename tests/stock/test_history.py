"""GET /api/stock-adjustments over HTTP against the real database (contract 6.1, 10.11)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_product, create_user
from tests.stock.helpers import adjust_url, new_user, seed_adjustment

ITEM_KEYS = {
    "id",
    "productId",
    "productCode",
    "productName",
    "adjustmentType",
    "quantity",
    "previousStock",
    "newStock",
    "reason",
    "userId",
    "userName",
    "ipAddress",
    "userAgent",
    "createdAt",
}
URL = "/api/stock-adjustments"
T0 = datetime(2025, 3, 10, 12, 0, 0)


async def ids(client: httpx.AsyncClient, headers: dict, **params: object) -> list[str]:
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_items_carry_every_field_newest_first(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    product = await create_product(db, code="WIDGET-1", name="Widget")
    older = await seed_adjustment(
        db,
        product,
        created_at=T0,
        adjustment_type="remove",
        quantity=4,
        previous_stock=10,
        user=admin,
        reason="Broken",
        ip_address="::1",
        user_agent=None,
    )
    newer = await seed_adjustment(db, product, created_at=T0 + timedelta(seconds=1), user=admin)
    response = await client.get(URL, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["message"] == "Stock adjustments retrieved"
    assert body["pagination"] == {
        "total": 2,
        "page": 1,
        "limit": 50,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    assert [item["id"] for item in body["data"]] == [str(newer["id"]), str(older["id"])]
    item = body["data"][1]
    assert set(item) == ITEM_KEYS
    assert item == {
        "id": str(older["id"]),
        "productId": str(product["id"]),
        "productCode": "WIDGET-1",
        "productName": "Widget",
        "adjustmentType": "remove",
        "quantity": 4,
        "previousStock": 10,
        "newStock": 6,
        "reason": "Broken",
        "userId": str(admin["id"]),
        "userName": "Admin",
        "ipAddress": "::1",
        "userAgent": None,
        "createdAt": "2025-03-10T12:00:00.000Z",
    }


async def test_an_adjustment_made_over_http_shows_up(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    clerk, headers = await new_user(db, settings, "employee", name="Clerk")
    product = await create_product(db, stock=7)
    made = await client.post(
        adjust_url(product["id"]),
        json={"adjustmentType": "remove", "quantity": 2, "reason": "Count fix"},
        headers={**headers, "User-Agent": "ua/1"},
    )
    assert made.status_code == 200, made.text
    response = await client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert item["id"] == made.json()["data"]["adjustment"]["id"]
    assert item["createdAt"] == made.json()["data"]["adjustment"]["createdAt"]
    assert (item["previousStock"], item["newStock"], item["quantity"]) == (7, 5, 2)
    assert item["userId"] == str(clerk["id"]) and item["userName"] == "Clerk"
    assert item["userAgent"] == "ua/1" and item["ipAddress"] == "127.0.0.1"


async def test_filters_by_product_type_and_user(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection, settings: Settings
) -> None:
    other, _ = await new_user(db, settings)
    pen = await create_product(db, code="PEN-BLUE")
    pencil = await create_product(db, code="PENCIL-2B")
    mug = await create_product(db, code="MUG_100%")
    a = await seed_adjustment(db, pen, created_at=T0, adjustment_type="add", user=admin)
    b = await seed_adjustment(db, pencil, created_at=T0 + timedelta(minutes=1), adjustment_type="remove", user=other)
    c = await seed_adjustment(db, mug, created_at=T0 + timedelta(minutes=2), adjustment_type="add", user=other)
    a, b, c = str(a["id"]), str(b["id"]), str(c["id"])

    assert await ids(client, admin_headers, productId=str(pen["id"])) == [a]
    assert await ids(client, admin_headers, productId=str(uuid.uuid4())) == []
    assert await ids(client, admin_headers, productCode="pen") == [b, a]  # case-insensitive substring
    assert await ids(client, admin_headers, productCode="CIL-2") == [b]
    assert await ids(client, admin_headers, productCode="_1") == [c]
    assert await ids(client, admin_headers, productCode="G_1") == [c]
    assert await ids(client, admin_headers, productCode="%") == [c]  # wildcards are literal
    assert await ids(client, admin_headers, productCode="P_N") == []
    assert await ids(client, admin_headers, adjustmentType="add") == [c, a]
    assert await ids(client, admin_headers, adjustmentType="remove") == [b]
    assert await ids(client, admin_headers, userId=str(other["id"])) == [c, b]
    assert await ids(client, admin_headers, userId=str(admin["id"]), adjustmentType="add") == [a]
    assert await ids(client, admin_headers, productCode="pen", adjustmentType="add") == [a]
    # empty values count as absent (decision 10.11)
    assert await ids(
        client, admin_headers, productId="", productCode="", adjustmentType="", userId="", startDate="", endDate=""
    ) == [c, b, a]


async def test_date_only_bounds_include_whole_days(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db)
    before = await seed_adjustment(db, product, created_at=datetime(2025, 3, 9, 23, 59, 59, 999999))
    first = await seed_adjustment(db, product, created_at=datetime(2025, 3, 10, 0, 0, 0))
    middle = await seed_adjustment(db, product, created_at=datetime(2025, 3, 11, 12, 0, 0))
    last = await seed_adjustment(db, product, created_at=datetime(2025, 3, 12, 23, 59, 59, 999999))
    after = await seed_adjustment(db, product, created_at=datetime(2025, 3, 13, 0, 0, 0))
    before, first, middle, last, after = (str(r["id"]) for r in (before, first, middle, last, after))

    assert await ids(client, admin_headers, startDate="2025-03-10", endDate="2025-03-12") == [last, middle, first]
    assert await ids(client, admin_headers, startDate="2025-03-10") == [after, last, middle, first]
    assert await ids(client, admin_headers, endDate="2025-03-12") == [last, middle, first, before]
    assert await ids(client, admin_headers, startDate="2025-03-11", endDate="2025-03-11") == [middle]
    assert await ids(client, admin_headers, startDate="2025-03-14") == []


async def test_date_time_bounds_are_inclusive_and_zone_aware(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db)
    at_noon = await seed_adjustment(db, product, created_at=T0)
    at_three = await seed_adjustment(db, product, created_at=T0 + timedelta(hours=3))
    noon, three = str(at_noon["id"]), str(at_three["id"])

    assert await ids(client, admin_headers, startDate="2025-03-10T12:00:00Z", endDate="2025-03-10T15:00:00Z") == [
        three,
        noon,
    ]
    assert await ids(client, admin_headers, startDate="2025-03-10T12:00:00.001Z") == [three]
    assert await ids(client, admin_headers, endDate="2025-03-10T14:59:59.999Z") == [noon]
    # 12:00 at UTC-3 is 15:00 UTC; a date-time without zone is UTC
    assert await ids(client, admin_headers, startDate="2025-03-10T12:00:00-03:00") == [three]
    assert await ids(client, admin_headers, endDate="2025-03-10T12:00:00") == [noon]
    # a date-only end with a date-time start still includes the whole end day
    assert await ids(client, admin_headers, startDate="2025-03-10T13:00:00Z", endDate="2025-03-10") == [three]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"startDate": "2025-03-12", "endDate": "2025-03-11"}, "endDate"),
        ({"startDate": "2025-03-11T10:00:00Z", "endDate": "2025-03-11T09:59:59Z"}, "endDate"),
        ({"startDate": "2025-03-12T00:00:00Z", "endDate": "2025-03-11"}, "endDate"),
        ({"startDate": "2025-02-30"}, "startDate"),
        ({"endDate": "yesterday"}, "endDate"),
        ({"startDate": "10/03/2025"}, "startDate"),
        ({"productId": "abc"}, "productId"),
        ({"userId": "123"}, "userId"),
        ({"adjustmentType": "set"}, "adjustmentType"),
        ({"productCode": "x" * 51}, "productCode"),
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
    ],
)
async def test_invalid_query_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict, params: dict, field: str
) -> None:
    response = await client.get(URL, params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_pagination(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    product = await create_product(db)
    seeded = [await seed_adjustment(db, product, created_at=T0 + timedelta(minutes=n)) for n in range(7)]
    newest_first = [str(r["id"]) for r in reversed(seeded)]

    pages = []
    for number in (1, 2, 3):
        response = await client.get(URL, params={"page": number, "limit": 3}, headers=admin_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["pagination"] == {
            "total": 7,
            "page": number,
            "limit": 3,
            "totalPages": 3,
            "hasNext": number < 3,
            "hasPrev": number > 1,
            "totalExact": True,
        }
        pages.extend(item["id"] for item in body["data"])
    assert pages == newest_first

    past_end = await client.get(URL, params={"page": 4, "limit": 3}, headers=admin_headers)
    assert past_end.json()["data"] == [] and past_end.json()["pagination"]["total"] == 7
    filtered = await client.get(URL, params={"limit": 2, "adjustmentType": "remove"}, headers=admin_headers)
    assert filtered.json()["data"] == [] and filtered.json()["pagination"]["total"] == 0


async def test_same_instant_rows_have_a_stable_order(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db)
    for _ in range(6):
        await seed_adjustment(db, product, created_at=T0)
    one_by_one = []
    for number in range(1, 7):
        one_by_one += await ids(client, admin_headers, page=number, limit=1)
    assert one_by_one == await ids(client, admin_headers)
    assert len(set(one_by_one)) == 6


async def test_a_deleted_user_leaves_its_name(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    gone, _ = await new_user(db, settings, name="Former Clerk")
    product = await create_product(db)
    await seed_adjustment(db, product, created_at=T0, user=gone)
    await db.execute("DELETE FROM users WHERE id = $1", gone["id"])
    response = await client.get(URL, headers=admin_headers)
    [item] = response.json()["data"]
    assert item["userId"] is None and item["userName"] == "Former Clerk"


async def test_any_logged_in_user_may_read_but_not_without_a_token(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    # an employee whose stored permissions grant nothing still sees the inventory history
    nobody = await create_user(db, "employee", permissions={"modules": {}, "presales": {}})
    assert (await client.get(URL, headers=bearer(settings, nobody))).status_code == 200
    no_token = await client.get(URL)
    assert no_token.status_code == 401 and no_token.json()["error"]["code"] == "UNAUTHORIZED"
    forged = await client.get(URL, headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401
