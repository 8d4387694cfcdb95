"""The audit log's statements: constants written once at import, and the list's builders. Each function
returns (sql, *params); no I/O here."""

from __future__ import annotations

from typing import Any

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.terms import Criterion

from service.audit.schemas import AuditLogListQuery
from service.db.pages import BoundedCount, count_statement
from service.db.sql import P, Params, Statement, date_range, insert_sql

audit_logs = Table("audit_logs")

COLUMNS = (
    audit_logs.id,
    audit_logs.user_id,
    audit_logs.user_name,
    audit_logs.action,
    audit_logs.resource,
    audit_logs.resource_id,
    audit_logs.details,
    audit_logs.ip_address,
    audit_logs.user_agent,
    audit_logs.created_at,
)

INSERT_COLUMNS = ("user_id", "user_name", "action", "resource", "resource_id", "details", "ip_address", "user_agent")


INSERT = insert_sql(
    audit_logs, INSERT_COLUMNS, returning=(audit_logs.id,), computed={"created_at": fn.Function("clock_timestamp")}
)
RECENT = (
    Query.from_(audit_logs)
    .select(*COLUMNS)
    .orderby(audit_logs.created_at, order=Order.desc)
    .orderby(audit_logs.id, order=Order.desc)
    .limit(P[1])
    .get_sql()
)


def insert(values: dict[str, Any]) -> Statement:
    """One audit row. created_at is clock_timestamp(): rows of one transaction keep the order they were written."""
    return (INSERT, *(values[column] for column in INSERT_COLUMNS))


# A change and its audit row as one statement: a data-modifying CTE (PyPika writes none), atomic by itself, so
# neither a transaction nor a second round trip (each round trip was ~10 % of a simple write's CPU: bench/README.md).
AUDITED_COLUMNS = ",".join(f'"{column}"' for column in INSERT_COLUMNS) + ',"created_at"'


AUDIT_PARAMS = len(INSERT_COLUMNS) - 1  # the placeholders of audit_rows_of: every column but resource_id


def audit_rows_of(source: str, first: int) -> str:
    """The INSERT of one audit row for each row of the CTE `source` (its "id", a uuid or its text: the
    resource_id), the row's other values placeholders from `$first` on (AUDIT_PARAMS of them), given by
    `audit_params` (created_at: clock_timestamp(), as `insert`)."""
    numbers = iter(range(first, first + AUDIT_PARAMS))
    values = ",".join(
        f'"{source}"."id"::uuid' if column == "resource_id" else f"${next(numbers)}" for column in INSERT_COLUMNS
    )
    return f'INSERT INTO "audit_logs" ({AUDITED_COLUMNS}) SELECT {values},clock_timestamp() FROM "{source}"'


def audit_params(values: dict[str, Any]) -> list[Any]:
    return [values[column] for column in INSERT_COLUMNS if column != "resource_id"]


def audited(change: Statement, values: dict[str, Any]) -> Statement:
    """`change` (an INSERT, UPDATE or DELETE of one row ... RETURNING its "id" and more) and the audit row of
    `values`, in one statement returning the change's row; no row changed, no audit row."""
    sql, *params = change
    audit = audit_rows_of("changed", len(params) + 1)
    return (f'WITH "changed" AS ({sql}),"audit" AS ({audit}) SELECT * FROM "changed"', *params, *audit_params(values))


def _filters(q: AuditLogListQuery, p: Params) -> list[Criterion]:
    where: list[Criterion] = []
    if q.user_id is not None:
        where.append(audit_logs.user_id == p(q.user_id))
    if q.action is not None:
        where.append(audit_logs.action == p(q.action))
    if q.resource:
        where.append(audit_logs.resource == p(q.resource))
    if q.resource_id is not None:
        where.append(audit_logs.resource_id == p(q.resource_id))
    where += date_range(audit_logs.created_at, q.start_date, q.end_date, p)
    return where


def page(q: AuditLogListQuery) -> Statement:
    """One page, newest first."""
    p = Params()
    query = (
        Query.from_(audit_logs)
        .select(*COLUMNS)
        .where(Criterion.all(_filters(q, p)))
        .orderby(audit_logs.created_at, order=Order.desc)
        .orderby(audit_logs.id, order=Order.desc)
        .limit(p(q.limit))
        .offset(p(q.offset))
    )
    return p.statement(query)


def count(q: AuditLogListQuery) -> BoundedCount:
    p = Params()
    return count_statement(p, lambda: Query.from_(audit_logs), _filters(q, p))


def recent(limit: int) -> Statement:
    return (RECENT, limit)
