"""Reports over a connection (contract 6.3; quirk 15 fixed: the default period and `paymentMethodId`
apply to both reports)."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.dates import utc_now
from service.reports import queries
from service.reports.schemas import (
    PaymentMethodReportRow,
    ReportFilter,
    ReportPaymentMethod,
    ReportPeriod,
    ReportQuery,
    ReportSummary,
    iso,
)


def _row(record: asyncpg.Record) -> dict[str, Any]:
    method = ReportPaymentMethod(
        id=record["id"],
        code=record["code"],
        description=record["description"],
        is_active=record["is_active"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )
    return PaymentMethodReportRow(
        payment_method=method,
        total_amount=record["total_amount"],
        sales_count=record["sales_count"],
        converted_presales_count=record["sales_count"],  # every sale is a converted pre-sale
        converted_presales_amount=record["total_amount"],
    ).to_wire()


class ReportService:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def by_payment_method(self, query: ReportQuery) -> list[dict[str, Any]]:
        records = await self.conn.fetch(*queries.by_payment_method(query.resolve(utc_now())))
        return [_row(record) for record in records]

    async def summary(self, query: ReportQuery) -> dict[str, Any]:
        f: ReportFilter = query.resolve(utc_now())
        record = await self.conn.fetchrow(*queries.summary(f))
        assert record is not None  # one row of aggregates
        return ReportSummary(
            total_amount=record["total_amount"],
            total_sales_count=record["sales_count"],
            total_converted_presales=record["sales_count"],
            total_converted_presales_amount=record["total_amount"],
            period=ReportPeriod(start_date=iso(f.start), end_date=iso(f.end)),
        ).to_wire()
