"""Auth request and response models (contract 2.3, 2.4, 10.1)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from service.http.schemas import ExampleConfig, NoNul, WireModel
from service.users.schemas import UserOut


def _normalise_email(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class LoginRequest(WireModel):
    """Any text is accepted as the email (a malformed one simply matches no account: 401, not 422), so an
    account created with an unusual address can still log in. Unknown keys are ignored."""

    model_config = ExampleConfig(
        **WireModel.model_config, example={"email": "admin@example.com", "password": "a long secret"}
    )
    email: Annotated[str, NoNul, BeforeValidator(_normalise_email), Field(min_length=1, max_length=255)]
    password: Annotated[str, Field(min_length=1)]


class LoginData(WireModel):
    token: str
    user: UserOut
    expires_in: int  # seconds


class TokenData(WireModel):
    token: str
    expires_in: int  # seconds
