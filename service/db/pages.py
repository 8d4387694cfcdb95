"""One page of a list and its total, in one round trip.

List queries carry `COUNT(*) OVER() AS total_count`; only a page past the end (no row to carry the
count) needs a second, count-only query.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from service.db.sql import Statement


async def fetch_page(conn: asyncpg.Connection, page: Statement, count: Callable[[], Statement],
                     page_number: int) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(*page)
    if rows:
        return rows, rows[0]["total_count"]
    if page_number == 1:
        return rows, 0
    return rows, await conn.fetchval(*count())
