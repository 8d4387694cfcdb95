"""PyPika builders for the reports (contract 6.3). Each returns (sql, *params); no I/O here.

Both reports count converted pre-sales whose `created_at` lies in the filter's period (bounds inclusive),
optionally paid with one payment method; every figure is an aggregate computed by PostgreSQL.
"""

from __future__ import annotations

from pypika import Order, Table
from pypika import PostgreSQLQuery as Query
from pypika import functions as fn
from pypika.terms import Criterion, Star

from service.db.sql import Params, Statement
from service.presales.totals import ZERO
from service.reports.schemas import ReportFilter

presales = Table("presales").as_("ps")
methods = Table("payment_methods").as_("pm")


def _counted(f: ReportFilter, p: Params) -> list[Criterion]:
    """The pre-sales a report counts (the payment method filter aside)."""
    return [
        presales.status == p("converted"),
        presales.created_at >= p(f.start),
        presales.created_at <= p(f.end),
    ]


def by_payment_method(f: ReportFilter) -> Statement:
    """One row per active payment method (zeros when it has no sales), largest total first."""
    p = Params()
    total = fn.Coalesce(fn.Sum(presales.total), ZERO)
    joined = Criterion.all([presales.payment_method_id == methods.id, *_counted(f, p)])
    where: list[Criterion] = [methods.is_active == p(True)]
    if f.payment_method_id is not None:
        where.append(methods.id == p(f.payment_method_id))
    query = (
        Query.from_(methods)
        .left_join(presales)
        .on(joined)
        .select(
            methods.id,
            methods.code,
            methods.description,
            methods.is_active,
            methods.created_at,
            methods.updated_at,
            total.as_("total_amount"),
            fn.Count(presales.id).as_("sales_count"),
        )
        .where(Criterion.all(where))
        .groupby(methods.id)
        .orderby(total, order=Order.desc)
        .orderby(methods.description, methods.code, order=Order.asc)
    )
    return p.statement(query)


def summary(f: ReportFilter) -> Statement:
    """Total and count of the converted pre-sales (all of them, whatever their payment method, unless the
    filter names one)."""
    p = Params()
    where = _counted(f, p)
    if f.payment_method_id is not None:
        where.append(presales.payment_method_id == p(f.payment_method_id))
    query = (
        Query.from_(presales)
        .select(fn.Coalesce(fn.Sum(presales.total), ZERO).as_("total_amount"), fn.Count(Star()).as_("sales_count"))
        .where(Criterion.all(where))
    )
    return p.statement(query)
