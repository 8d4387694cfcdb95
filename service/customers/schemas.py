"""Customer request and response models (contract 5.3)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from service.customers.cpf import normalise_cpf
from service.http.schemas import (
    AtLeastOneField,
    Email,
    ExampleConfig,
    JsonSchema,
    ListQuery,
    NoNul,
    SortOrder,
    StrictInput,
    UtcDatetime,
    WireModel,
    clean_text,
    nullable_text,
)

_PHONE = re.compile(r"^[0-9 ()+\-]{10,20}$")


def _phone(value: str) -> str:
    value = value.strip()
    if not _PHONE.match(value):
        raise ValueError("Phone must be 10 to 20 characters of digits, spaces, '-', '(', ')' or '+'")
    return value


Name = Annotated[str, *clean_text(255)]


Phone = Annotated[
    str,
    NoNul,
    AfterValidator(_phone),  # trimmed, then _PHONE
    JsonSchema(type="string", pattern=r"^\s*(?=[0-9()+\-])[0-9 ()+\-]{10,20}(?<=[0-9()+\-])\s*$"),
]
Cpf = Annotated[
    str,
    NoNul,
    Field(max_length=14),
    AfterValidator(normalise_cpf),
    JsonSchema(
        type="string",
        pattern=r"^[0-9.\-]{11,14}$",
        description="11 digits, '.' and '-' allowed; the check digits must be right (else 422)",
    ),
]
Address = Annotated[str | None, *nullable_text(1000)]


class CustomerCreate(StrictInput):
    model_config = ExampleConfig(
        **StrictInput.model_config,
        example={
            "name": "Maria da Silva",
            "email": "maria@example.com",
            "phone": "(11) 98765-4321",
            "cpf": "52998224725",
            "address": "Rua das Flores, 10 - São Paulo - SP",
        },
    )

    name: Name
    email: Email
    phone: Phone
    cpf: Cpf
    address: Address


class CustomerUpdate(AtLeastOneField):
    model_config = ExampleConfig(
        **AtLeastOneField.model_config, example={"name": "Maria da Silva Souza", "phone": "(11) 91234-5678"}
    )
    NULLABLE = frozenset({"address"})

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    cpf: Cpf | None = None
    address: Address


class CustomerOut(WireModel):
    id: uuid.UUID
    name: str
    email: str
    phone: str
    cpf: str
    address: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class CustomerListQuery(ListQuery):
    SORT_COLUMNS: ClassVar[dict[str, str]] = {"name": "name", "email": "email", "createdAt": "created_at"}

    sort_by: Literal["name", "email", "createdAt"] = "name"
    sort_order: SortOrder = "asc"
    search: Annotated[str, NoNul, Field(max_length=255)] | None = None
    name: Annotated[str, NoNul, Field(max_length=255)] | None = None
    email: Annotated[str, NoNul, Field(max_length=255)] | None = None
    cpf: Annotated[str, NoNul, Field(max_length=14)] | None = None
