"""Dashboard figures (issue 6; contract 6.6): what the web app built from three lists capped at 100 rows,
computed by PostgreSQL over every row. Money as strings with two decimals, like the rest of the API."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer

from service.http.schemas import UtcDatetime, WireModel

LOW_STOCK = 10  # products.lowStock counts stock < 10 (the web app's metric)
CRITICAL_STOCK = 5  # products.critical counts stock <= 5
ALERT_STOCK = 15  # lowStockProducts lists stock < 15 (the web app's alerts)
LIST_SIZE = 10  # lowStockProducts and recentPresales
MONTHS = 6  # monthlyRevenue: this calendar month and the five before it

MoneyText = Annotated[
    Decimal,
    PlainSerializer(
        lambda value: format(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "f"), return_type=str
    ),
]


class SalesFigures(WireModel):
    total_amount: MoneyText = Field(description="Sum of the totals of converted pre-sales")
    count: int = Field(description="Converted pre-sales")
    month_amount: MoneyText = Field(description="Converted pre-sales created this calendar month (UTC)")
    average_ticket: MoneyText = Field(description="totalAmount / count, rounded half up to cents; 0.00 without sales")


class PresaleFigures(WireModel):
    draft: int
    pending: int
    approved: int
    cancelled: int
    converted: int
    total: int
    pending_amount: MoneyText = Field(description="Sum of the totals of pending and approved pre-sales")


class CustomerFigures(WireModel):
    total: int
    new_this_month: int = Field(description="Created this calendar month (UTC)")


class ProductFigures(WireModel):
    total: int
    low_stock: int = Field(description=f"Products with stock < {LOW_STOCK}")
    critical: int = Field(description=f"Products with stock <= {CRITICAL_STOCK}")
    inventory_value: MoneyText = Field(description="Sum of stock x purchase price")


class LowStockProduct(WireModel):
    id: uuid.UUID
    code: str
    name: str
    stock: int


class RecentPresaleCustomer(WireModel):
    id: uuid.UUID
    name: str


class RecentPresale(WireModel):
    id: uuid.UUID
    status: Literal["draft", "pending", "approved", "cancelled", "converted"]
    total: MoneyText
    created_at: UtcDatetime
    customer: RecentPresaleCustomer


class MonthRevenue(WireModel):
    month: str = Field(description="YYYY-MM (UTC)")
    amount: MoneyText = Field(description="Sum of the totals of the month's converted pre-sales")


class Dashboard(WireModel):
    """Pre-sale figures (sales, presales, recentPresales, monthlyRevenue) count only the caller's own
    pre-sales unless the caller may see all of them (presales.canViewAll; admins always)."""

    sales: SalesFigures
    presales: PresaleFigures
    customers: CustomerFigures
    products: ProductFigures
    low_stock_products: list[LowStockProduct] = Field(
        description=f"Up to {LIST_SIZE} products with stock < {ALERT_STOCK}, lowest stock first, then by name"
    )
    recent_presales: list[RecentPresale] = Field(description=f"The {LIST_SIZE} newest visible pre-sales")
    monthly_revenue: list[MonthRevenue] = Field(
        description=f"The last {MONTHS} calendar months, oldest first, months without sales as 0.00"
    )
