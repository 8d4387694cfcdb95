"""The one date parser of the API, and the bounds it gives createdAt filters (no web or database imports:
both the wire schemas and the SQL helpers use it).

Every date filter (pre-sales `dateFrom`/`dateTo`, reports and the other lists' `startDate`/`endDate`) goes
through `parse_date`: `YYYY-MM-DD` is a whole day (a `date`); an ISO 8601 date-time (`T` or a space between
date and time, optional seconds and fraction, optional `Z` or offset) is an instant, returned as a naive UTC
datetime like the stored timestamps (without an offset it is taken as UTC). Anything else is a ValueError
(pydantic makes it a 422), never a 500:

- the calendar is the proleptic Gregorian one of years 1 to 9999 (Python's and within PostgreSQL's): month 13,
  day 0, Feb 29 of a non-leap year, hour 24 are refused; so is a date-time whose UTC instant falls outside
  those years (`0001-01-01T00:00+01:00`, `9999-12-31T23:00-05:00`);
- digits are ASCII only (`\\d` would take other scripts' digits); text longer than MAX_DATE_TEXT, or holding
  NUL or other control characters, is refused before parsing;
- the end of a whole day is its last microsecond (PostgreSQL's precision), so `9999-12-31` as an end is
  `9999-12-31 23:59:59.999999` and never the day after (which does not exist).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any


def utc_now() -> datetime:
    """Now, as UTC without zone (how timestamps are stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


MAX_DATE_TEXT = 40  # the longest valid form, `9999-12-31T23:59:59.999999999+23:59`, has 35 characters
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
DATE_MESSAGE = "Must be a date (YYYY-MM-DD) or an ISO 8601 date-time"
DAY_MESSAGE = "Must be a date in the format YYYY-MM-DD"


def parse_date(value: Any, *, day_only: bool = False) -> date | datetime:
    """A `date` for `YYYY-MM-DD`, a naive UTC `datetime` for an ISO 8601 date-time (refused when day_only)."""
    message = DAY_MESSAGE if day_only else DATE_MESSAGE
    if not isinstance(value, str) or len(value) > MAX_DATE_TEXT:
        raise ValueError(message)
    text = value.strip()
    try:
        if _DATE_ONLY.fullmatch(text):
            return date.fromisoformat(text)
        if not day_only and _DATE_TIME.fullmatch(text):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
    except (ValueError, OverflowError) as exc:  # month 13, Feb 30, hour 24; an offset past year 1 or 9999
        raise ValueError(message) from exc
    raise ValueError(message)


def lower_bound(value: date | datetime) -> datetime:
    """createdAt >= this (a date means from its first instant)."""
    return value if isinstance(value, datetime) else datetime.combine(value, time.min)


def upper_bound(value: date | datetime) -> datetime:
    """createdAt <= this, inclusive (a date means up to its last microsecond)."""
    return value if isinstance(value, datetime) else datetime.combine(value, time.max)
