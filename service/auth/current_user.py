"""The `session` dependency: verifies the bearer token on every protected route and checks the route's
Requirement (`opt=requires(...)`, service.auth.requirements; every protected route has one, checked at build)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from service.auth import queries
from service.auth.permissions import effective_permissions, granted_flags
from service.auth.requirements import REQUIRES, Requirement
from service.auth.tokens import Claims, decode_token
from service.db.pool import acquire
from service.errors import Forbidden, Unauthorized
from service.http.schemas import Row
from service.ops.logs import set_user

if TYPE_CHECKING:
    from service.auth.token_cache import TokenCache


@dataclass(frozen=True)
class CurrentUser:
    id: uuid.UUID
    email: str
    name: str
    role: str
    stored_permissions: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    claims: Claims | None = None  # None for users acting outside a request (seed, CLI)
    ip_address: str | None = None  # where the request came from (the audit log's "from where")
    user_agent: str | None = None

    @classmethod
    def from_row(cls, row: Row, **request: Any) -> CurrentUser:
        """From a users row (`permissions` is the stored column), with what the request adds (claims, client)."""
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            role=row["role"],
            stored_permissions=row["permissions"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            **request,
        )

    @property
    def flags(self) -> frozenset[str]:
        return granted_flags(self.role, self.stored_permissions)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def presale_owner(self) -> uuid.UUID | None:
        """None when the user sees every pre-sale, else the only creator whose pre-sales they see (10.3)."""
        return None if self.can("presales.canViewAll") else self.id

    def can(self, flag: str) -> bool:
        return self.is_admin or flag in self.flags

    def require(self, *flags: str) -> None:
        """403 unless the user holds at least one of the flags."""
        if not any(self.can(flag) for flag in flags):
            raise Forbidden("You do not have permission to do this")

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden("You do not have permission to do this")

    def permissions(self) -> dict[str, dict[str, bool]]:
        return effective_permissions(self.role, self.stored_permissions)


IP_MAX = 45  # audit_logs.ip_address / stock_adjustments.ip_address are varchar(45)
USER_AGENT_MAX = 1000  # a longer User-Agent header is cut, not refused


def clean_header(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.replace("\x00", "")[:limit]
    return value or None


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The peer address as the server saw it (a proxy's own address unless the server is told to trust
    X-Forwarded-For: FORWARDED_ALLOW_IPS)."""
    return clean_header(request.client.host if request.client else None, IP_MAX)


def client_user_agent(request: Request[Any, Any, Any]) -> str | None:
    return clean_header(request.headers.get("user-agent"), USER_AGENT_MAX)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization")
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    return header[7:].strip()


async def authenticate(conn: asyncpg.Connection, secret: str, token: str) -> CurrentUser:
    claims = decode_token(secret, token)
    try:
        user_id = uuid.UUID(claims.user_id)
    except ValueError as exc:
        raise Unauthorized("Invalid or expired token", code="INVALID_TOKEN") from exc
    row = await conn.fetchrow(*queries.user_for_token(user_id, claims.jti))
    if (
        row is None
        or row["revoked"]
        or row["email"] != claims.email  # an email change invalidates earlier tokens (contract 2.1)
        # A password, role or email change ends the tokens issued before it (stored as UTC without zone).
        or claims.issued_at < row["tokens_valid_after"].replace(tzinfo=UTC).timestamp()
    ):
        raise Unauthorized("Invalid or expired token", code="INVALID_TOKEN")
    return CurrentUser.from_row(row, claims=claims)


async def verified_caller(
    request: Request[Any, Any, Any], state: State, conn: asyncpg.Connection, token: str
) -> CurrentUser:
    """The request's user, from a valid token (401 otherwise) holding the route's permission (403 otherwise)."""
    tokens: TokenCache = state.tokens
    user = tokens.get(token) or await tokens.verify(token, lambda: authenticate(conn, state.settings.jwt_secret, token))
    requirement: Requirement = request.route_handler.opt[REQUIRES]  # present: create_app checked every route
    try:
        if requirement.roles:
            user.require_role(*requirement.roles)
        if requirement.permissions:
            user.require(*requirement.permissions)
    except Forbidden as exc:
        if requirement.forbidden_message:  # a route's own wording (the reports keep the old one)
            raise Forbidden(requirement.forbidden_message) from exc
        raise
    set_user(user.id)  # the access line's user_id
    return dataclasses.replace(user, ip_address=client_ip(request), user_agent=client_user_agent(request))


class Session(NamedTuple):
    """What a protected route works with: a pooled connection and the verified caller.

    One dependency (`session`) rather than `conn` and `user`: resolving each dependency of a request costs
    Litestar a large share of a simple read's CPU (figures: bench/README.md, "Where the time went")."""

    conn: asyncpg.Connection
    user: CurrentUser


# How routes (and dependencies) ask for it: `session: SessionDependency`.
SessionDependency = NamedDependency[Session]


async def provide_session(request: Request[Any, Any, Any]) -> AsyncGenerator[Session, None]:
    token = bearer_token(request)  # a request without a token is refused before it takes a pooled connection
    state = request.app.state  # not a `state` parameter: Litestar builds that object anew for every request
    conn = await acquire(state)
    try:
        yield Session(conn, await verified_caller(request, state, conn, token))
    finally:
        await state.pool.release(conn)
