"""JWTs per contract 2.1 and decision 10.1: HS256, issuer `flow-crm-backend`, numeric `exp`, a unique `jti`.

The web app decodes the payload with plain `atob` (standard base64), which fails on the base64url
characters `-` and `_`. ASCII JSON can only produce those where it contains `>`, `?`, `~` or DEL, so the
payload is written with those (and everything non-ASCII) as JSON escapes: it decodes the same, and its
base64url form is plain base64.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass

import jwt

from service.errors import Unauthorized

ISSUER = "flow-crm-backend"
ALGORITHM = "HS256"
_ESCAPES = {">": "\\u003e", "?": "\\u003f", "~": "\\u007e", "\x7f": "\\u007f"}


@dataclass(frozen=True)
class Claims:
    user_id: str
    email: str
    role: str
    jti: str
    issued_at: float  # seconds, with milliseconds: compared with users.tokens_valid_after
    expires_at: int


def atob_safe_json(payload: dict[str, object]) -> bytes:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode("ascii")


def issue_token(secret: str, lifetime: int, *, user_id: str, email: str, role: str) -> tuple[str, Claims]:
    now = time.time()
    claims = Claims(
        user_id=user_id,
        email=email,
        role=role,
        jti=str(uuid.uuid4()),
        # Rounded down: a token is never dated after a password change it preceded.
        issued_at=math.floor(now * 1000) / 1000,
        expires_at=int(now) + lifetime,
    )
    payload = {
        "sub": user_id,
        "userId": user_id,
        "email": email,
        "role": role,
        "jti": claims.jti,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "iss": ISSUER,
    }
    token = jwt.api_jws.encode(atob_safe_json(payload), secret, algorithm=ALGORITHM, headers={"typ": "JWT"})
    return token, claims


def decode_token(secret: str, token: str) -> Claims:
    """Verified claims, or 401 INVALID_TOKEN: bad signature, other algorithm, expired, wrong issuer..."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "jti", "sub", "iss"]},
        )
        return Claims(
            user_id=str(payload["sub"]),
            email=str(payload["email"]),
            role=str(payload["role"]),
            jti=str(payload["jti"]),
            issued_at=float(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("Invalid or expired token", code="INVALID_TOKEN") from exc
