"""Shared pydantic building blocks: camelCase wire models, strict inputs, money and timestamps, list queries."""

from __future__ import annotations

import re
import types
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    Self,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema

T = TypeVar("T")

# The earlier backend (and so the web app) treats these query values as "not given" (contract 5.3, 10.11).
_ABSENT = {"", "string", "undefined", "null"}


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # stored as UTC without zone


UtcDatetime = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str)]


class JsonSchema:
    """Pydantic metadata stating a type's JSON schema exactly, for rules pydantic cannot see because a validator
    function applies them (trimming, NUL, decimal strings...): the OpenAPI document then says what is accepted
    (service/http/openapi.py publishes the request bodies' schemas as pydantic generates them)."""

    def __init__(self, **schema: Any) -> None:
        self.schema = schema

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.schema)


# JSON Schema (ECMA-262) regular expressions, which Python's `re` reads the same way.
NO_NUL = r"^[^\u0000]*$"


def _reject_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("Text must not contain NUL characters")
    return value


def _collapse_spaces(value: str) -> str:
    return " ".join(value.split())


class _NoNulValidator(BeforeValidator):
    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = handler(core_schema)
        if schema.get("type") == "string":
            schema.setdefault("pattern", NO_NUL)
        return schema


NoNul = _NoNulValidator(_reject_nul)


# The rules below are pydantic metadata for a type written out where it is named, so that mypy sees the type:
# `Name = Annotated[str, *clean_text(255)]`.


def clean_text(max_length: int, *, min_length: int = 1) -> tuple[Any, ...]:
    """Text trimmed with internal whitespace collapsed (names, reasons), no NUL, length-checked after: for `str`."""

    def check(value: str) -> str:
        value = _collapse_spaces(value)
        if len(value) < min_length:
            raise ValueError("Must not be empty" if min_length == 1 else f"Must be at least {min_length} characters")
        if len(value) > max_length:
            raise ValueError(f"Must be at most {max_length} characters")
        return value

    # The collapsed length, counted by the pattern: each non-space character and each inner run of whitespace
    # (it becomes one space) is one; whitespace at the ends is dropped. No NUL anywhere.
    inner = rf"(?:\S|\s+(?=\S)){{{max(min_length, 1) - 1},{max_length - 1}}}"
    schema = JsonSchema(
        type="string",
        pattern=rf"^(?=[^\u0000]*$)\s*\S{inner}\s*$",
        description=f"Trimmed, inner whitespace collapsed to one space: then {min_length} to {max_length} characters",
    )
    return (NoNul, AfterValidator(check), schema)


