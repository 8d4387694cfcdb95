"""PyPika builders for authentication: token verification, revocation, login lookups. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime

from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn

from service.db.sql import FixedStatement, Params, Statement

users = Table("users")
revoked_tokens = Table("revoked_tokens")


USER_COLUMNS = (users.id, users.email, users.name, users.role, users.permissions, users.created_at, users.updated_at)


_USER_FOR_TOKEN = FixedStatement(lambda p: (
    Query.from_(users)
    .left_join(revoked_tokens).on(revoked_tokens.jti == p("jti"))
    .select(*USER_COLUMNS, users.tokens_valid_after, revoked_tokens.jti.isnotnull().as_("revoked"))
    .where(users.id == p("user_id"))
))


def user_for_token(user_id: uuid.UUID, jti: str) -> Statement:
    """The user of a token and whether the token was revoked: one round trip on every request."""
    return _USER_FOR_TOKEN(user_id=user_id, jti=uuid.UUID(jti))


def revoke_token(jti: str, user_id: uuid.UUID, expires_at: datetime) -> Statement:
    """Returns the jti when this call revoked it, no row when it was already revoked."""
    p = Params()
    query = (
        Query.into(revoked_tokens)
        .columns(revoked_tokens.jti, revoked_tokens.user_id, revoked_tokens.expires_at)
        .insert(p(uuid.UUID(jti)), p(user_id), p(expires_at))
        .on_conflict(revoked_tokens.jti)
        .do_nothing()
        .returning(revoked_tokens.jti)
    )
    return p.statement(query)


def purge_expired_revocations(now: datetime) -> Statement:
    p = Params()
    return p.statement(Query.from_(revoked_tokens).delete().where(revoked_tokens.expires_at < p(now)))


def user_for_login(email: str) -> Statement:
    """The user with this (lower-cased) email, with the password hash; matched through users_email_lower_key."""
    p = Params()
    query = Query.from_(users).select(*USER_COLUMNS, users.password).where(fn.Lower(users.email) == p(email))
    return p.statement(query)


def replace_password_hash(user_id: uuid.UUID, old_hash: str, new_hash: str) -> Statement:
    """Upgrade a hash after a successful login (bcrypt -> argon2id). Not a password change: tokens stay valid.
    Only when the hash is still the one verified, so a concurrent password change wins."""
    p = Params()
    query = (
        Query.update(users)
        .set(users.password, p(new_hash))
        .where((users.id == p(user_id)) & (users.password == p(old_hash)))
    )
    return p.statement(query)


AUTH_CHANGE_TRIGGERS = ("users_auth_changed", "users_truncated_auth_changed", "revoked_tokens_auth_changed")
_pg_trigger = Table("pg_trigger", schema="pg_catalog")


def auth_change_triggers() -> Statement:
    """How many of migration 6's triggers exist on the users and revoked_tokens tables the service uses (the
    token cache is trusted only with all of them)."""
    p = Params()
    tables = [fn.Function("to_regclass", p(name)) for name in ("users", "revoked_tokens")]
    query = (
        Query.from_(_pg_trigger)
        .select(fn.Count("*"))
        .where(_pg_trigger.tgname.isin([p(name) for name in AUTH_CHANGE_TRIGGERS]) & _pg_trigger.tgrelid.isin(tables))
    )
    return p.statement(query)
