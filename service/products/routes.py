"""Product routes (contract 5.4, 6.7)."""

from litestar import Controller


class ProductController(Controller):
    path = "/api/products"
    tags = ["products"]
