"""GET /api/presales and /api/presales/:id (contract 5.5, 3.2; decisions 10.3, 10.11, 10.14)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.presales.helpers import assert_full_shape, body, create, error, item


async def _at(db: asyncpg.Connection, presale: asyncpg.Record, stamp: str) -> None:
    await db.execute("UPDATE presales SET created_at = $2 WHERE id = $1", presale["id"], datetime.fromisoformat(stamp))


async def test_get_full_presale_404_and_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    created = await create(client, admin_headers, body(customer, item(product, "2", "9.90")))
    response = await client.get(f"/api/presales/{created['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert list(response.json()) == ["success", "data", "message", "timestamp"]
    assert response.json()["data"] == created
    assert_full_shape(created)
    assert created["total"] == "19.80"

    missing = await client.get(f"/api/presales/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404
    assert error(missing) == {"code": "NOT_FOUND", "message": "Pre-sale not found"}
    bad = await client.get("/api/presales/not-a-uuid", headers=admin_headers)
    assert bad.status_code == 422 and error(bad)["code"] == "VALIDATION_ERROR"


async def test_list_shape_default_order_and_pagination(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db, name="Zeca")
    product = await create_product(db)
    made = []
    for day, price in [("2026-01-03", "30.00"), ("2026-01-01", "10.00"), ("2026-01-02", "20.00")]:
        presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal(price))])
        await _at(db, presale, day + "T12:00:00")
        made.append(presale)
    response = await client.get("/api/presales", headers=admin_headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert list(page) == ["success", "data", "pagination", "message", "timestamp"]
    assert page["success"] is True
    assert page["pagination"] == {
        "total": 3,
        "page": 1,
        "limit": 50,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    assert [p["total"] for p in page["data"]] == ["30.00", "20.00", "10.00"]  # newest first
    for presale in page["data"]:
        assert_full_shape(presale)
        assert len(presale["items"]) == 1 and presale["customer"]["name"] == "Zeca"
    assert page["data"][0]["createdAt"] == "2026-01-03T12:00:00.000Z"

    second = (await client.get("/api/presales?page=2&limit=2&sortBy=total&sortOrder=asc", headers=admin_headers)).json()
    assert [p["total"] for p in second["data"]] == ["30.00"]
    assert second["pagination"] == {
        "total": 3,
        "page": 2,
        "limit": 2,
        "totalPages": 2,
        "hasNext": False,
        "hasPrev": True,
        "totalExact": True,
    }
    beyond = (await client.get("/api/presales?page=5&limit=2", headers=admin_headers)).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 3


async def test_sort_by_status(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    for status in ["converted", "draft", "approved"]:
        await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("1"))], status=status)
    response = await client.get("/api/presales?sortBy=status&sortOrder=asc", headers=admin_headers)
    assert [p["status"] for p in response.json()["data"]] == ["draft", "approved", "converted"]  # enum order


async def test_filters(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    ana = await create_customer(db, name="Ana Paula")
    bruno = await create_customer(db, name="Bruno")
    product = await create_product(db)
    one = [(product["id"], Decimal("1"), Decimal("1"))]
    p1 = await create_presale(db, ana["id"], one, status="pending")
    p2 = await create_presale(db, ana["id"], one, status="approved")
    p3 = await create_presale(db, bruno["id"], one, status="draft")
    await _at(db, p1, "2026-03-01T00:00:00")
    await _at(db, p2, "2026-03-02T23:59:59.999")
    await _at(db, p3, "2026-03-03T00:00:00")
    ids = {p1["id"]: "p1", p2["id"]: "p2", p3["id"]: "p3"}

    async def listed(query: str) -> list[str]:
        response = await client.get(f"/api/presales?{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return sorted(ids[uuid.UUID(p["id"])] for p in response.json()["data"])

    assert await listed("status=pending") == ["p1"]
    assert await listed("status=pending&status=draft") == ["p1", "p3"]
    assert await listed(f"customerId={ana['id']}") == ["p1", "p2"]
    assert await listed("customerName=PAULA") == ["p1", "p2"]
    assert await listed("search=brU") == ["p3"]
    assert await listed("search=a%25") == []  # % is literal
    assert await listed("dateFrom=2026-03-02") == ["p2", "p3"]
    assert await listed("dateTo=2026-03-02") == ["p1", "p2"]  # the whole dateTo day is included
    assert await listed("dateFrom=2026-03-02&dateTo=2026-03-02") == ["p2"]
    assert await listed("status=&customerId=&search=&dateFrom=&dateTo=") == ["p1", "p2", "p3"]  # empty = absent
    assert await listed("status=approved&customerName=ana&dateFrom=2026-03-01") == ["p2"]


@pytest.mark.parametrize(
    "query",
    [
        "status=open",
        "status=pending&status=nope",
        "customerId=123",
        "dateFrom=2026-13-01",
        "dateFrom=01/02/2026",
        "dateFrom=2026-03-05&dateTo=2026-03-04",
        "limit=101",
        "limit=0",
        "page=0",
        "sortBy=customer",
        "sortOrder=sideways",
    ],
)
async def test_bad_list_parameters_are_422(client: httpx.AsyncClient, admin_headers: dict, query: str) -> None:
    response = await client.get(f"/api/presales?{query}", headers=admin_headers)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "VALIDATION_ERROR"


async def test_visibility_own_versus_all(client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    seller = await create_user(db, "employee")  # role defaults: canViewOwn, not canViewAll
    other = await create_user(db, "employee")
    manager = await create_user(db, "manager")  # role defaults include canViewAll
    seller_h, other_h, manager_h = (bearer(settings, u) for u in (seller, other, manager))

    own = await create(client, seller_h, body(customer, item(product)))
    theirs = await create(client, other_h, body(customer, item(product)))
    legacy = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("1"))])  # no owner

    seller_list = (await client.get("/api/presales", headers=seller_h)).json()
    assert [p["id"] for p in seller_list["data"]] == [own["id"]]
    assert seller_list["pagination"]["total"] == 1
    assert (await client.get(f"/api/presales/{own['id']}", headers=seller_h)).status_code == 200
    hidden = await client.get(f"/api/presales/{theirs['id']}", headers=seller_h)
    assert hidden.status_code == 404 and error(hidden)["message"] == "Pre-sale not found"
    assert (await client.get(f"/api/presales/{legacy['id']}", headers=seller_h)).status_code == 404

    manager_list = (await client.get("/api/presales", headers=manager_h)).json()
    assert manager_list["pagination"]["total"] == 3
    assert (await client.get(f"/api/presales/{theirs['id']}", headers=manager_h)).status_code == 200

    # writes on someone else's pre-sale look like a missing one
    for response in [
        await client.put(f"/api/presales/{theirs['id']}", json={"notes": "mine now"}, headers=seller_h),
        await client.patch(f"/api/presales/{theirs['id']}/status", json={"status": "approved"}, headers=seller_h),
        await client.post(f"/api/presales/{theirs['id']}/convert", headers=seller_h),
        await client.delete(f"/api/presales/{theirs['id']}", headers=seller_h),
    ]:
        assert response.status_code == 404, response.text
    row = await db.fetchrow("SELECT status, notes FROM presales WHERE id = $1", uuid.UUID(theirs["id"]))
    assert (row["status"], row["notes"]) == ("pending", None)


async def test_no_view_permission_is_403(client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection) -> None:
    blind = await create_user(db, "employee", permissions={"presales": {"canCreate": True}})
    response = await client.get("/api/presales", headers=bearer(settings, blind))
    assert response.status_code == 403 and error(response)["code"] == "FORBIDDEN"
    assert (await client.get(f"/api/presales/{uuid.uuid4()}", headers=bearer(settings, blind))).status_code == 403
    assert (await client.get("/api/presales")).status_code == 401


async def test_presale_without_items_reads_as_an_empty_list(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    bare = await create_presale(db, customer["id"], [])  # only possible outside the API
    got = (await client.get(f"/api/presales/{bare['id']}", headers=admin_headers)).json()["data"]
    assert got["items"] == [] and got["total"] == "0.00" and got["createdBy"] is None
    listed = (await client.get("/api/presales", headers=admin_headers)).json()["data"]
    assert [p["items"] for p in listed] == [[]]