def _trimmed(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _email_length(value: str) -> str:
    if len(value) > 255:
        raise ValueError("Email must be at most 255 characters")
    return value.lower()


# A user's or a customer's e-mail: trimmed, a valid address (email-validator, through pydantic), at most 255
# characters (the columns' varchar(255)), stored and compared in lower case.
Email = Annotated[EmailStr, NoNul, BeforeValidator(_trimmed), AfterValidator(_email_length)]


def _optional_text(value: Any) -> Any:
    """Empty text means "no value" for nullable text fields (address, description, notes)."""
    value = _reject_nul(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def nullable_text(max_length: int) -> tuple[Any, ...]:
    """For `str | None`. Blank, or at most max_length characters from the first non-space one to the last; no NUL
    anywhere. The length constraint applies to the text (pydantic puts a nullable type's constraints on its inner
    type)."""
    trimmed = rf"^(?=[^\u0000]*$)\s*(?:\S(?:[\s\S]{{0,{max_length - 2}}}\S)?)?\s*$"
    schema = JsonSchema(
        anyOf=[{"type": "string", "pattern": trimmed}, {"type": "null"}],
        default=None,
        description=f"Trimmed, at most {max_length} characters; blank text counts as null",
    )
    return (StringConstraints(max_length=max_length), BeforeValidator(_optional_text), Field(default=None), schema)


def decimal_string(places: int, *, maximum: Decimal) -> tuple[Any, ...]:
    """For `Decimal`: a non-negative decimal sent as a string (or an integer), with at most `places` decimals.

    JSON floats are refused: money and quantities never pass through binary floating point.
    """
    pattern = re.compile(rf"^\d+(\.\d{{1,{places}}})?$")

    def parse(value: Any) -> Decimal:
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError(f'Must be a decimal string with at most {places} decimal places, e.g. "12.50"')
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str) or not pattern.match(value.strip()):
            raise ValueError(f'Must be a decimal string with at most {places} decimal places, e.g. "12.50"')
        number = Decimal(value.strip())
        if number > maximum:
            raise ValueError(f"Must not exceed {maximum}")
        return number

    return (BeforeValidator(parse), PlainSerializer(str, return_type=str), decimal_json_schema(places, maximum))


def decimal_json_schema(places: int, maximum: Decimal, *, positive: bool = False) -> JsonSchema:
    """`decimal_string`'s rule as a JSON schema: a string of digits (leading zeros and surrounding whitespace
    allowed) with at most `places` decimals and at most `maximum`, or a JSON integer in range."""
    digits = len(str(int(maximum)))
    fraction = rf"(\.\d{{1,{places}}})?"
    if maximum == Decimal(10) ** digits - Decimal(10) ** -places:  # all nines: a bound on the digit count
        number = rf"\d{{1,{digits}}}{fraction}"
    elif maximum == Decimal(10) ** (digits - 1):  # 100: fewer digits, or exactly the power of ten
        number = rf"(1{'0' * (digits - 1)}(\.0{{1,{places}}})?|\d{{1,{digits - 1}}}{fraction})"
    else:
        raise ValueError(f"no pattern for a maximum of {maximum}")
    not_zero = r"(?!\s*0*(\.0*)?\s*$)" if positive else ""
    text = {"type": "string", "pattern": rf"^{not_zero}\s*0*{number}\s*$"}
    whole = {"type": "integer", "minimum": 1 if positive else 0, "maximum": int(maximum)}
    bounds = f"{'over' if positive else 'at least'} 0, at most {maximum}"
    return JsonSchema(
        anyOf=[text, whole],
        description=f"A decimal string with at most {places} decimals, e.g. "
        f'"12.50", or an integer written without a decimal point; {bounds}',
    )


MONEY_MAX = Decimal("99999999.99")  # numeric(10,2)
Money = Annotated[Decimal, *decimal_string(2, maximum=MONEY_MAX)]
Percentage = Annotated[Decimal, *decimal_string(2, maximum=Decimal("100"))]  # numeric(5,2), 0..100
Quantity = Annotated[Decimal, *decimal_string(3, maximum=Decimal("9999999.999"))]  # numeric(10,3)
MoneyOut = Annotated[Decimal, PlainSerializer(str, return_type=str)]


# How a database value of a plain field becomes its JSON value; None: as it is.
_Convert = Callable[[Any], Any] | None
_AS_IS = (str, int, bool)
# A response model's fields as (alias, column, converter); False: the model is not plain (see from_row).
_RowWriter = list[tuple[str, str, _Convert]] | Literal[False]


class Row(Protocol):
    """A database row read by column name: an asyncpg.Record, or a dict of one."""

    def keys(self) -> Iterable[str]: ...

    def __getitem__(self, column: str, /) -> Any: ...


def _field_converter(annotation: Any, metadata: list[Any]) -> tuple[bool, _Convert]:
    """(supported, converter) for one field of a response model, as pydantic would serialise it in JSON mode."""
    for item in metadata:
        if isinstance(item, PlainSerializer):  # UtcDatetime, MoneyOut
            # pydantic's type allows serialisers taking an info argument too; these take the value alone.
            return True, cast(_Convert, item.func)
    if get_origin(annotation) in (Union, types.UnionType):  # `X | None`: None stays None (see from_row)
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _field_converter(inner[0], []) if len(inner) == 1 else (False, None)
    if get_origin(annotation) is Literal:
        return all(isinstance(value, _AS_IS) for value in get_args(annotation)), None
    if annotation in _AS_IS:
        return True, None
    if annotation is uuid.UUID:
        return True, str
    return False, None


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    _row_writer: ClassVar[_RowWriter]  # each model's own, made on its first from_row

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_row(cls, row: Row) -> dict[str, Any]:
        """The JSON object of a database row, as `model_validate(row).to_wire()` gives it.

        Response rows come from columns whose types the schema fixes, so for a model of plain fields (text,
        numbers, flags, UUIDs, timestamps, money) validating them again is wasted work: a list page spent a fifth
        of its time there (bench/README.md). Such models are written field by field; any other model (nested
        objects) goes through pydantic.
        """
        writer: _RowWriter | None = cls.__dict__.get("_row_writer")
        if writer is None:
            writer = cls._row_writer = _row_writer(cls)
        if writer is False:
            return cls.model_validate(dict(row)).to_wire()
        wire = {}
        for alias, name, convert in writer:
            value = row[name]
            wire[alias] = value if convert is None or value is None else convert(value)
        return wire


def _row_writer(model: type[WireModel]) -> _RowWriter:
    writer: list[tuple[str, str, _Convert]] = []
    for name, field in model.model_fields.items():
        supported, convert = _field_converter(field.annotation, field.metadata)
        if not supported:
            return False
        writer.append((field.alias or name, name, convert))
    return writer


class ExampleConfig(ConfigDict, total=False):
    """A model's config with the request example Litestar shows in the OpenAPI document (it reads `example`)."""

    example: dict[str, Any]


class StrictInput(WireModel):
    """Request bodies the contract calls strict: an unknown key is a 422."""

    # Only generated (camelCase) aliases: the pydantic mypy plugin cannot write __init__'s signature (it says so).
    # Request bodies are validated from JSON, never built by keyword.
    model_config = ConfigDict(  # type: ignore[pydantic-alias]
        alias_generator=to_camel, populate_by_name=False, extra="forbid", str_strip_whitespace=False
    )


class AtLeastOneField(StrictInput):
    """Update bodies: every field optional, but at least one must be sent.

    Only the fields in NULLABLE may be sent as null (to clear them); fields in IGNORED are accepted but
    are not changes (the payment-method form's own `code`).
    """

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    IGNORED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _at_least_one(self) -> AtLeastOneField:
        sent = self.model_fields_set - self.IGNORED
        if not sent:
            raise ValueError("At least one field must be provided")
        for name in sorted(sent - self.NULLABLE):
            if getattr(self, name) is None:
                raise ValueError(f"{type(self).model_fields[name].alias or name} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        """The schema says what `_at_least_one` checks: null only for NULLABLE fields, one field at least."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        properties = schema.get("properties", {})
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            if name not in cls.NULLABLE and alias in properties:
                properties[alias] = _without_null(properties[alias])
        schema["anyOf"] = [
            {"required": [field.alias or name]} for name, field in cls.model_fields.items() if name not in cls.IGNORED
        ]
        return schema

    def sent_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set - self.IGNORED}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if not options:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**options[0], **rest} if len(options) == 1 else {**rest, "anyOf": options}


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
    def from_query(cls, params: dict[str, Any]) -> Self:
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
