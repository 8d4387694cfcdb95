"""Reports over HTTP against the real database (contract 6.3; quirk 15 fixed; decision 10.9 errors).

The data set is built with the factories, then payment methods and creation times are set with SQL (the
pre-sales API takes `paymentMethodId` in another change). Expected figures are computed by hand below.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user

PAYMENT_METHODS = "/api/reports/payment-methods"
SUMMARY = "/api/reports/summary"
MARCH_2024 = {"startDate": "2024-03-01", "endDate": "2024-03-31"}
DENIED = "Access denied. Reports permission required."


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def method_ids(db: asyncpg.Connection) -> dict[str, uuid.UUID]:
    return {row["code"]: row["id"] for row in await db.fetch("SELECT code, id FROM payment_methods")}


class Sales:
    """Pre-sales of one customer and product, with a chosen status, total, payment method and creation time."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.customer: asyncpg.Record | None = None
        self.product: asyncpg.Record | None = None

    async def add(
        self, total: str, at: datetime | None, *, method: uuid.UUID | None = None, status: str = "converted"
    ) -> uuid.UUID:
        if self.customer is None:
            self.customer = await create_customer(self.db)
            self.product = await create_product(self.db)
        line = (self.product["id"], Decimal("1"), Decimal(total))
        presale = await create_presale(self.db, self.customer["id"], [line], status=status)
        assert presale["total"] == Decimal(total)
        await self.db.execute("UPDATE presales SET payment_method_id = $1 WHERE id = $2", method, presale["id"])
        if at is not None:  # None: keep the database's now()
            await self.db.execute("UPDATE presales SET created_at = $1 WHERE id = $2", at, presale["id"])
        return presale["id"]


@pytest.fixture
async def march(db: asyncpg.Connection) -> dict[str, uuid.UUID]:
    """Sales around March 2024; PM0005 (Boleto) made inactive; PM0006 'Vale' added, active, never used."""
    ids = await method_ids(db)
    await db.execute("UPDATE payment_methods SET is_active = false WHERE code = 'PM0005'")
    ids["PM0006"] = await db.fetchval(
        "INSERT INTO payment_methods (code, description) VALUES ('PM0006', 'Vale') RETURNING id"
    )
    cash, credit, debit, pix, boleto = (ids[c] for c in ("PM0001", "PM0002", "PM0003", "PM0004", "PM0005"))
    sales = Sales(db)
    await sales.add("100.10", datetime(2024, 3, 5, 10, 0), method=pix)
    await sales.add("50.25", datetime(2024, 3, 20, 15, 30), method=pix)
    await sales.add("200.00", datetime(2024, 3, 10, 9, 0), method=cash)
    await sales.add("80.00", datetime(2024, 3, 31, 23, 59, 59, 500000), method=credit)  # last half second of March
    await sales.add("70.00", datetime(2024, 3, 15, 12, 0), method=boleto)  # inactive method: summary only
    await sales.add("30.00", datetime(2024, 3, 16, 12, 0), method=None)  # no method: summary only
    # Not sales: other statuses, or outside March.
    await sales.add("999.99", datetime(2024, 3, 12, 12, 0), method=pix, status="pending")
    await sales.add("500.00", datetime(2024, 3, 12, 12, 0), method=cash, status="cancelled")
    await sales.add("400.00", datetime(2024, 3, 14, 12, 0), method=debit, status="approved")
    await sales.add("300.00", datetime(2024, 3, 13, 12, 0), method=pix, status="draft")
    await sales.add("11.11", datetime(2024, 4, 1, 0, 0), method=pix)
    await sales.add("22.22", datetime(2024, 2, 29, 23, 59, 59, 999999), method=cash)
    return ids


