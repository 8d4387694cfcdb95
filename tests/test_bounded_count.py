"""List totals are counted up to a bound (service/db/pages.py); past it they are the planner's estimate,
flagged `totalExact: false`, so a list page costs the same at 10,000 and at 1,000,000 rows."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from service.db import pages
from tests.factories import create_customer


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(pages, "EXACT_COUNT_LIMIT", 20)  # the test server runs in this process
    monkeypatch.setattr(pages, "FILTERED_COUNT_LIMIT", 10)
    return 20


async def pagination(client: httpx.AsyncClient, headers: dict, **params: object) -> dict:
    response = await client.get("/api/customers", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["pagination"]


async def test_totals_past_the_bound_are_estimates_and_say_so(client: httpx.AsyncClient, admin_headers: dict,
                                                             db: asyncpg.Connection, bound: int) -> None:
    for n in range(60):
        await create_customer(db, name=f"{'Silva' if n % 2 else 'Souza'} {n:02d}")
    await db.execute("ANALYZE customers")  # the estimate is the planner's: 60 rows after ANALYZE

    everyone = await pagination(client, admin_headers, page=1, limit=10)
    assert everyone == {"total": 60, "page": 1, "limit": 10, "totalPages": 6, "hasNext": True, "hasPrev": False,
                        "totalExact": False}
    silvas = await pagination(client, admin_headers, search="silva", page=1, limit=10)
    assert silvas["totalExact"] is False and silvas["total"] > 10  # 30 match: more than a filter's bound
    assert silvas["hasNext"] is True

    # Under the bound the count is exact; on a last page the page itself tells the exact total.
    assert await pagination(client, admin_headers, name="silva 1", limit=5) == {
        "total": 5, "page": 1, "limit": 5, "totalPages": 1, "hasNext": False, "hasPrev": False, "totalExact": True}
    assert await pagination(client, admin_headers, name="souza 1", limit=2) == {
        "total": 5, "page": 1, "limit": 2, "totalPages": 3, "hasNext": True, "hasPrev": False, "totalExact": True}
    last = await pagination(client, admin_headers, page=7, limit=9)  # rows 55-60
    assert last["total"] == 60 and last["totalExact"] is True and last["hasNext"] is False
    past_the_end = await pagination(client, admin_headers, page=50, limit=10)
    assert past_the_end["total"] == 60 and past_the_end["totalExact"] is False  # counted past the bound
