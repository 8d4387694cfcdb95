"""Date filters of list endpoints: `YYYY-MM-DD` (a whole day) or an ISO 8601 date-time, inclusive bounds."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo, field_validator

from service.http.schemas import ListQuery

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


class DateRangeQuery(ListQuery):
    """A list query with `startDate` / `endDate` on createdAt; a start after the end is a 422."""

    start_date: DateBound | None = None
    end_date: DateBound | None = None

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
