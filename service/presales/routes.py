"""Pre-sale routes (contract 5.5, 7.5-7.7, 10.3-10.8, 10.14): parse, call the service, wrap in the envelope."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.permissions import Permission
from service.auth.requirements import requires
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope, blank_is_absent
from service.presales.schemas import PresaleCreate, PresaleListQuery, PresaleOut, PresaleStatusChange, PresaleUpdate
from service.presales.service import PresaleService

READ = requires(Permission.PRESALES_VIEW_ALL, Permission.PRESALES_VIEW_OWN)  # then filtered by owner (10.3)
WRITE = requires(Permission.PRESALES_CREATE)


def list_query(request: Request[Any, Any, Any]) -> PresaleListQuery:
    """The query string, with `status` possibly repeated (`status=pending&status=approved`)."""
    params: dict[str, Any] = dict(request.query_params)
    params.pop("status", None)
    statuses = [value for value in request.query_params.getall("status", []) if blank_is_absent(value) is not None]
    if statuses:
        params["status"] = statuses
    return PresaleListQuery.from_query(params)


class PresaleController(Controller):
    path = "/api/presales"
    tags = ["presales"]

    @get(
        "/",
        opt={**READ, "query": PresaleListQuery},
        summary="List pre-sales (paginated, filtered; own only without canViewAll)",
    )
    async def list_presales(
        self, request: Request[Any, Any, Any], session: SessionDependency
    ) -> Response[PageEnvelope[PresaleOut]]:
        conn, user = session
        query = list_query(request)
        rows, total = await PresaleService(conn, user).list(query, request.app.state.pages)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Pre-sales retrieved")

    @get("/{presale_id:str}", opt=READ, summary="Get a pre-sale with its customer and items")
    async def get_presale(
        self, presale_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[Envelope[PresaleOut]]:
        conn, user = session
        return ok(await PresaleService(conn, user).get(presale_id), "Pre-sale retrieved")

    @post("/", opt=WRITE, summary="Create a pre-sale (status draft or pending; stock is checked, not deducted)")
    async def create_presale(
        self, data: JSONBody[PresaleCreate], session: SessionDependency
    ) -> Response[Envelope[PresaleOut]]:
        conn, user = session
        return ok(await PresaleService(conn, user).create(data), "Pre-sale created", status_code=201)

    @put("/{presale_id:str}", opt=WRITE, summary="Update a pre-sale (items, if sent, replace all items)")
    async def update_presale(
        self, presale_id: FromPath[uuid.UUID], data: JSONBody[PresaleUpdate], session: SessionDependency
    ) -> Response[Envelope[PresaleOut]]:
        conn, user = session
        return ok(await PresaleService(conn, user).update(presale_id, data), "Pre-sale updated")

    @patch("/{presale_id:str}/status", opt=WRITE, summary="Change a pre-sale's status (converted deducts stock)")
    async def change_status(
        self, presale_id: FromPath[uuid.UUID], data: JSONBody[PresaleStatusChange], session: SessionDependency
    ) -> Response[Envelope[PresaleOut]]:
        conn, user = session
        presale = await PresaleService(conn, user).set_status(presale_id, data.status)
        return ok(presale, "Pre-sale status updated")

    @post(
        "/{presale_id:str}/convert",
        opt=WRITE,
        status_code=200,
        summary="Convert a pre-sale into a sale (deducts stock)",
    )
    async def convert_presale(
        self, presale_id: FromPath[uuid.UUID], session: SessionDependency
    ) -> Response[Envelope[PresaleOut]]:
        conn, user = session
        return ok(await PresaleService(conn, user).set_status(presale_id, "converted"), "Pre-sale converted")

    @delete("/{presale_id:str}", opt=WRITE, summary="Delete a pre-sale (409 when converted)")
    async def delete_presale(self, presale_id: FromPath[uuid.UUID], session: SessionDependency) -> None:
        conn, user = session
        await PresaleService(conn, user).delete(presale_id)
