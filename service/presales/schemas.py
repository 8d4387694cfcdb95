"""Pre-sale request and response models (contract 5.5, 7.5, 7.6, 10.3, 10.6, 10.7, 10.14)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, PlainSerializer, ValidationInfo, field_validator

from service.customers.schemas import CustomerOut
from service.http.dates import Day
from service.http.schemas import (
    AtLeastOneField,
    ListQuery,
    Money,
    NoNul,
    Percentage,
    Quantity,
    SortOrder,
    StrictInput,
    UtcDatetime,
    WireModel,
    decimal_json_schema,
    nullable_text,
)

PresaleStatus = Literal["draft", "pending", "approved", "cancelled", "converted"]
CreationStatus = Literal["draft", "pending"]  # decision 10.7
DiscountType = Literal["fixed", "percentage"]

# Contract 7.6: same status is always accepted; cancelled and converted are terminal.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"pending", "cancelled"}),
    "pending": frozenset({"approved", "cancelled", "converted"}),
    "approved": frozenset({"converted", "cancelled"}),
    "cancelled": frozenset(),
    "converted": frozenset(),
}
TERMINAL = frozenset({"cancelled", "converted"})


def can_transition(current: str, target: str) -> bool:
    return current == target or target in TRANSITIONS[current]


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("Quantity must be greater than 0")
    return value


PositiveQuantity = Annotated[
    Quantity, AfterValidator(_positive), decimal_json_schema(3, Decimal("9999999.999"), positive=True)
]
Notes = Annotated[str | None, *nullable_text(1000)]


class PresaleItemIn(StrictInput):
    product_id: uuid.UUID
    quantity: PositiveQuantity
    unit_price: Money
    discount: Money = Decimal("0")
    discount_type: DiscountType = "fixed"
    discount_percentage: Percentage = Decimal("0")


class PresaleItemReplace(PresaleItemIn):
    """PUT items replace all items: an `id` sent back by the web app is accepted and ignored."""

    id: uuid.UUID | None = None


Items = Annotated[list[PresaleItemIn], Field(min_length=1, max_length=100)]
ReplacementItems = Annotated[list[PresaleItemReplace], Field(min_length=1, max_length=100)]


class PresaleCreate(StrictInput):
    customer_id: uuid.UUID
    status: CreationStatus = "pending"
    discount: Money = Decimal("0")
    discount_type: DiscountType = "fixed"
    discount_percentage: Percentage = Decimal("0")
    notes: Notes
    payment_method_id: uuid.UUID | None = None  # decision 10.4: must exist and be active
    items: Items


NULLABLE_UPDATE_FIELDS = frozenset({"notes", "payment_method_id"})  # null clears them


class PresaleUpdate(AtLeastOneField):
    NULLABLE = NULLABLE_UPDATE_FIELDS
    customer_id: uuid.UUID | None = None
    status: PresaleStatus | None = None
    discount: Money | None = None
    discount_type: DiscountType | None = None
    discount_percentage: Percentage | None = None
    notes: Notes
    payment_method_id: uuid.UUID | None = None  # null clears it
    items: ReplacementItems | None = None


class PresaleStatusChange(StrictInput):
    status: PresaleStatus


# --- responses -------------------------------------------------------------------------------------------


def _fixed(places: str) -> Any:
    step = Decimal(places)
    return PlainSerializer(
        lambda value: format(Decimal(value).quantize(step, rounding=ROUND_HALF_UP), "f"), return_type=str
    )


MoneyText = Annotated[Decimal, _fixed("0.01")]  # "117.00"
QuantityText = Annotated[Decimal, _fixed("0.001")]  # "2.000"
PercentageText = Annotated[Decimal, _fixed("0.01")]  # "10.00"


class PresaleProductOut(WireModel):
    """The full product on every item (decision 10.14)."""

    id: uuid.UUID
    code: str
    name: str
    unit: str
    description: str | None
    stock: int
    purchase_price: MoneyText
    sale_price: MoneyText
    sale_type: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PresaleItemOut(WireModel):
    id: uuid.UUID
    pre_sale_id: uuid.UUID
    product_id: uuid.UUID
    quantity: QuantityText
    unit_price: MoneyText
    total_price: MoneyText
    discount: MoneyText
    discount_type: DiscountType
    discount_percentage: PercentageText
    product: PresaleProductOut


class PresaleOut(WireModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: PresaleStatus
    total: MoneyText
    discount: MoneyText
    discount_type: DiscountType
    discount_percentage: PercentageText
    notes: str | None
    payment_method_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    customer: CustomerOut
    items: list[PresaleItemOut]


# --- list query ------------------------------------------------------------------------------------------

SearchText = Annotated[str, NoNul, Field(max_length=255)]


class PresaleListQuery(ListQuery):
    SORT_COLUMNS: ClassVar[dict[str, str]] = {"createdAt": "created_at", "total": "total", "status": "status"}

    sort_by: Literal["createdAt", "total", "status"] = "createdAt"
    sort_order: SortOrder = "desc"
    status: list[PresaleStatus] | None = None
    customer_id: uuid.UUID | None = None
    customer_name: SearchText | None = None
    search: SearchText | None = None
    date_from: Day | None = None
    date_to: Day | None = None

    @field_validator("date_to")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_from")
        if value is not None and start is not None and start > value:
            raise ValueError("dateFrom must not be after dateTo")
        return value
