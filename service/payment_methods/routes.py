"""Payment method routes (contract 6.2)."""

from litestar import Controller


class PaymentMethodController(Controller):
    path = "/api/payment-methods"
    tags = ["payment-methods"]
