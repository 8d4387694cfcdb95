"""Stock adjustment routes (contract 6.1): POST /api/products/:id/stock-adjustment, GET /api/stock-adjustments.

Both are open to every authenticated user (the inventory screen is). Each is rate limited per user on its own
counter (20 adjustments and 100 history reads per minute, counted in PostgreSQL for every process; see
service.stock.ratelimit). The limit is a dependency taken after authentication and before the body is
validated, so invalid requests count too, and a refused request never reaches the database beyond the token
check and its rate-limit row.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.requirements import requires
from service.http.envelope import ok, paginated
from service.http.schemas import Envelope, PageEnvelope
from service.stock.ratelimit import ADJUST, HISTORY, limiter_for
from service.stock.schemas import StockAdjustmentIn, StockAdjustmentListQuery, StockAdjustmentOut, StockAdjustmentResult
from service.stock.service import StockService

# A verified token only (the `session` dependency checks it); "errors" documents the 429 in OpenAPI.
ANY_USER = {**requires(), "errors": [429]}


async def adjustment_slot(request: Request[Any, Any, Any], session: SessionDependency) -> None:
    """One of the user's 20 adjustments per minute, or 429 RATE_LIMIT_EXCEEDED."""
    await limiter_for(request.app.state).check(session.conn, ADJUST, session.user.id)


async def history_slot(request: Request[Any, Any, Any], session: SessionDependency) -> None:
    """One of the user's 100 history reads per minute, or 429 RATE_LIMIT_EXCEEDED."""
    await limiter_for(request.app.state).check(session.conn, HISTORY, session.user.id)


class StockController(Controller):
    path = "/api"
    tags = ["stock"]
    dependencies = {"adjust_slot": Provide(adjustment_slot), "history_slot": Provide(history_slot)}

    @post(
        "/products/{product_id:str}/stock-adjustment",
        opt=ANY_USER,
        status_code=200,
        summary="Add or remove stock with a reason (writes a history row)",
    )
    async def adjust_stock(
        self,
        product_id: FromPath[uuid.UUID],
        data: JSONBody[StockAdjustmentIn],
        session: SessionDependency,
        adjust_slot: NamedDependency[None],
    ) -> Response[Envelope[StockAdjustmentResult]]:
        conn, user = session
        result = await StockService(conn, user).adjust(product_id, data)
        return ok(result, "Stock adjusted successfully")

    @get(
        "/stock-adjustments",
        opt={**ANY_USER, "query": StockAdjustmentListQuery},
        summary="Stock adjustment history (paginated, filterable, newest first)",
    )
    async def list_adjustments(
        self, request: Request[Any, Any, Any], session: SessionDependency, history_slot: NamedDependency[None]
    ) -> Response[PageEnvelope[StockAdjustmentOut]]:
        conn, user = session
        query = StockAdjustmentListQuery.from_query(dict(request.query_params))
        rows, total = await StockService(conn, user).history(query)
        return paginated(rows, total=total, page=query.page, limit=query.limit, message="Stock adjustments retrieved")
