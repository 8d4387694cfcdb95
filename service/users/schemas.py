"""User request and response models (contract 2.5, 5.2, 10.13)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

from service import errors
from service.http.schemas import (
    AtLeastOneField,
    Email,
    ExampleConfig,
    JsonSchema,
    StrictInput,
    UtcDatetime,
    WireModel,
    clean_text,
)

Role = Literal["admin", "manager", "employee"]
Name = Annotated[str, *clean_text(255)]

PASSWORD_MIN = 8
PASSWORD_MAX = 128
PASSWORD_RULE = f"Password must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters"


def check_password(value: str) -> str:
    """8..128 characters, taken as typed (no trimming).

    Raised as our own 422 rather than a pydantic error so the error details never echo the password back
    (the shared validation mapper copies the offending value of a pydantic error into `details`).
    """
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise errors.ValidationFailed.field("password", PASSWORD_RULE)
    return value


def _must_be_bool(value: object) -> object:
    # Not pydantic's StrictBool: Litestar validates bodies with strict=False, which lets "yes" or 1 through it.
    if not isinstance(value, bool):
        raise ValueError("Must be true or false")
    return value


Flag = Annotated[bool, BeforeValidator(_must_be_bool)]
Password = Annotated[
    str, AfterValidator(check_password), JsonSchema(type="string", minLength=PASSWORD_MIN, maxLength=PASSWORD_MAX)
]


class ModulePermissions(StrictInput):
    products: Flag
    customers: Flag
    reports: Flag
    payment_methods: Flag
    user_management: Flag


class PresalePermissions(StrictInput):
    can_create: Flag
    can_view_own: Flag
    can_view_all: Flag


class Permissions(StrictInput):
    """The complete permissions object (contract 2.5): every flag, nothing else."""

    modules: ModulePermissions
    presales: PresalePermissions

    def stored(self) -> dict[str, Any]:
        """As kept in users.permissions (camelCase keys, what service.auth.permissions reads)."""
        return self.model_dump(by_alias=True)


class UserCreate(StrictInput):
    model_config = ExampleConfig(
        **StrictInput.model_config,
        example={
            "name": "Joana Vendas",
            "email": "joana@example.com",
            "password": "at-least-8-chars",
            "role": "employee",
            "permissions": None,
        },
    )

    name: Name
    email: Email
    password: Password
    role: Role
    permissions: Permissions | None = None

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "permissions": self.permissions.stored() if self.permissions else None,
        }


class UserUpdate(AtLeastOneField):
    NULLABLE = frozenset({"permissions"})
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    permissions: Permissions | None = None  # null clears the stored object (role defaults apply)
    password: Password | None = None


class UserOut(WireModel):
    """The user as every response shows it: never the hash; permissions always the complete effective object."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    permissions: Permissions
    created_at: UtcDatetime
    updated_at: UtcDatetime


class MessageEnvelope(WireModel):
    """Success without data (logout, user delete)."""

    success: Literal[True] = True
    message: str
    timestamp: str


class AdminAccount(StrictInput):
    """`flowcrm users create-admin` and the ADMIN_EMAIL/ADMIN_PASSWORD bootstrap: the same rules as register."""

    email: Email
    password: Password
    name: Name | None = None
