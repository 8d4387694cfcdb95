"""Customer routes (contract 5.3): parse, call the service, wrap in the envelope."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.permissions import Permission
from service.auth.requirements import requires
from service.customers.schemas import CustomerCreate, CustomerListQuery, CustomerOut, CustomerUpdate
from service.customers.service import CustomerService
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope

READ = requires(Permission.CUSTOMERS, Permission.PRESALES_CREATE)  # the pre-sale form lists customers
WRITE = requires(Permission.CUSTOMERS)


class CustomerController(Controller):
    path = "/api/customers"
    tags = ["customers"]

    @get("/", opt={**READ, "query": CustomerListQuery}, summary="List customers (paginated, searchable)")
    async def list_customers(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[PageEnvelope[CustomerOut]]:
        conn, user = session
        query = CustomerListQuery.from_query(dict(request.query_params))
        rows, total = await CustomerService(conn, user).list(query, request.app.state.pages)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Customers retrieved")

    @get("/{customer_id:str}", opt=READ, summary="Get a customer")
    async def get_customer(
        self, customer_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[Envelope[CustomerOut]]:
        conn, user = session
        return ok(await CustomerService(conn, user).get(customer_id), "Customer retrieved")

    @post("/", opt=WRITE, summary="Create a customer")
    async def create_customer(
        self, data: JSONBody[CustomerCreate], session: SessionDependency
    ) -> Response[Envelope[CustomerOut]]:
        conn, user = session
        return ok(await CustomerService(conn, user).create(data), "Customer created", status_code=201)

    @put("/{customer_id:str}", opt=WRITE, summary="Update a customer")
    async def update_customer(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[CustomerUpdate], session: SessionDependency
    ) -> Response[Envelope[CustomerOut]]:
        conn, user = session
        return ok(await CustomerService(conn, user).update(customer_id, data), "Customer updated")

    @delete("/{customer_id:str}", opt=WRITE, summary="Delete a customer (409 when it has pre-sales)")
    async def delete_customer(self, customer_id: FromPath[uuid.UUID], session: SessionDependency) -> None:
        conn, user = session
        await CustomerService(conn, user).delete(customer_id)
