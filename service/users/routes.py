"""User routes (contract 5.2, 10.2)."""

from litestar import Controller


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]
