"""The pydantic date types of the wire schemas, on the one date parser of service.dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, ValidationInfo, field_validator

from service.dates import lower_bound, parse_date, upper_bound
from service.http.schemas import ListQuery

# datetime before date: a datetime is also a date, and pydantic must keep the time of day.
DateBound = Annotated[datetime | date, BeforeValidator(parse_date)]
Day = Annotated[date, BeforeValidator(lambda value: parse_date(value, day_only=True))]


class DateRangeQuery(ListQuery):
    """A list query with `startDate` / `endDate` on createdAt; a start after the end is a 422."""

    start_date: DateBound | None = None
    end_date: DateBound | None = None

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, value: date | datetime | None, info: ValidationInfo) -> date | datetime | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and lower_bound(start) > upper_bound(value):
            raise ValueError("startDate must not be after endDate")
        return value
