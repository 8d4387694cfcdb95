"""Stock adjustment routes (contract 6.1): POST /api/products/:id/stock-adjustment, GET /api/stock-adjustments."""

from litestar import Controller


class StockController(Controller):
    path = "/api"
    tags = ["stock"]