def body(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body with every number read as an exact Decimal."""
    assert response.status_code == status, response.text
    return json.loads(response.text, parse_float=Decimal)


def rows(response: httpx.Response) -> list[tuple[str, Decimal, int]]:
    data = body(response)["data"]
    for row in data:
        assert row["convertedPresalesCount"] == row["salesCount"]
        assert row["convertedPresalesAmount"] == row["totalAmount"]
    return [(row["paymentMethod"]["code"], row["totalAmount"], row["salesCount"]) for row in data]


def totals(response: httpx.Response) -> tuple[Decimal, int]:
    data = body(response)["data"]
    assert data["totalConvertedPresales"] == data["totalSalesCount"]
    assert data["totalConvertedPresalesAmount"] == data["totalAmount"]
    return data["totalAmount"], data["totalSalesCount"]


# --- payment methods report ------------------------------------------------------------------------------


async def test_one_row_per_active_method_sorted_by_total_then_description(
    client: httpx.AsyncClient, admin_headers: dict, march: dict[str, uuid.UUID]
) -> None:
    response = await client.get(PAYMENT_METHODS, params=MARCH_2024, headers=admin_headers)
    # PIX 100.10 + 50.25; the inactive Boleto is left out; Débito and Vale tie at zero: by description.
    assert rows(response) == [
        ("PM0001", Decimal("200.00"), 1),
        ("PM0004", Decimal("150.35"), 2),
        ("PM0002", Decimal("80.00"), 1),
        ("PM0003", Decimal("0.00"), 0),
        ("PM0006", Decimal("0.00"), 0),
    ]


async def test_payment_methods_envelope_and_row_shape(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, march: dict[str, uuid.UUID]
) -> None:
    response = await client.get(PAYMENT_METHODS, params=MARCH_2024, headers=admin_headers)
    payload = body(response)
    assert list(payload) == ["success", "data", "message", "timestamp"]
    assert payload["success"] is True and payload["timestamp"].endswith("Z")
    row = payload["data"][1]
    assert list(row) == [
        "paymentMethod",
        "totalAmount",
        "salesCount",
        "convertedPresalesCount",
        "convertedPresalesAmount",
    ]
    pix = await db.fetchrow("SELECT * FROM payment_methods WHERE code = 'PM0004'")
    assert row["paymentMethod"] == {
        "id": str(pix["id"]),
        "code": "PM0004",
        "description": "PIX",
        "isActive": True,
        "createdAt": pix["created_at"].isoformat(timespec="milliseconds") + "Z",
        "updatedAt": pix["updated_at"].isoformat(timespec="milliseconds") + "Z",
    }
    # Money is a JSON number (the web app calls toFixed on it), written exactly with two decimals.
    assert '"totalAmount":150.35,' in response.text
    assert '"totalAmount":0.00,' in response.text
    assert isinstance(response.json()["data"][0]["totalAmount"], float)


async def test_date_times_are_inclusive_bounds(
    client: httpx.AsyncClient, admin_headers: dict, march: dict[str, uuid.UUID]
) -> None:
    period = {"startDate": "2024-03-10T09:00:00.000Z", "endDate": "2024-03-20T15:30:00Z"}
    assert rows(await client.get(PAYMENT_METHODS, params=period, headers=admin_headers)) == [
        ("PM0001", Decimal("200.00"), 1),  # exactly at the start
        ("PM0004", Decimal("50.25"), 1),  # exactly at the end
        ("PM0002", Decimal("0.00"), 0),
        ("PM0003", Decimal("0.00"), 0),
        ("PM0006", Decimal("0.00"), 0),
    ]
    # Plus Boleto 70.00 and the sale without a method, 30.00.
    assert totals(await client.get(SUMMARY, params=period, headers=admin_headers)) == (Decimal("350.25"), 4)


async def test_offsets_are_converted_to_utc(
    client: httpx.AsyncClient, admin_headers: dict, march: dict[str, uuid.UUID]
) -> None:
    at_cash_sale = {"startDate": "2024-03-10T06:00:00-03:00", "endDate": "2024-03-10T12:00:00+01:00"}
    assert totals(await client.get(SUMMARY, params=at_cash_sale, headers=admin_headers)) == (Decimal("200.00"), 1)
    just_after = {**at_cash_sale, "startDate": "2024-03-10T06:00:00.001-03:00"}
    assert totals(await client.get(SUMMARY, params=just_after, headers=admin_headers)) == (Decimal("0.00"), 0)
    no_offset_is_utc = {"startDate": "2024-03-10T09:00:00", "endDate": "2024-03-10T09:00:00"}
    assert totals(await client.get(SUMMARY, params=no_offset_is_utc, headers=admin_headers)) == (Decimal("200.00"), 1)


async def test_payment_method_filter_applies_to_both_reports(
    client: httpx.AsyncClient, admin_headers: dict, march: dict[str, uuid.UUID]
) -> None:
    pix = {**MARCH_2024, "paymentMethodId": str(march["PM0004"])}
    assert rows(await client.get(PAYMENT_METHODS, params=pix, headers=admin_headers)) == [
        ("PM0004", Decimal("150.35"), 2)
    ]
    assert totals(await client.get(SUMMARY, params=pix, headers=admin_headers)) == (Decimal("150.35"), 2)

    unused = {**MARCH_2024, "paymentMethodId": str(march["PM0006"])}
    assert rows(await client.get(PAYMENT_METHODS, params=unused, headers=admin_headers)) == [
        ("PM0006", Decimal("0.00"), 0)
    ]
    assert totals(await client.get(SUMMARY, params=unused, headers=admin_headers)) == (Decimal("0.00"), 0)

    # An inactive method has no row, but its sales are still sales.
    boleto = {**MARCH_2024, "paymentMethodId": str(march["PM0005"])}
    assert rows(await client.get(PAYMENT_METHODS, params=boleto, headers=admin_headers)) == []
    assert totals(await client.get(SUMMARY, params=boleto, headers=admin_headers)) == (Decimal("70.00"), 1)

    unknown = {**MARCH_2024, "paymentMethodId": str(uuid.uuid4())}
    assert rows(await client.get(PAYMENT_METHODS, params=unknown, headers=admin_headers)) == []
    assert totals(await client.get(SUMMARY, params=unknown, headers=admin_headers)) == (Decimal("0.00"), 0)


# --- summary ----------------------------------------------------------------------------------------------


async def test_summary_counts_every_converted_presale_of_the_period(
    client: httpx.AsyncClient, admin_headers: dict, march: dict[str, uuid.UUID]
) -> None:
    response = await client.get(SUMMARY, params=MARCH_2024, headers=admin_headers)
    payload = body(response)
    assert list(payload) == ["success", "data", "message", "timestamp"]
    # 100.10 + 50.25 + 200.00 + 80.00 + 70.00 (inactive method) + 30.00 (no method)
    assert payload["data"] == {
        "totalAmount": Decimal("530.35"),
        "totalSalesCount": 6,
        "totalConvertedPresales": 6,
        "totalConvertedPresalesAmount": Decimal("530.35"),
        # A date alone is its whole day.
        "period": {"startDate": "2024-03-01T00:00:00.000Z", "endDate": "2024-03-31T23:59:59.999Z"},
    }
    assert '"totalAmount":530.35,' in response.text


async def test_summary_echoes_date_times_in_utc(client: httpx.AsyncClient, admin_headers: dict) -> None:
    period = {"startDate": "2024-03-01T00:00:00-03:00", "endDate": "2024-03-31T23:59:59.999Z"}
    data = body(await client.get(SUMMARY, params=period, headers=admin_headers))["data"]
    assert data["period"] == {"startDate": "2024-03-01T03:00:00.000Z", "endDate": "2024-03-31T23:59:59.999Z"}
    assert (data["totalAmount"], data["totalSalesCount"]) == (Decimal("0.00"), 0)
    assert '"totalAmount":0.00,' in (await client.get(SUMMARY, params=period, headers=admin_headers)).text


async def test_default_period_is_this_year_until_now_for_both_reports(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    ids = await method_ids(db)
    pix, cash = ids["PM0004"], ids["PM0001"]
    year = utc_now().year
    sales = Sales(db)
    await sales.add("1000.00", datetime(year - 1, 12, 31, 23, 59, 59, 999999), method=pix)  # last year
    await sales.add("12.34", datetime(year, 1, 1), method=pix)  # the first instant of the year
    await sales.add("5.66", None, method=cash)  # created now
    await sales.add("7.00", None, method=cash, status="approved")
    await sales.add("3000.00", utc_now() + timedelta(days=2), method=cash)  # after now

    before = utc_now()
    for params in ({}, {"startDate": "", "endDate": "", "paymentMethodId": ""}):  # empty counts as absent
        summary = body(await client.get(SUMMARY, params=params, headers=admin_headers))["data"]
        assert (summary["totalAmount"], summary["totalSalesCount"]) == (Decimal("18.00"), 2)
        assert summary["period"]["startDate"] == f"{year}-01-01T00:00:00.000Z"
        end = datetime.fromisoformat(summary["period"]["endDate"].replace("Z", "+00:00")).replace(tzinfo=None)
        assert before - timedelta(milliseconds=1) <= end <= utc_now()
        assert rows(await client.get(PAYMENT_METHODS, params=params, headers=admin_headers)) == [
            ("PM0004", Decimal("12.34"), 1),
            ("PM0001", Decimal("5.66"), 1),
            ("PM0005", Decimal("0.00"), 0),  # Boleto Bancário
            ("PM0002", Decimal("0.00"), 0),  # Cartão de Crédito
            ("PM0003", Decimal("0.00"), 0),  # Cartão de Débito
        ]


async def test_an_end_date_in_the_future_is_accepted(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await Sales(db).add("3000.00", utc_now() + timedelta(days=2))
    tomorrow_plus = (utc_now() + timedelta(days=3)).date().isoformat()
    response = await client.get(
        SUMMARY, params={"startDate": "2024-01-01", "endDate": tomorrow_plus}, headers=admin_headers
    )
    assert totals(response) == (Decimal("3000.00"), 1)


# --- validation ------------------------------------------------------------------------------------------


def _future() -> str:
    return (utc_now() + timedelta(hours=1)).isoformat(timespec="seconds") + "Z"


@pytest.mark.parametrize("path", [PAYMENT_METHODS, SUMMARY])
@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"startDate": "2024-03-01"}, "endDate", "startDate and endDate must be given together"),
        ({"endDate": "2024-03-01"}, "startDate", "startDate and endDate must be given together"),
        ({"startDate": "2024-03-02", "endDate": "2024-03-01"}, "endDate", "startDate must not be after endDate"),
        (
            {"startDate": "2024-03-01T10:00:00.001Z", "endDate": "2024-03-01T10:00:00Z"},
            "endDate",
            "startDate must not be after endDate",
        ),
        ({"startDate": "FUTURE", "endDate": "2999-01-01"}, "startDate", "startDate must not be in the future"),
        ({"startDate": "2999-01-01", "endDate": "2999-01-02"}, "startDate", "startDate must not be in the future"),
        ({"paymentMethodId": "not-a-uuid"}, "paymentMethodId", None),
        ({"startDate": "2024-13-01", "endDate": "2024-12-31"}, "startDate", None),
        ({"startDate": "yesterday", "endDate": "2024-12-31"}, "startDate", None),
        ({"startDate": "2024-03-01", "endDate": "2024-03-01T25:00:00Z"}, "endDate", None),
        ({"startDate": "1709251200", "endDate": "2024-03-31"}, "startDate", None),
    ],
)
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, admin_headers: dict, path: str, params: dict[str, str], field: str, message: str | None
) -> None:
    params = {key: _future() if value == "FUTURE" else value for key, value in params.items()}
    response = await client.get(path, params=params, headers=admin_headers)
    payload = body(response, 422)
    assert payload["success"] is False and payload["error"]["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in payload["error"]["details"]] == [field]
    assert payload["message"] == payload["error"]["message"]
    if message is not None:
        assert payload["error"]["message"] == message
    assert payload["path"] == path


async def test_today_as_a_date_is_not_in_the_future(client: httpx.AsyncClient, admin_headers: dict) -> None:
    today = utc_now().date().isoformat()
    response = await client.get(SUMMARY, params={"startDate": today, "endDate": today}, headers=admin_headers)
    assert body(response)["data"]["period"] == {
        "startDate": f"{today}T00:00:00.000Z",
        "endDate": f"{today}T23:59:59.999Z",
    }


# --- access ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PAYMENT_METHODS, SUMMARY])
async def test_access_needs_admin_or_the_reports_permission(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, path: str
) -> None:
    employee = await create_user(db, "employee")
    denied = await client.get(path, headers=bearer(settings, employee))
    payload = body(denied, 403)
    assert payload["error"] == {"code": "FORBIDDEN", "message": DENIED, "requestId": denied.headers["x-request-id"]}
    assert payload["message"] == DENIED and payload["success"] is False

    stored_without = await create_user(
        db, "manager", permissions={"modules": {"reports": False}, "presales": {"canViewAll": True}}
    )
    assert (await client.get(path, headers=bearer(settings, stored_without))).status_code == 403

    admin_without_flag = await create_user(db, "admin", permissions={"modules": {"reports": False}})
    granted = [
        await create_user(db, "manager"),  # the manager role's defaults include reports
        await create_user(db, "employee", permissions={"modules": {"reports": True}}),
        admin_without_flag,  # admins may do everything
    ]
    for user in granted:
        response = await client.get(path, headers=bearer(settings, user))
        assert response.status_code == 200, (user["role"], response.text)
        assert response.json()["success"] is True


@pytest.mark.parametrize("path", [PAYMENT_METHODS, SUMMARY])
async def test_a_valid_token_is_required(client: httpx.AsyncClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"UNAUTHORIZED", "INVALID_TOKEN"}


async def test_token_is_checked_before_the_query(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    bad = {"startDate": "2024-03-01"}
    assert (await client.get(SUMMARY, params=bad)).status_code == 401
    employee = await create_user(db, "employee")
    assert (await client.get(SUMMARY, params=bad, headers=bearer(settings, employee))).status_code == 403
