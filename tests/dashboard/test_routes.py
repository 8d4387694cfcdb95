"""The dashboard over HTTP against the real database (issue 6; contract 6.6; decision 10.3 visibility).

A known data set (factories, then creation times set with SQL), figures computed by hand below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user

DASHBOARD = "/api/dashboard"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def month_start(months_ago: int) -> datetime:
    """The first instant of the calendar month `months_ago` months before this one (UTC)."""
    now = utc_now()
    year, month = now.year, now.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1)


async def presale(
    db: asyncpg.Connection,
    customer: asyncpg.Record,
    product: asyncpg.Record,
    total: str,
    status: str,
    owner: asyncpg.Record,
    at: datetime,
) -> asyncpg.Record:
    row = await create_presale(
        db, customer["id"], [(product["id"], Decimal("1"), Decimal(total))], status=status, created_by=owner["id"]
    )
    return await db.fetchrow("UPDATE presales SET created_at = $1 WHERE id = $2 RETURNING *", at, row["id"])


async def dashboard(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(DASHBOARD, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "data", "message", "timestamp"] and body["success"] is True
    assert list(body["data"]) == [
        "sales",
        "presales",
        "customers",
        "products",
        "lowStockProducts",
        "recentPresales",
        "monthlyRevenue",
    ]
    return body["data"]


class Known:
    """The data set: customers, products and pre-sales of an admin and an employee."""

    def __init__(self) -> None:
        self.presales: list[tuple[asyncpg.Record, str]] = []  # (row, customer name)


@pytest.fixture
async def employee(db: asyncpg.Connection) -> asyncpg.Record:
    return await create_user(db, "employee", name="Employee")


@pytest.fixture
async def known(db: asyncpg.Connection, admin: asyncpg.Record, employee: asyncpg.Record) -> Known:
    data = Known()
    ana = await create_customer(db, name="Ana")
    bruno = await create_customer(db, name="Bruno")
    carla = await create_customer(db, name="Carla")
    await db.execute(
        "UPDATE customers SET created_at = $1 WHERE id = $2", month_start(1) + timedelta(days=1), carla["id"]
    )  # last month: not new this month

    # (name, stock, purchase price): inventory value 0 + 12.50 + 9.00 + 30.00 + 14.00 + 15.00 + 1000.00
    for name, stock, price in [
        ("Arroz", 0, "5.00"),
        ("Feijao", 5, "2.50"),
        ("Cafe", 9, "1.00"),
        ("Acucar", 10, "3.00"),
        ("Sal", 14, "1.00"),
        ("Oleo", 15, "1.00"),
        ("Leite", 100, "10.00"),
    ]:
        await create_product(db, name=name, stock=stock, purchase_price=Decimal(price))
    item = await create_product(db, name="Zz item", stock=1000, purchase_price=Decimal("0.00"))

    now = utc_now()
    plan = [  # customer, total, status, owner, created at
        (ana, "100.00", "converted", admin, month_start(0) + timedelta(days=1)),
        (bruno, "50.50", "converted", admin, month_start(1) + timedelta(days=2)),
        (ana, "25.25", "converted", employee, month_start(3) + timedelta(days=3)),
        (carla, "10.03", "converted", admin, month_start(6) + timedelta(days=1)),  # before the 6 months shown
        (bruno, "40.00", "pending", employee, now - timedelta(minutes=1)),
        (carla, "60.00", "approved", admin, now - timedelta(minutes=2)),
        (ana, "5.00", "draft", admin, now - timedelta(minutes=3)),
        (bruno, "7.00", "cancelled", employee, now - timedelta(minutes=4)),
        (ana, "1.10", "pending", admin, now - timedelta(minutes=5)),
    ]
    for customer, total, status, owner, at in plan:
        data.presales.append((await presale(db, customer, item, total, status, owner, at), customer["name"]))
    return data


def revenue(*amounts: str) -> list[dict[str, str]]:
    """monthlyRevenue for amounts given oldest month first (five months ago .. this month)."""
    return [{"month": month_start(5 - i).strftime("%Y-%m"), "amount": amount} for i, amount in enumerate(amounts)]


def recent(known: Known, owner: asyncpg.Record | None = None) -> list[dict[str, Any]]:
    rows = [(row, name) for row, name in known.presales if owner is None or row["created_by"] == owner["id"]]
    rows.sort(key=lambda pair: pair[0]["created_at"], reverse=True)
    return [
        {
            "id": str(row["id"]),
            "status": row["status"],
            "total": f"{row['total']:.2f}",
            "createdAt": row["created_at"].isoformat(timespec="milliseconds") + "Z",
            "customer": {"id": str(row["customer_id"]), "name": name},
        }
        for row, name in rows[:10]
    ]


CATALOGUE = {
    "customers": {"total": 3, "newThisMonth": 2},
    # lowStock: stock < 10 (Arroz, Feijao, Cafe); critical: stock <= 5 (Arroz, Feijao)
    "products": {"total": 8, "lowStock": 3, "critical": 2, "inventoryValue": "1080.50"},
}


async def test_admin_sees_every_figure(
    client: httpx.AsyncClient, admin_headers: dict, known: Known, db: asyncpg.Connection
) -> None:
    data = await dashboard(client, admin_headers)
    # Converted: 100.00 + 50.50 + 25.25 + 10.03 = 185.78; average 46.445 -> 46.45 (half up).
    assert data["sales"] == {"totalAmount": "185.78", "count": 4, "monthAmount": "100.00", "averageTicket": "46.45"}
    # Pending + approved: 40.00 + 60.00 + 1.10.
    assert data["presales"] == {
        "draft": 1,
        "pending": 2,
        "approved": 1,
        "cancelled": 1,
        "converted": 4,
        "total": 9,
        "pendingAmount": "101.10",
    }
    assert data["customers"] == CATALOGUE["customers"]
    assert data["products"] == CATALOGUE["products"]
    assert data["monthlyRevenue"] == revenue("0.00", "0.00", "25.25", "0.00", "50.50", "100.00")
    assert data["recentPresales"] == recent(known)
    assert len(data["recentPresales"]) == 9
    codes = {row["name"]: row["code"] for row in await db.fetch("SELECT name, code FROM products")}
    # stock < 15, lowest first: Arroz 0, Feijao 5, Cafe 9, Acucar 10, Sal 14
    assert [(p["name"], p["stock"]) for p in data["lowStockProducts"]] == [
        ("Arroz", 0),
        ("Feijao", 5),
        ("Cafe", 9),
        ("Acucar", 10),
        ("Sal", 14),
    ]
    assert all(
        p["code"] == codes[p["name"]] and set(p) == {"id", "code", "name", "stock"} for p in data["lowStockProducts"]
    )


async def test_an_employee_counts_only_own_presales(
    client: httpx.AsyncClient, settings: Settings, known: Known, employee: asyncpg.Record
) -> None:
    data = await dashboard(client, bearer(settings, employee))
    assert data["sales"] == {"totalAmount": "25.25", "count": 1, "monthAmount": "0.00", "averageTicket": "25.25"}
    assert data["presales"] == {
        "draft": 0,
        "pending": 1,
        "approved": 0,
        "cancelled": 1,
        "converted": 1,
        "total": 3,
        "pendingAmount": "40.00",
    }
    assert data["monthlyRevenue"] == revenue("0.00", "0.00", "25.25", "0.00", "0.00", "0.00")
    assert data["recentPresales"] == recent(known, employee)
    assert len(data["recentPresales"]) == 3
    # Customers and products are not pre-sales: everyone sees the same catalogue figures.
    assert data["customers"] == CATALOGUE["customers"]
    assert data["products"] == CATALOGUE["products"]
    assert len(data["lowStockProducts"]) == 5


async def test_view_all_permission_counts_every_presale(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection, known: Known
) -> None:
    for user in (
        await create_user(db, "manager"),  # the manager role's defaults include canViewAll
        await create_user(db, "employee", permissions={"presales": {"canViewAll": True}}),
    ):
        data = await dashboard(client, bearer(settings, user))
        assert data["presales"]["total"] == 9 and data["sales"]["totalAmount"] == "185.78"
    nobody = await create_user(db, "manager", permissions={"presales": {"canViewOwn": True}})
    data = await dashboard(client, bearer(settings, nobody))
    assert data["presales"]["total"] == 0 and data["recentPresales"] == []


async def test_empty_database_gives_zeros(client: httpx.AsyncClient, admin_headers: dict) -> None:
    data = await dashboard(client, admin_headers)
    assert data["sales"] == {"totalAmount": "0.00", "count": 0, "monthAmount": "0.00", "averageTicket": "0.00"}
    assert data["presales"] == {
        "draft": 0,
        "pending": 0,
        "approved": 0,
        "cancelled": 0,
        "converted": 0,
        "total": 0,
        "pendingAmount": "0.00",
    }
    assert data["customers"] == {"total": 0, "newThisMonth": 0}
    assert data["products"] == {"total": 0, "lowStock": 0, "critical": 0, "inventoryValue": "0.00"}
    assert data["lowStockProducts"] == [] and data["recentPresales"] == []
    assert data["monthlyRevenue"] == revenue(*["0.00"] * 6)


async def test_lists_are_ordered_and_capped_at_ten(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, admin: asyncpg.Record
) -> None:
    stocks = {
        "P07": 7,
        "P03": 3,
        "B01": 1,
        "A01": 1,
        "P14": 14,
        "P00": 0,
        "P12": 12,
        "P09": 9,
        "P02": 2,
        "P13": 13,
        "P11": 11,
        "P06": 6,
        "P15": 15,
        "P99": 99,
    }
    for name, stock in stocks.items():
        await create_product(db, name=name, stock=stock)
    listed = sorted(((stock, name) for name, stock in stocks.items() if stock < 15))[:10]
    data = await dashboard(client, admin_headers)
    assert [(p["stock"], p["name"]) for p in data["lowStockProducts"]] == listed
    assert listed[-1] == (12, "P12") and (1, "A01") in listed  # 12 under 15, 10 shown; ties by name

    customer = await create_customer(db)
    product = await create_product(db, stock=500)
    base = utc_now() - timedelta(days=1)
    made = [
        await presale(db, customer, product, f"{i}.00", "pending", admin, base + timedelta(minutes=i))
        for i in range(1, 13)
    ]
    data = await dashboard(client, admin_headers)
    newest = sorted(made, key=lambda row: row["created_at"], reverse=True)[:10]
    assert [p["id"] for p in data["recentPresales"]] == [str(row["id"]) for row in newest]
    assert data["recentPresales"][0]["total"] == "12.00"
    assert data["presales"]["total"] == 12  # the figures still count all rows


async def test_figures_count_every_row_not_a_page(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, admin: asyncpg.Record
) -> None:
    customer = await create_customer(db)
    product = await create_product(db, stock=5000)
    presale_id = (
        await create_presale(
            db,
            customer["id"],
            [(product["id"], Decimal("1"), Decimal("0.01"))],
            status="converted",
            created_by=admin["id"],
        )
    )["id"]
    # 150 copies of the pre-sale (more than the web app's cap of 100 rows), in one statement.
    await db.execute(
        "INSERT INTO presales (customer_id, status, total, created_by) "
        "SELECT customer_id, status, total, created_by FROM presales, generate_series(1, 150) "
        "WHERE id = $1",
        presale_id,
    )
    data = await dashboard(client, admin_headers)
    assert data["sales"]["count"] == 151 and data["sales"]["totalAmount"] == "1.51"
    assert data["sales"]["monthAmount"] == "1.51" and data["monthlyRevenue"][-1]["amount"] == "1.51"


async def test_a_valid_token_is_required(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
        response = await client.get(DASHBOARD, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"UNAUTHORIZED", "INVALID_TOKEN"}


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"][DASHBOARD]["get"]
    assert "200" in operation["responses"] and "401" in operation["responses"]
    assert "Dashboard" in schema["components"]["schemas"]
