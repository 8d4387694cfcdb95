"""Audit log routes (contract 6.5): admin only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from service.audit.schemas import AuditLogListQuery, AuditLogOut, RecentQuery
from service.audit.service import AuditService
from service.auth.current_user import SessionDependency
from service.auth.permissions import Role
from service.auth.requirements import requires
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope, blank_is_absent

ADMIN = requires(roles=(Role.ADMIN,))


class AuditLogController(Controller):
    path = "/api/audit-logs"
    tags = ["audit-logs"]

    @get("/", opt={**ADMIN, "query": AuditLogListQuery}, summary="Audit log (admin; paginated, filtered, newest first)")
    async def list_audit_logs(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[PageEnvelope[AuditLogOut]]:
        conn = session.conn
        query = AuditLogListQuery.from_query(dict(request.query_params))
        rows, total = await AuditService(conn).list(query)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Audit logs retrieved")

    @get("/recent", opt={**ADMIN, "query": RecentQuery}, summary="The latest audit rows (admin; newest first)")
    async def recent_audit_logs(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[Envelope[list[AuditLogOut]]]:
        conn = session.conn
        query = RecentQuery.model_validate(
            {key: value for key, value in request.query_params.items() if blank_is_absent(value) is not None}
        )
        return ok(await AuditService(conn).recent(query.limit), "Recent audit logs retrieved")
