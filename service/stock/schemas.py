"""Stock adjustment request and response models (contract 6.1, 7.4)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from service.http.schemas import ListQuery, NoNul, StrictInput, UtcDatetime, WireModel, clean_text

AdjustmentType = Literal["add", "remove"]
MAX_QUANTITY = 999_999


def _json_integer(value: Any) -> Any:
    """Only a JSON integer. Checked by hand: Litestar validates bodies with `strict=False`, which overrides
    pydantic's StrictInt (2.0, "2" and true would pass as 2, 2 and 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Quantity must be an integer number")
    return value


Quantity = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=MAX_QUANTITY)]
Reason = clean_text(500)


class StockAdjustmentIn(StrictInput):
    model_config = ConfigDict(**StrictInput.model_config,
                              example={"adjustmentType": "add", "quantity": 12, "reason": "Supplier delivery NF 1234"})

    adjustment_type: AdjustmentType
    quantity: Quantity
    reason: Reason


class AdjustmentOut(WireModel):
    id: uuid.UUID
    type: AdjustmentType
    quantity: int
    reason: str
    created_at: UtcDatetime


class StockAdjustmentResult(WireModel):
    """The adjusted product (id, code, name, new stock) and the history row written (not a full product)."""

    id: uuid.UUID
    code: str
    name: str
    stock: int
    previous_stock: int
    adjustment: AdjustmentOut


class StockAdjustmentOut(WireModel):
    id: uuid.UUID
    product_id: uuid.UUID
    product_code: str
    product_name: str
    adjustment_type: AdjustmentType
    quantity: int
    previous_stock: int
    new_stock: int
    reason: str
    user_id: uuid.UUID | None
    user_name: str
    ip_address: str | None
    user_agent: str | None
    created_at: UtcDatetime


# --- list query ------------------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
DATE_MESSAGE = "Must be a date (YYYY-MM-DD) or an ISO 8601 date-time"


def _date_or_datetime(value: Any) -> Any:
    """`YYYY-MM-DD` stays a date (a whole day); an ISO date-time becomes a naive UTC datetime (a zone-less one
    is taken as UTC, like the stored timestamps)."""
    if not isinstance(value, str):
        raise ValueError(DATE_MESSAGE)
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return date.fromisoformat(text)
        if _DATE_TIME.match(text):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
    except (ValueError, OverflowError) as exc:
        raise ValueError(DATE_MESSAGE) from exc
    raise ValueError(DATE_MESSAGE)


# datetime before date: a datetime is also a date, and pydantic must keep the time of day.
DateBound = Annotated[datetime | date, BeforeValidator(_date_or_datetime)]


def lower_bound(value: date | datetime) -> datetime:
    """createdAt >= this (a date means from its first instant)."""
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def upper_bound(value: date | datetime) -> tuple[datetime, bool]:
    """(bound, inclusive): a date includes its whole day (createdAt < the next midnight); a date-time is
    inclusive (createdAt <= it)."""
    if isinstance(value, datetime):
        return value, True
    if value == date.max:
        return datetime.max, True
    return datetime.combine(value + timedelta(days=1), time()), False


class StockAdjustmentListQuery(ListQuery):
    product_id: uuid.UUID | None = None
    product_code: Annotated[str, NoNul, Field(max_length=50)] | None = None
    adjustment_type: AdjustmentType | None = None
    start_date: DateBound | None = None
    end_date: DateBound | None = None
    user_id: uuid.UUID | None = None

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, value: date | datetime | None, info: ValidationInfo) -> date | datetime | None:
        start = info.data.get("start_date")
        if value is not None and start is not None:
            bound, inclusive = upper_bound(value)
            first = lower_bound(start)
            if first > bound or (first == bound and not inclusive):
                raise ValueError("startDate must not be after endDate")
        return value
