"""Auth routes (contract 2.3, 2.4, 10.1)."""

from litestar import Controller


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]
