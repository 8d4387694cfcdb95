"""Report query and response models (contract 6.3; quirk 15 fixed; errors per decision 10.9).

Money: the contract gives `totalAmount` / `convertedPresalesAmount` as JSON numbers and the web app's
reports page uses them as numbers (`totalAmount.toFixed(2)` in its CSV export), so these are JSON numbers,
unlike the rest of the API. They never pass through binary floating point: the Decimal sum from PostgreSQL
is written into the JSON text as is, with two decimals (`1234.50`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from service import errors
from service.dates import lower_bound, parse_date, upper_bound
from service.http.schemas import UtcDatetime, WireModel, blank_is_absent

CENT = Decimal("0.01")

# --- query -----------------------------------------------------------------------------------------------


def _bound(value: Any, *, end: bool) -> Any:
    """A date or date-time (service.dates), as UTC without zone (how timestamps are stored).

    A date alone means its whole day: 00:00 for a start, the day's last microsecond for an end (so the end
    stays inclusive, like `dateTo` of the pre-sale list, decision 10.11).
    """
    if isinstance(value, datetime):
        return value
    parsed = parse_date(value)
    return upper_bound(parsed) if end else lower_bound(parsed)


_BOUND_SCHEMA = {"type": "string", "format": "date-time"}
StartBound = Annotated[datetime, BeforeValidator(lambda v: _bound(v, end=False)), WithJsonSchema(_BOUND_SCHEMA)]
EndBound = Annotated[datetime, BeforeValidator(lambda v: _bound(v, end=True)), WithJsonSchema(_BOUND_SCHEMA)]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class ReportFilter:
    """What both reports count: converted pre-sales created in [start, end] (both inclusive), optionally
    paid with one payment method."""

    start: datetime
    end: datetime
    payment_method_id: uuid.UUID | None


class ReportQuery(BaseModel):
    """Query string of both reports. Unknown keys ignored; an empty value counts as absent (10.11)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    start_date: StartBound | None = Field(
        default=None,
        description="ISO-8601 date or date-time (UTC when no offset). Give startDate and endDate "
        "together or neither: one alone is a 422, as is a start after the end or in "
        "the future. Default: January 1 of the current year, 00:00 UTC",
    )
    end_date: EndBound | None = Field(
        default=None,
        description="ISO-8601 date (the whole day) or date-time, inclusive. Give startDate and "
        "endDate together or neither: one alone is a 422. Default: now",
    )
    payment_method_id: uuid.UUID | None = Field(default=None, description="Only pre-sales paid with this method")

    @classmethod
    def from_query(cls, params: dict[str, Any]) -> ReportQuery:
        return cls.model_validate({k: v for k, v in params.items() if blank_is_absent(v) is not None})

    def resolve(self, now: datetime) -> ReportFilter:
        """The filter, with the default period (Jan 1 of this year -> now) when no dates were given.

        `now` is UTC without zone. 422 when only one date is given, start is after end, or start is
        in the future.
        """
        if (self.start_date is None) != (self.end_date is None):
            missing = "endDate" if self.end_date is None else "startDate"
            raise errors.ValidationFailed.field(missing, "startDate and endDate must be given together")
        if self.start_date is None or self.end_date is None:
            return ReportFilter(datetime(now.year, 1, 1), now, self.payment_method_id)
        if self.start_date > self.end_date:
            raise errors.ValidationFailed.field("endDate", "startDate must not be after endDate")
        if self.start_date > now:
            raise errors.ValidationFailed.field("startDate", "startDate must not be in the future")
        return ReportFilter(self.start_date, self.end_date, self.payment_method_id)


# --- responses -------------------------------------------------------------------------------------------


def _json_number(value: Decimal) -> msgspec.Raw:
    """The decimal as a JSON number, written digit for digit (no float on the way)."""
    return msgspec.Raw(format(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP), "f").encode())


# A JSON number in the OpenAPI document too (Litestar documents Decimal as a string by default).
MoneyNumber = Annotated[
    Decimal,
    PlainSerializer(_json_number, return_type=Any, when_used="always"),
    Field(json_schema_extra={"type": "number", "format": "decimal"}),
]


class ReportModel(WireModel):
    def to_wire(self) -> dict[str, Any]:
        # python mode: money stays msgspec.Raw (a JSON number in the response); ids are encoded by msgspec.
        return self.model_dump(mode="python", by_alias=True)


class ReportPaymentMethod(ReportModel):
    id: uuid.UUID
    code: str
    description: str
    is_active: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PaymentMethodReportRow(ReportModel):
    payment_method: ReportPaymentMethod
    total_amount: MoneyNumber
    sales_count: int
    converted_presales_count: int
    converted_presales_amount: MoneyNumber


class ReportPeriod(ReportModel):
    start_date: str = Field(description="ISO-8601, UTC")
    end_date: str = Field(description="ISO-8601, UTC (inclusive)")


class ReportSummary(ReportModel):
    total_amount: MoneyNumber
    total_sales_count: int
    total_converted_presales: int
    total_converted_presales_amount: MoneyNumber
    period: ReportPeriod
