"""Stock adjustment request and response models (contract 6.1, 7.4)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from service.http.dates import DateRangeQuery
from service.http.schemas import ExampleConfig, NoNul, StrictInput, UtcDatetime, WireModel, clean_text

AdjustmentType = Literal["add", "remove"]
MAX_QUANTITY = 999_999


def _json_integer(value: Any) -> Any:
    """Only a JSON integer. Checked by hand: Litestar validates bodies with `strict=False`, which overrides
    pydantic's StrictInt (2.0, "2" and true would pass as 2, 2 and 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Quantity must be an integer number")
    return value


Quantity = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=MAX_QUANTITY)]
Reason = Annotated[str, *clean_text(500)]


class StockAdjustmentIn(StrictInput):
    model_config = ExampleConfig(
        **StrictInput.model_config,
        example={"adjustmentType": "add", "quantity": 12, "reason": "Supplier delivery NF 1234"},
    )

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


class StockAdjustmentListQuery(DateRangeQuery):
    product_id: uuid.UUID | None = None
    product_code: Annotated[str, NoNul, Field(max_length=50)] | None = None
    adjustment_type: AdjustmentType | None = None
    user_id: uuid.UUID | None = None
