"""The one date parser of every route (service/dates.py): the calendar's edges, zones, junk."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.dates import MAX_DATE_TEXT, lower_bound, parse_date, upper_bound
from tests.factories import create_customer, create_presale, create_product


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0001-01-01", date(1, 1, 1)),
        ("9999-12-31", date(9999, 12, 31)),
        ("2024-02-29", date(2024, 2, 29)),  # leap year
        ("2000-02-29", date(2000, 2, 29)),  # divisible by 400: leap
        (" 2026-03-01 ", date(2026, 3, 1)),  # surrounding blanks are not part of the value
        ("2026-03-01T10:20", datetime(2026, 3, 1, 10, 20)),
        ("2026-03-01 10:20:30", datetime(2026, 3, 1, 10, 20, 30)),
        ("2026-03-01T10:20:30.123Z", datetime(2026, 3, 1, 10, 20, 30, 123000)),
        ("2026-03-01T10:20:30.123456789Z", datetime(2026, 3, 1, 10, 20, 30, 123456)),  # nanoseconds truncated
        ("2026-03-01T00:30:00+01:00", datetime(2026, 2, 28, 23, 30)),  # to UTC, across a month end
        ("2024-03-01T00:30:00+0100", datetime(2024, 2, 29, 23, 30)),  # ... into a leap day
        ("2026-03-01T10:00:00-03:00", datetime(2026, 3, 1, 13, 0)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ("0001-01-01T00:30-00:30", datetime(1, 1, 1, 1, 0)),
        ("9999-12-31T23:00+05:00", datetime(9999, 12, 31, 18, 0)),
    ],
)
def test_dates_and_date_times_are_read(text: str, expected: date | datetime) -> None:
    assert parse_date(text) == expected
    assert type(parse_date(text)) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "1900-02-29",  # not leap years (1900: divisible by 100, not by 400)
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-01-32",
        "2026-04-31",
        "0000-01-01",
        "10000-01-01",
        "-0001-01-01",
        "+2026-01-01",
        "2026-01-01T24:00",
        "2026-01-01T23:60",
        "2026-01-01T23:59:60",
        "2026-01-01T10:00+24:00",
        "0001-01-01T00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:00-05:00",  # after year 9999 in UTC
        "2026-1-1",
        "26-01-01",
        "20260101",
        "2026/01/01",
        "01/02/2026",
        "1709251200",
        "yesterday",
        "",
        "2026-01-01T",
        "2026-01-01T10",
        "2026-01-01t10:00",
        "2026-01-01T10:00z",
        "2026-01-01T10:00 UTC",
        "2026-01-01T10:00:00.1234567890Z",
        "٢٠٢٦-٠١-٠١",  # Arabic-Indic digits: `\d` would match them
        "2026-01-01\x00",
        "\x002026-01-01",
        "2026-01-01\nX",
        "2026-01-01" + " " * MAX_DATE_TEXT,
        "9" * 100_000,
        "\ud800",
        "2026-01-01\ud800",
    ],
)
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="Must be a date"):
        parse_date(text)


@pytest.mark.parametrize("value", [None, 20260101, 2026.0, ["2026-01-01"], {"date": "2026-01-01"}, b"2026-01-01"])
def test_only_text_is_a_date(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value)


def test_day_only_refuses_a_time_of_day() -> None:
    assert parse_date("2026-01-01", day_only=True) == date(2026, 1, 1)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("2026-01-01T00:00:00Z", day_only=True)


def test_bounds_cover_the_whole_day_without_leaving_the_calendar() -> None:
    assert lower_bound(date(1, 1, 1)) == datetime(1, 1, 1)
    assert upper_bound(date(9999, 12, 31)) == datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert upper_bound(date(2024, 2, 29)) == datetime(2024, 2, 29, 23, 59, 59, 999999)
    moment = datetime(2026, 3, 1, 10, 0)
    assert lower_bound(moment) == moment == upper_bound(moment)  # a date-time is an exact, inclusive bound


# --- every date filter, over HTTP --------------------------------------------------------------------------

DATE_FILTERS = [
    ("/api/presales", "dateFrom", "dateTo"),
    ("/api/audit-logs", "startDate", "endDate"),
    ("/api/stock-adjustments", "startDate", "endDate"),
    ("/api/reports/summary", "startDate", "endDate"),
]


@pytest.mark.parametrize(("path", "start", "end"), DATE_FILTERS)
async def test_the_calendars_first_and_last_days_are_filters(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    admin: asyncpg.Record,
    admin_headers: dict,
    path: str,
    start: str,
    end: str,
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    await create_presale(
        db, customer["id"], [(product["id"], Decimal(1), Decimal("10.00"))], status="converted", created_by=admin["id"]
    )
    await db.execute(
        "INSERT INTO audit_logs (user_id, user_name, action, resource) VALUES ($1, 'Admin', 'create', 'presale')",
        admin["id"],
    )
    await db.execute(
        "INSERT INTO stock_adjustments (product_id, user_id, user_name, adjustment_type, quantity, "
        "previous_stock, new_stock, reason) VALUES ($1, $2, 'Admin', 'add', 1, 0, 1, 'edge')",
        product["id"],
        admin["id"],
    )
    whole_calendar = await client.get(path, params={start: "0001-01-01", end: "9999-12-31"}, headers=admin_headers)
    assert whole_calendar.status_code == 200, whole_calendar.text  # dateTo=9999-12-31 was an OverflowError
    data = whole_calendar.json()["data"]
    if path == "/api/reports/summary":
        assert data["totalConvertedPresales"] == 1
        assert data["period"] == {"startDate": "0001-01-01T00:00:00.000Z", "endDate": "9999-12-31T23:59:59.999Z"}
    else:
        assert len(data) == 1
    if path != "/api/presales":  # the pre-sale list takes whole days only
        last_instant = await client.get(
            path, params={start: "0001-01-01T00:00:00Z", end: "9999-12-31T23:59:59.999999Z"}, headers=admin_headers
        )
        assert last_instant.status_code == 200, last_instant.text
    for params in (
        {end: "9999-12-31T23:00:00-05:00"},
        {start: "0001-01-01T00:00:00+01:00"},
        {end: "10000-01-01"},
        {start: "2023-02-29"},
        {end: "9999-12-31\x00"},
        {start: "9" * 10_000},
    ):
        refused = await client.get(
            path, params={start: "2024-01-01", end: "2024-12-31", **params}, headers=admin_headers
        )
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
