"""Product request and response models (contract 5.4, 6.7)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from service.http.schemas import (
    AtLeastOneField,
    ExampleConfig,
    JsonSchema,
    ListQuery,
    Money,
    MoneyOut,
    NoNul,
    SortOrder,
    StrictInput,
    UtcDatetime,
    WireModel,
    clean_text,
    nullable_text,
)

PRICE_RULE = "Sale price should not be lower than purchase price"
INT4_MAX = 2_147_483_647  # products.stock is a PostgreSQL integer

# Either PROD + 7 digits (the generated form) or letters, digits, '_' and '-'; checked before upper-casing so
# that no non-ASCII letter can turn into ASCII on the way (e.g. the ligature "ﬀ" upper-cases to "FF").
_CODE = re.compile(r"^[A-Za-z0-9_-]+$")
GENERATED_CODE = re.compile(r"^PROD[0-9]{7}$")


def _blank_code_is_absent(value: Any) -> Any:
    """An absent, null or empty code means "generate one" (contract 5.4, 6.7)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _code(value: str) -> str:
    value = value.strip()
    if len(value) > 50:
        raise ValueError("Code must be at most 50 characters")
    if not _CODE.match(value):
        raise ValueError("Code must be PROD followed by 7 digits, or only letters, digits, '_' and '-'")
    return value.upper()


Code = Annotated[
    Annotated[str, NoNul, AfterValidator(_code)] | None,
    BeforeValidator(_blank_code_is_absent),
    Field(default=None),
    JsonSchema(
        anyOf=[{"type": "string", "pattern": r"^\s*([A-Za-z0-9_-]{1,50})?\s*$"}, {"type": "null"}],
        default=None,
        description="Blank or null: generated (PROD + 7 digits); upper-cased",
    ),
]
Name = Annotated[str, *clean_text(255)]
Unit = Annotated[str, *clean_text(20)]
SaleType = Annotated[str, *clean_text(50)]
Description = Annotated[str | None, *nullable_text(1000)]


def _json_integer(value: Any) -> Any:
    """Only a JSON integer. Checked by hand: Litestar validates bodies with `strict=False`, which overrides
    pydantic's StrictInt (2.0, "2" and true would pass as 2, 2 and 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Must be an integer number")
    return value


Stock = Annotated[int, BeforeValidator(_json_integer), Field(ge=0, le=INT4_MAX)]


def _check_prices(sale_price: Decimal | None, info: ValidationInfo) -> Decimal | None:
    """salePrice >= purchasePrice when both are in the body (a field error on salePrice)."""
    purchase = info.data.get("purchase_price")
    if sale_price is not None and purchase is not None and sale_price < purchase:
        raise ValueError(PRICE_RULE)
    return sale_price


class ProductCreate(StrictInput):
    model_config = ExampleConfig(
        **StrictInput.model_config,
        example={
            "code": "PROD0000001",
            "name": "Café torrado 500 g",
            "unit": "un",
            "description": "Torra média",
            "stock": 10,
            "purchasePrice": "12.50",
            "salePrice": "18.90",
            "saleType": "unit",
        },
    )

    code: Code
    name: Name
    unit: Unit
    description: Description
    stock: Stock = 0
    purchase_price: Money  # declared before sale_price: the price rule reads it
    sale_price: Money
    sale_type: SaleType

    _prices = field_validator("sale_price")(_check_prices)


class ProductUpdate(AtLeastOneField):
    """Every field but `code` (immutable: sending it is an unknown key), at least one."""

    model_config = ExampleConfig(**AtLeastOneField.model_config, example={"salePrice": "19.90", "stock": 25})
    NULLABLE = frozenset({"description"})
    name: Name | None = None
    unit: Unit | None = None
    description: Description
    stock: Stock | None = None
    purchase_price: Money | None = None
    sale_price: Money | None = None
    sale_type: SaleType | None = None

    _prices = field_validator("sale_price")(_check_prices)

    @field_validator("name", "unit", "stock", "purchase_price", "sale_price", "sale_type")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for sent values (defaults are not validated): an explicit null is refused per field.
        if value is None:
            raise ValueError("Must not be null")
        return value


class ProductOut(WireModel):
    id: uuid.UUID
    code: str
    name: str
    unit: str
    description: str | None
    stock: int
    purchase_price: MoneyOut
    sale_price: MoneyOut
    sale_type: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


Filter = Annotated[str, NoNul, Field(max_length=255)]
StockBound = Annotated[int, Field(ge=0, le=INT4_MAX)]


class ProductListQuery(ListQuery):
    SORT_COLUMNS: ClassVar[dict[str, str]] = {
        "code": "code",
        "name": "name",
        "stock": "stock",
        "salePrice": "sale_price",
        "createdAt": "created_at",
    }

    sort_by: Literal["code", "name", "stock", "salePrice", "createdAt"] = "name"
    sort_order: SortOrder = "asc"
    search: Filter | None = None
    code: Filter | None = None
    name: Filter | None = None
    sale_type: Filter | None = None
    max_stock: StockBound | None = None  # declared before min_stock: the range rule reads it
    min_stock: StockBound | None = None

    @field_validator("min_stock")
    @classmethod
    def _stock_range(cls, min_stock: int | None, info: ValidationInfo) -> int | None:
        max_stock = info.data.get("max_stock")
        if min_stock is not None and max_stock is not None and min_stock > max_stock:
            raise ValueError("minStock must not be greater than maxStock")
        return min_stock
