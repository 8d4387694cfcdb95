"""Dashboard figures over a connection (issue 6): one statement, shaped for the wire."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from service.auth.current_user import CurrentUser
from service.dashboard import queries
from service.dashboard.schemas import MONTHS, Dashboard
from service.dates import utc_now


def month_boundaries(now: datetime, months: int = MONTHS) -> list[datetime]:
    """The first instants of the last `months` calendar months and of the next one, oldest first."""
    index = now.year * 12 + now.month - 1  # months since year 0
    return [datetime((i // 12), i % 12 + 1, 1) for i in range(index - months + 1, index + 2)]


def _json(raw: str) -> Any:
    return json.loads(raw, parse_float=Decimal)  # numerics stay exact


class DashboardService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def figures(self, now: datetime | None = None) -> dict[str, Any]:
        bounds = month_boundaries(now or utc_now())
        row = await self.conn.fetchrow(*queries.figures(self.user.presale_owner, bounds))
        assert row is not None  # one row of aggregates
        revenue = [row[f"revenue_{i}"] for i in range(len(bounds) - 1)]
        return Dashboard.model_validate(
            {
                "sales": {
                    "total_amount": row["sales_amount"],
                    "count": row["converted"],
                    "month_amount": revenue[-1],
                    "average_ticket": row["average_ticket"],
                },
                "presales": {
                    **{status: row[status] for status in queries.STATUSES},
                    "total": row["presales_total"],
                    "pending_amount": row["pending_amount"],
                },
                "customers": {"total": row["customers_total"], "new_this_month": row["customers_new"]},
                "products": {
                    "total": row["products_total"],
                    "low_stock": row["low_stock"],
                    "critical": row["critical"],
                    "inventory_value": row["inventory_value"],
                },
                "low_stock_products": _json(row["low_stock_products"]),
                "recent_presales": _json(row["recent_presales"]),
                "monthly_revenue": [
                    {"month": start.strftime("%Y-%m"), "amount": amount}
                    for start, amount in zip(bounds, revenue, strict=False)
                ],
            }
        ).to_wire()
