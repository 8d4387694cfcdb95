"""Audit log routes (contract 6.5): admin only."""

from __future__ import annotations

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from service.audit.schemas import AuditLogListQuery, AuditLogOut, RecentQuery
from service.audit.service import AuditService
from service.auth.current_user import CurrentUser
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope

ADMIN = {"roles": ("admin",)}

Conn = NamedDependency[asyncpg.Connection]
User = NamedDependency[CurrentUser]


class AuditLogController(Controller):
    path = "/api/audit-logs"
    tags = ["audit-logs"]

    @get("/", opt={**ADMIN, "query": AuditLogListQuery}, summary="Audit log (admin; paginated, filtered, newest first)")
    async def list_audit_logs(self, request: Request, conn: Conn, user: User) -> Response[PageEnvelope[AuditLogOut]]:
        query = AuditLogListQuery.from_query(dict(request.query_params))
        rows, total = await AuditService(conn).list(query)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Audit logs retrieved")

    @get("/recent", opt={**ADMIN, "query": RecentQuery}, summary="The latest audit rows (admin; newest first)")
    async def recent_audit_logs(self, request: Request, conn: Conn,
                                user: User) -> Response[Envelope[list[AuditLogOut]]]:
        query = RecentQuery.model_validate(
            {key: value for key, value in request.query_params.items() if value.strip() != ""})
        return ok(await AuditService(conn).recent(query.limit), "Recent audit logs retrieved")
