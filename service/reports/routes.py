"""Report routes (contract 6.3)."""

from litestar import Controller


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]
