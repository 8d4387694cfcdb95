"""Payment method routes (contract 6.2): parse, call the service, wrap in the envelope."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.permissions import Permission
from service.auth.requirements import requires
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope
from service.payment_methods.schemas import (
    MessageEnvelope,
    PaymentMethodCreate,
    PaymentMethodListQuery,
    PaymentMethodOut,
    PaymentMethodStatusChange,
    PaymentMethodUpdate,
)
from service.payment_methods.service import PaymentMethodService

# Reads need a verified token only: the pre-sale modal and the report filters load the list for every user.
# The `session` dependency is what verifies the token, so every handler takes it.
READ = requires()
WRITE = requires(Permission.PAYMENT_METHODS)


class PaymentMethodController(Controller):
    path = "/api/payment-methods"
    tags = ["payment-methods"]

    @get(
        "/",
        opt={**READ, "query": PaymentMethodListQuery},
        summary="List payment methods (paginated, inactive included unless filtered)",
    )
    async def list_payment_methods(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[PageEnvelope[PaymentMethodOut]]:
        conn, user = session
        query = PaymentMethodListQuery.from_query(dict(request.query_params))
        rows, total = await PaymentMethodService(conn, user).list(query)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Payment methods retrieved")

    @get("/{payment_method_id:str}", opt=READ, summary="Get a payment method")
    async def get_payment_method(
        self, payment_method_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[Envelope[PaymentMethodOut]]:
        conn, user = session
        return ok(await PaymentMethodService(conn, user).get(payment_method_id), "Payment method retrieved")

    @post("/", opt=WRITE, summary="Create a payment method (code PM + 4 digits assigned; a sent code is ignored)")
    async def create_payment_method(
        self, data: JSONBody[PaymentMethodCreate], session: SessionDependency
    ) -> Response[Envelope[PaymentMethodOut]]:
        conn, user = session
        created = await PaymentMethodService(conn, user).create(data, user.id)
        return ok(created, "Payment method created", status_code=201)

    @put("/{payment_method_id:str}", opt=WRITE, summary="Update a payment method's description and/or status")
    async def update_payment_method(
        self, payment_method_id: FromPath[uuid.UUID], data: JSONBody[PaymentMethodUpdate], session: SessionDependency
    ) -> Response[Envelope[PaymentMethodOut]]:
        conn, user = session
        return ok(await PaymentMethodService(conn, user).update(payment_method_id, data), "Payment method updated")

    @patch("/{payment_method_id:str}/status", opt=WRITE, summary="Activate or deactivate a payment method")
    async def change_status(
        self,
        payment_method_id: FromPath[uuid.UUID],
        data: JSONBody[PaymentMethodStatusChange],
        session: SessionDependency,
    ) -> Response[Envelope[PaymentMethodOut]]:
        conn, user = session
        updated = await PaymentMethodService(conn, user).set_active(payment_method_id, data.is_active)
        return ok(updated, "Payment method status updated")

    @delete(
        "/{payment_method_id:str}",
        opt=WRITE,
        status_code=200,
        summary="Delete a payment method (409 when pre-sales use it)",
    )
    async def delete_payment_method(
        self, payment_method_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[MessageEnvelope]:
        conn, user = session
        await PaymentMethodService(conn, user).delete(payment_method_id)
        return ok(message="Payment method deleted")
