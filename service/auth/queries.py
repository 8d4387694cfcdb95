"""Authentication's statements (token verification, revocation, login lookups), each a constant written once at
import; the functions return (sql, *params). No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn

from service.db.sql import P, Statement, placeholders

users = Table("users")
revoked_tokens = Table("revoked_tokens")


USER_COLUMNS = (users.id, users.email, users.name, users.role, users.permissions, users.created_at, users.updated_at)


USER_FOR_TOKEN = (
    Query.from_(users)
    .left_join(revoked_tokens)
    .on(revoked_tokens.jti == P[2])
    .select(*USER_COLUMNS, users.tokens_valid_after, revoked_tokens.jti.isnotnull().as_("revoked"))
    .where(users.id == P[1])
    .get_sql()
)
REVOKE_TOKEN = (
    Query.into(revoked_tokens)
    .columns(revoked_tokens.jti, revoked_tokens.user_id, revoked_tokens.expires_at)
    .insert(*placeholders(3))
    .on_conflict(revoked_tokens.jti)
    .do_nothing()
    .returning(revoked_tokens.jti)
    .get_sql()
)
PURGE_EXPIRED_REVOCATIONS = Query.from_(revoked_tokens).delete().where(revoked_tokens.expires_at < P[1]).get_sql()
USER_FOR_LOGIN = Query.from_(users).select(*USER_COLUMNS, users.password).where(fn.Lower(users.email) == P[1]).get_sql()
REPLACE_PASSWORD_HASH = (
    Query.update(users).set(users.password, P[3]).where((users.id == P[1]) & (users.password == P[2])).get_sql()
)


def user_for_token(user_id: uuid.UUID, jti: str) -> Statement:
    """The user of a token and whether the token was revoked: one round trip on every request."""
    return (USER_FOR_TOKEN, user_id, uuid.UUID(jti))


def revoke_token(jti: str, user_id: uuid.UUID, expires_at: datetime) -> Statement:
    """Returns the jti when this call revoked it, no row when it was already revoked."""
    return (REVOKE_TOKEN, uuid.UUID(jti), user_id, expires_at)


def purge_expired_revocations(now: datetime) -> Statement:
    return (PURGE_EXPIRED_REVOCATIONS, now)


def user_for_login(email: str) -> Statement:
    """The user with this (lower-cased) email, with the password hash; matched through users_email_lower_key."""
    return (USER_FOR_LOGIN, email)


def replace_password_hash(user_id: uuid.UUID, old_hash: str, new_hash: str) -> Statement:
    """Upgrade a hash after a successful login (bcrypt -> argon2id). Not a password change: tokens stay valid.
    Only when the hash is still the one verified, so a concurrent password change wins."""
    return (REPLACE_PASSWORD_HASH, user_id, old_hash, new_hash)


AUTH_CHANGE_TRIGGERS = ("users_auth_changed", "users_truncated_auth_changed", "revoked_tokens_auth_changed")
AUTH_TABLES = ("users", "revoked_tokens")
_pg_trigger = Table("pg_trigger", schema="pg_catalog")
# $1-$3: the trigger names, $4-$5: the tables.
AUTH_CHANGE_TRIGGER_COUNT = (
    Query.from_(_pg_trigger)
    .select(fn.Count("*"))
    .where(
        _pg_trigger.tgname.isin(placeholders(3))
        & _pg_trigger.tgrelid.isin([fn.Function("to_regclass", table) for table in placeholders(2, start=4)])
    )
    .get_sql()
)


def auth_change_triggers() -> Statement:
    """How many of migration 6's triggers exist on the users and revoked_tokens tables the service uses (the
    token cache is trusted only with all of them)."""
    return (AUTH_CHANGE_TRIGGER_COUNT, *AUTH_CHANGE_TRIGGERS, *AUTH_TABLES)
