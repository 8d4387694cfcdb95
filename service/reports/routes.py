"""Report routes (contract 6.3): admins, or users holding `modules.reports`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from service.auth.current_user import SessionDependency
from service.auth.permissions import Permission
from service.auth.requirements import requires
from service.http.envelope import ok
from service.http.schemas import Envelope
from service.reports.schemas import PaymentMethodReportRow, ReportQuery, ReportSummary
from service.reports.service import ReportService

REPORTS = {
    **requires(Permission.REPORTS, forbidden_message="Access denied. Reports permission required."),
    "query": ReportQuery,
}


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get(
        "/payment-methods",
        opt=REPORTS,
        summary="Sales (converted pre-sales) per active payment method, largest total first",
        description="One row per active payment method, zeros included. Amounts are JSON numbers with two "
        "decimals. Period: startDate..endDate (both or neither), default January 1 of this "
        "year (UTC) to now.",
    )
    async def payment_methods(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[Envelope[list[PaymentMethodReportRow]]]:
        conn = session.conn
        query = ReportQuery.from_query(dict(request.query_params))
        return ok(await ReportService(conn).by_payment_method(query), "Payment methods report generated successfully")

    @get(
        "/summary",
        opt=REPORTS,
        summary="Total and count of sales (converted pre-sales) in the period",
        description="Amounts are JSON numbers with two decimals; `period` is the period counted.",
    )
    async def summary(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[Envelope[ReportSummary]]:
        conn = session.conn
        query = ReportQuery.from_query(dict(request.query_params))
        return ok(await ReportService(conn).summary(query), "Report summary generated successfully")
