"""Dashboard figures (issue 6): one endpoint with what the web app builds from capped lists."""

from litestar import Controller


class DashboardController(Controller):
    path = "/api/dashboard"
    tags = ["dashboard"]
