"""Users' statements: constants written once at import, and the builders of the writes whose columns depend on
the request. Each function returns (sql, *params); no I/O here."""

from __future__ import annotations

import uuid
from typing import Any

from pypika import Case, Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.terms import Criterion

from service.db.sql import ADVISORY_XACT_LOCK, P, Params, Statement, delete_sql

users = Table("users")

# Never the password hash, never tokens_valid_after.
COLUMNS = (users.id, users.email, users.name, users.role, users.permissions, users.created_at, users.updated_at)


LIST_ALL = Query.from_(users).select(*COLUMNS).orderby(users.name, order=Order.asc).orderby(users.id).get_sql()
GET = Query.from_(users).select(*COLUMNS).where(users.id == P[1]).get_sql()
EXISTS_WITH_EMAIL = Query.from_(users).select(users.id).where(fn.Lower(users.email) == P[1]).get_sql()
ANY_USER = Query.from_(users).select(users.id).limit(1).get_sql()
DELETE = delete_sql(users)


def list_all() -> Statement:
    return (LIST_ALL,)


def get(user_id: uuid.UUID) -> Statement:
    return (GET, user_id)


def exists_with_email(email: str) -> Statement:
    return (EXISTS_WITH_EMAIL, email)


def any_user() -> Statement:
    """One row when at least one user exists (the first run creates an admin only when none does)."""
    return (ANY_USER,)


# One fixed key for pg_advisory_xact_lock: serialises first-run admin creation between `flowcrm serve`
# processes starting at once on one database (ASCII of "1STADMIN").
FIRST_ADMIN_LOCK_KEY = 0x31535441444D494E


def lock_first_admin() -> Statement:
    return (ADVISORY_XACT_LOCK, FIRST_ADMIN_LOCK_KEY)


def insert(values: dict[str, Any], *, if_absent: bool = False) -> Statement:
    """INSERT ... RETURNING the user. With `if_absent`, no row comes back when the email is taken."""
    p = Params()
    query = Query.into(users).columns(*values).insert(*(p(v) for v in values.values()))
    if if_absent:
        query = query.on_conflict().do_nothing()  # any unique index: users_email_key or users_email_lower_key
    return p.statement(query.returning(*COLUMNS))


def update(user_id: uuid.UUID, values: dict[str, Any]) -> Statement:
    """Set the given columns. A new password, or an email or role different from the stored one, also moves
    tokens_valid_after to now(), so tokens issued before stop working (decision 10.1). Re-sending the same
    email or role (the web app's edit form sends every field) does not log the user out."""
    p = Params()
    query = Query.update(users)
    for column, value in values.items():
        query = query.set(users.field(column), p(value))
    if "password" in values:
        query = query.set(users.tokens_valid_after, fn.Now())
    else:
        changed = [users.field(column) != p(values[column]) for column in ("email", "role") if column in values]
        if changed:
            query = query.set(
                users.tokens_valid_after, Case().when(Criterion.any(changed), fn.Now()).else_(users.tokens_valid_after)
            )
    return p.statement(query.where(users.id == p(user_id)).returning(*COLUMNS))


def make_admin(email: str, password_hash: str, name: str | None) -> Statement:
    """Promote the user with this email to admin with a new password (its earlier tokens stop working)."""
    p = Params()
    query = (
        Query.update(users)
        .set(users.role, p("admin"))
        .set(users.password, p(password_hash))
        .set(users.tokens_valid_after, fn.Now())
    )
    if name is not None:
        query = query.set(users.name, p(name))
    return p.statement(query.where(fn.Lower(users.email) == p(email)).returning(*COLUMNS))


def delete(user_id: uuid.UUID) -> Statement:
    """History stays: presales.created_by and stock_adjustments.user_id become null; revocations cascade."""
    return (DELETE, user_id)
