"""Login, logout and token refresh over a connection (contract 2.3, 2.4, decisions 10.1, 10.13)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service import errors
from service.audit.service import record
from service.auth import queries
from service.auth.current_user import CurrentUser, authenticate
from service.auth.passwords import DUMMY_HASH, hash_password, verify_password
from service.auth.ratelimit import LoginLimiter
from service.auth.tokens import Claims, issue_token
from service.config import Settings
from service.sessions.schemas import LoginRequest
from service.users.service import to_wire


def _utc_naive(epoch_seconds: float) -> datetime:
    """Timestamps are stored as UTC without zone."""
    return datetime.fromtimestamp(epoch_seconds, UTC).replace(tzinfo=None)


class AuthService:
    def __init__(self, conn: asyncpg.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings

    def _issue(self, user_id: uuid.UUID, email: str, role: str) -> str:
        token, _claims = issue_token(
            self.settings.jwt_secret, self.settings.jwt_expires_in, user_id=str(user_id), email=email, role=role
        )
        return token

    async def login(
        self,
        data: LoginRequest,
        *,
        ip_address: str | None = None,
        user_agent: str | None = None,
        limiter: LoginLimiter | None = None,
    ) -> dict[str, Any]:
        """A successful login is audited (action `login`, resource `auth`); a failed one is not.

        With a limiter, the attempt is refused (429) before the user is read and the hash verified when the
        client or the account is over its limit; an attempt counts as a failure of the account until it
        succeeds, which clears the account's count (service.auth.ratelimit)."""
        if limiter is not None:
            await limiter.attempt(self.conn, data.email, ip_address)
        row = await self.conn.fetchrow(*queries.user_for_login(data.email))
        # Verify against a real hash even without an account, so timing does not tell which emails exist.
        matches, needs_rehash = await verify_password(row["password"] if row else DUMMY_HASH, data.password)
        if row is None or not matches:
            raise errors.Unauthorized("Invalid email or password", code="LOGIN_FAILED")
        if limiter is not None:
            await limiter.succeeded(self.conn, data.email)
        new_hash = await hash_password(data.password) if needs_rehash else None
        actor = CurrentUser.from_row(row, ip_address=ip_address, user_agent=user_agent)
        async with self.conn.transaction():
            if new_hash is not None:  # bcrypt from the earlier backend, or older argon2 parameters
                await self.conn.execute(*queries.replace_password_hash(row["id"], row["password"], new_hash))
            await record(self.conn, actor, "login", "auth", row["id"])
        return {
            "token": self._issue(row["id"], row["email"], row["role"]),
            "user": to_wire(row),
            "expiresIn": self.settings.jwt_expires_in,
        }

    async def _revoke(self, claims: Claims, user_id: uuid.UUID) -> bool:
        """Revoke the token's jti until it expires; False when it was already revoked."""
        revoked = await self.conn.fetchval(*queries.revoke_token(claims.jti, user_id, _utc_naive(claims.expires_at)))
        await self.conn.execute(*queries.purge_expired_revocations(_utc_naive(datetime.now(UTC).timestamp())))
        return revoked is not None

    async def logout(self, token: str | None, *, ip_address: str | None = None, user_agent: str | None = None) -> None:
        """Revoke the presented token when it is valid; anything else is quietly accepted (the web app clears
        its session whatever the answer). A revocation is audited (action `logout`, resource `auth`)."""
        if not token:
            return
        try:
            user = await authenticate(self.conn, self.settings.jwt_secret, token)
        except errors.Unauthorized:
            return
        actor = dataclasses.replace(user, ip_address=ip_address, user_agent=user_agent)
        assert user.claims is not None  # read from the token
        async with self.conn.transaction():
            if await self._revoke(user.claims, user.id):
                await record(self.conn, actor, "logout", "auth", user.id)

    async def refresh(self, user: CurrentUser) -> dict[str, Any]:
        """A new token for the same user; the presented one is revoked (and so can be used for one refresh)."""
        assert user.claims is not None  # the request's caller, from its token
        if not await self._revoke(user.claims, user.id):
            raise errors.Unauthorized("Invalid or expired token", code="INVALID_TOKEN")
        return {"token": self._issue(user.id, user.email, user.role), "expiresIn": self.settings.jwt_expires_in}


def current_user_wire(user: CurrentUser) -> dict[str, Any]:
    return to_wire(
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "permissions": user.stored_permissions,
            "created_at": user.created_at,
            "updated_at": user.updated_at,
        }
    )
