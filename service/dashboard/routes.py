"""Dashboard figures (issue 6): one endpoint with what the web app builds from capped lists."""

from __future__ import annotations

from litestar import Controller, Response, get

from service.auth.current_user import SessionDependency
from service.auth.requirements import requires
from service.dashboard.schemas import Dashboard
from service.dashboard.service import DashboardService
from service.http.envelope import ok
from service.http.schemas import Envelope


class DashboardController(Controller):
    path = "/api/dashboard"
    tags = ["dashboard"]

    @get(
        "/",
        opt=requires(),
        summary="Dashboard figures, computed over all rows",
        description="Any logged-in user. Sales, pre-sale counts, recent pre-sales and monthly revenue count "
        "only the caller's own pre-sales unless it holds presales.canViewAll (admins always). "
        "Money as strings with two decimals; months are calendar months in UTC.",
    )
    async def dashboard(self, session: SessionDependency) -> Response[Envelope[Dashboard]]:
        conn, user = session
        return ok(await DashboardService(conn, user).figures(), "Dashboard retrieved")
