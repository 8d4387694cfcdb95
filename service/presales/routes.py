"""Pre-sale routes (contract 5.5, 7.5-7.7, 10.3-10.8, 10.14)."""

from litestar import Controller


class PresaleController(Controller):
    path = "/api/presales"
    tags = ["presales"]
