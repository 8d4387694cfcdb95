"""Product routes (contract 5.4, 6.7): parse, call the service, wrap in the envelope."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.permissions import Permission
from service.auth.requirements import requires
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope
from service.products.schemas import ProductCreate, ProductListQuery, ProductOut, ProductUpdate
from service.products.service import ProductService

# Reads need a verified token only: the inventory screen is open to every logged-in user and the pre-sale
# form lists products. The `session` dependency is what verifies the token, so every handler takes it.
READ = requires()
WRITE = requires(Permission.PRODUCTS)


class ProductController(Controller):
    path = "/api/products"
    tags = ["products"]

    @get("/", opt={**READ, "query": ProductListQuery}, summary="List products (paginated, searchable, filterable)")
    async def list_products(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[PageEnvelope[ProductOut]]:
        conn, user = session
        query = ProductListQuery.from_query(dict(request.query_params))
        rows, total = await ProductService(conn, user).list(query, request.app.state.pages)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Products retrieved")

    @get("/{product_id:str}", opt=READ, summary="Get a product")
    async def get_product(
        self, product_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[Envelope[ProductOut]]:
        conn, user = session
        return ok(await ProductService(conn, user).get(product_id), "Product retrieved")

    @post("/", opt=WRITE, summary="Create a product (code generated when absent)")
    async def create_product(
        self, data: JSONBody[ProductCreate], session: SessionDependency
    ) -> Response[Envelope[ProductOut]]:
        conn, user = session
        return ok(await ProductService(conn, user).create(data), "Product created", status_code=201)

    @put("/{product_id:str}", opt=WRITE, summary="Update a product (the code is immutable)")
    async def update_product(
        self, product_id: FromPath[uuid.UUID], data: JSONBody[ProductUpdate], session: SessionDependency
    ) -> Response[Envelope[ProductOut]]:
        conn, user = session
        return ok(await ProductService(conn, user).update(product_id, data), "Product updated")

    @delete("/{product_id:str}", opt=WRITE, summary="Delete a product (409 when pre-sales or stock history use it)")
    async def delete_product(self, product_id: FromPath[uuid.UUID], session: SessionDependency) -> None:
        conn, user = session
        await ProductService(conn, user).delete(product_id)
