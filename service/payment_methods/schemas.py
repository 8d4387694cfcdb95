"""Payment method request and response models (contract 6.2, 9.14, 10.15)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from service.http.schemas import (
    AtLeastOneField,
    ListQuery,
    NoNul,
    SortOrder,
    StrictInput,
    UtcDatetime,
    WireModel,
    clean_text,
)

DESCRIPTION_MIN = 2
DESCRIPTION_MAX = 255


def _json_boolean(value: Any) -> Any:
    """Only a JSON true/false. Checked by hand: Litestar validates bodies with `strict=False`, which overrides
    pydantic's StrictBool ("yes", "true", 1 would pass as True)."""
    if not isinstance(value, bool):
        raise ValueError("Must be true or false")
    return value


def _query_boolean(value: Any) -> Any:
    """`isActive=true` / `isActive=false` in a query string (any letter case); nothing else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("Must be true or false")


Flag = Annotated[bool, BeforeValidator(_json_boolean)]
QueryFlag = Annotated[bool, BeforeValidator(_query_boolean)]
# Trimmed (inner runs of whitespace collapsed), then 2..255 characters: the same rule as the table's CHECK.
Description = Annotated[str, *clean_text(DESCRIPTION_MAX, min_length=DESCRIPTION_MIN)]
# The web app's create form sends a code it computed itself (`PAG` + 8 digits): accepted, never used.
IgnoredCode = Annotated[Any, Field(default=None, exclude=True)]


class PaymentMethodCreate(StrictInput):
    description: Description
    is_active: Flag = True
    code: IgnoredCode

    def values(self) -> dict[str, Any]:
        return {"description": self.description, "is_active": self.is_active}


class PaymentMethodUpdate(AtLeastOneField):
    IGNORED = frozenset({"code"})
    description: Description | None = None
    is_active: Flag | None = None
    code: IgnoredCode

    def values(self) -> dict[str, Any]:
        return self.sent_fields()


class PaymentMethodStatusChange(StrictInput):
    is_active: Flag


class PaymentMethodOut(WireModel):
    id: uuid.UUID
    code: str
    description: str
    is_active: bool
    created_by: uuid.UUID | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PaymentMethodListQuery(ListQuery):
    SORT_COLUMNS: ClassVar[dict[str, str]] = {"code": "code", "description": "description", "createdAt": "created_at"}

    sort_by: Literal["code", "description", "createdAt"] = "description"
    sort_order: SortOrder = "asc"
    is_active: QueryFlag | None = None
    search: Annotated[str, NoNul, Field(max_length=255)] | None = None


class MessageEnvelope(WireModel):
    """Success without data (delete), for the OpenAPI schema."""

    success: Literal[True] = True
    message: str
    timestamp: str
