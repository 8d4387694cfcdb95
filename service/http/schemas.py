"""Shared pydantic building blocks: camelCase wire models, strict inputs, money and timestamps, list queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

T = TypeVar("T")

# The earlier backend (and so the web app) treats these query values as "not given" (contract 5.3, 10.11).
_ABSENT = {"", "string", "undefined", "null"}


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # stored as UTC without zone


UtcDatetime = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str)]


def _reject_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("Text must not contain NUL characters")
    return value


def _collapse_spaces(value: str) -> str:
    return " ".join(value.split())


NoNul = BeforeValidator(_reject_nul)


def clean_text(max_length: int, *, min_length: int = 1) -> Any:
    """Text trimmed with internal whitespace collapsed (names, reasons), no NUL, length-checked after."""

    def check(value: str) -> str:
        value = _collapse_spaces(value)
        if len(value) < min_length:
            raise ValueError("Must not be empty" if min_length == 1 else f"Must be at least {min_length} characters")
        if len(value) > max_length:
            raise ValueError(f"Must be at most {max_length} characters")
        return value

    return Annotated[str, NoNul, AfterValidator(check)]


def _optional_text(value: Any) -> Any:
    """Empty text means "no value" for nullable text fields (address, description, notes)."""
    value = _reject_nul(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def nullable_text(max_length: int) -> Any:
    return Annotated[Annotated[str, StringConstraints(max_length=max_length)] | None,
                     BeforeValidator(_optional_text), Field(default=None)]


_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def decimal_string(places: int, *, maximum: Decimal) -> Any:
    """A non-negative decimal sent as a string (or an integer), with at most `places` decimals.

    JSON floats are refused: money and quantities never pass through binary floating point.
    """
    pattern = re.compile(rf"^\d+(\.\d{{1,{places}}})?$")

    def parse(value: Any) -> Decimal:
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError(f"Must be a decimal string with at most {places} decimal places, e.g. \"12.50\"")
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str) or not pattern.match(value.strip()):
            raise ValueError(f"Must be a decimal string with at most {places} decimal places, e.g. \"12.50\"")
        number = Decimal(value.strip())
        if number > maximum:
            raise ValueError(f"Must not exceed {maximum}")
        return number

    return Annotated[Decimal, BeforeValidator(parse), PlainSerializer(str, return_type=str)]


Money = decimal_string(2, maximum=Decimal("99999999.99"))  # numeric(10,2)
Percentage = decimal_string(2, maximum=Decimal("100"))  # numeric(5,2), 0..100
Quantity = decimal_string(3, maximum=Decimal("9999999.999"))  # numeric(10,3)
MoneyOut = Annotated[Decimal, PlainSerializer(str, return_type=str)]


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class StrictInput(WireModel):
    """Request bodies the contract calls strict: an unknown key is a 422."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid",
                              str_strip_whitespace=False)


class AtLeastOneField(StrictInput):
    """Update bodies: every field optional, but at least one must be sent.

    Only the fields in NULLABLE may be sent as null (to clear them); fields in IGNORED are accepted but
    are not changes (the payment-method form's own `code`).
    """

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    IGNORED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _at_least_one(self) -> "AtLeastOneField":
        sent = self.model_fields_set - self.IGNORED
        if not sent:
            raise ValueError("At least one field must be provided")
        for name in sorted(sent - self.NULLABLE):
            if getattr(self, name) is None:
                raise ValueError(f"{type(self).model_fields[name].alias or name} cannot be null")
        return self

    def sent_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set - self.IGNORED}


def blank_is_absent(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in _ABSENT:
        return None
    return value


class ListQuery(BaseModel):
    """Query strings of list endpoints: unknown keys ignored, blank values absent, limit 1..100."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
    SORT_COLUMNS: ClassVar[dict[str, str]] = {}

    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 50

    @classmethod
    def from_query(cls, params: dict[str, Any]) -> "ListQuery":
        cleaned = {key: value for key, value in params.items() if blank_is_absent(value) is not None}
        return cls.model_validate(cleaned)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


SortOrder = Literal["asc", "desc"]


class Envelope(WireModel, Generic[T]):
    """The success envelope, for the OpenAPI schema."""

    success: Literal[True] = True
    data: T
    message: str
    timestamp: str


class Pagination(WireModel):
    total: int
    page: int
    limit: int
    total_pages: int
    has_next: bool
    has_prev: bool
    total_exact: bool = Field(description="false when total is the database's estimate (over 10,000 matches)")


class PageEnvelope(WireModel, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    pagination: Pagination
    message: str
    timestamp: str


class ErrorBody(WireModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(WireModel):
    success: Literal[False] = False
    error: ErrorBody
    message: str
    timestamp: str
    path: str
