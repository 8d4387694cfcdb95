"""User business rules over a connection (contract 5.2, 7.2, 7.8, 10.1, 10.2, 10.13)."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal, cast

import asyncpg
from pydantic import ValidationError

from service import errors
from service.audit.service import change_audited, fields
from service.auth.current_user import CurrentUser
from service.auth.passwords import hash_password
from service.auth.permissions import effective_permissions
from service.config import Settings
from service.db.errors import Action, translate_errors
from service.http.schemas import Row
from service.users import queries
from service.users.schemas import AdminAccount, UserCreate, UserOut, UserUpdate

log = logging.getLogger(__name__)

DEFAULT_ADMIN_NAME = "Administrator"


def to_wire(row: Row) -> dict[str, Any]:
    """The user JSON: the complete effective permissions object, never the stored null, never the hash."""
    values = dict(row)
    values["permissions"] = effective_permissions(values["role"], values.get("permissions"))
    return UserOut.from_row(values)


class UserService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser | None = None) -> None:
        """`user` is the acting user, required for the audited writes (create, update, delete); the CLI and the
        start-up bootstrap (create_or_promote_admin, ensure_admin) run without one."""
        self.conn = conn
        self.user = user

    @property
    def actor(self) -> CurrentUser:
        if self.user is None:
            raise RuntimeError("UserService needs the acting user for audited writes")
        return self.user

    async def list(self) -> list[dict[str, Any]]:
        return [to_wire(row) for row in await self.conn.fetch(*queries.list_all())]

    async def get(self, user_id: uuid.UUID) -> dict[str, Any]:
        row = await self.conn.fetchrow(*queries.get(user_id))
        if row is None:
            raise errors.NotFound("User not found", code="USER_NOT_FOUND")
        return to_wire(row)

    async def create(self, data: UserCreate) -> dict[str, Any]:
        values = {**data.values(), "password": await hash_password(data.password)}
        actor = self.actor
        with translate_errors(Action.CREATE):  # the database decides, so concurrent registers end in 409
            row = await change_audited(self.conn, queries.insert(values), actor, "create", "users")
            assert row is not None  # INSERT ... RETURNING gives the row
        return to_wire(row)

    async def update(self, user_id: uuid.UUID, data: UserUpdate) -> dict[str, Any]:
        """A new password, or a different email or role, ends the user's earlier sessions (their tokens get 401),
        also when admins change their own: they log in again."""
        values = data.sent_fields()
        actor = self.actor
        details = fields(values)  # field names only: never the password or its hash
        if "permissions" in values:
            values["permissions"] = data.permissions.stored() if data.permissions else None
        if "password" in values:
            values["password"] = await hash_password(values["password"])
        with translate_errors(Action.UPDATE):
            row = await change_audited(self.conn, queries.update(user_id, values), actor, "update", "users", details)
        if row is None:
            raise errors.NotFound("User not found", code="USER_NOT_FOUND")
        return to_wire(row)

    async def delete(self, user_id: uuid.UUID, *, acting_user_id: uuid.UUID) -> None:
        if user_id == acting_user_id:
            raise errors.BadRequest("You cannot delete your own account", code="CANNOT_DELETE_SELF")
        actor = self.actor
        if await change_audited(self.conn, queries.delete(user_id), actor, "delete", "users") is None:
            raise errors.NotFound("User not found", code="USER_NOT_FOUND")

    async def create_or_promote_admin(
        self, account: AdminAccount
    ) -> tuple[Literal["created", "updated"], dict[str, Any]]:
        """`flowcrm users create-admin`: create the admin, or make the existing user with that email an admin
        with the given password (idempotent)."""
        password_hash = await hash_password(account.password)
        for _attempt in range(2):
            row = await self.conn.fetchrow(*queries.make_admin(account.email, password_hash, account.name))
            if row is not None:
                return "updated", to_wire(row)
            row = await self.conn.fetchrow(
                *queries.insert(
                    {
                        "email": account.email,
                        "password": password_hash,
                        "name": account.name or DEFAULT_ADMIN_NAME,
                        "role": "admin",
                    },
                    if_absent=True,
                )
            )
            if row is not None:
                return "created", to_wire(row)
            # Someone created that email between the two statements: promote it on the next pass.
        raise errors.Conflict("A user with this email was created concurrently, please retry")

    async def ensure_admin(self, account: AdminAccount) -> bool:
        """Start-up bootstrap: create the admin only when no user has that email (never overwrites a password).
        True when it created one. Safe with several workers starting at once."""
        if await self.conn.fetchval(*queries.exists_with_email(account.email)) is not None:
            return False
        row = await self.conn.fetchrow(
            *queries.insert(
                {
                    "email": account.email,
                    "password": await hash_password(account.password),
                    "name": account.name or DEFAULT_ADMIN_NAME,
                    "role": "admin",
                },
                if_absent=True,
            )
        )
        return row is not None


def admin_account(email: str, password: str, name: str | None = None) -> AdminAccount:
    """The validated account for the CLI and the bootstrap; ValueError with a readable message otherwise."""
    try:
        return AdminAccount.model_validate({"email": email, "password": password, "name": name})
    except errors.ValidationFailed as exc:
        raise ValueError(exc.message) from exc
    except ValidationError as exc:
        raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc


async def bootstrap_admin(pool: asyncpg.Pool, settings: Settings) -> None:
    """At start, with ADMIN_EMAIL and ADMIN_PASSWORD set: create that admin unless a user with that email
    exists. Never overwrites a password on restart; `flowcrm users create-admin` is the way to reset one."""
    password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    if not settings.admin_email and not password:
        return
    if not settings.admin_email or not password:
        log.warning("admin bootstrap skipped: set both ADMIN_EMAIL and ADMIN_PASSWORD")
        return
    try:
        account = admin_account(settings.admin_email, password, settings.admin_name)
    except ValueError as exc:
        raise ValueError(f"invalid ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME: {exc}") from exc
    try:
        async with pool.acquire(timeout=settings.db_acquire_timeout) as conn:
            created = await UserService(cast(asyncpg.Connection, conn)).ensure_admin(account)  # see db.pool.acquire
    except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
        log.error("admin bootstrap failed (are the migrations applied?): %s: %s", type(exc).__name__, exc)
        return
    if created:
        log.info("admin bootstrap: created admin user %s", account.email)
    else:
        log.info("admin bootstrap: a user with email %s exists; left unchanged", account.email)
