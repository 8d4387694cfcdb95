"""PostgreSQL gives every pre-sale column as its wire text (queries.PRESALE_FIELDS and the others) and the service
zips them with their keys, unparsed by pydantic: it must be exactly what `PresaleOut` would write from the same
values."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import asyncpg
import httpx

from service.customers.schemas import CustomerOut
from service.http.schemas import _utc_iso
from service.presales.schemas import PresaleOut
from tests.factories import create_customer, create_product
from tests.presales.helpers import body, create, item


async def test_presale_json_is_what_pydantic_writes(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db, address='Rua Ã, 1 "aspas" \\ barra')
    cheap = await create_product(
        db,
        sale_type="fractional",
        unit="kg",
        description=None,
        purchase_price=Decimal("0.10"),
        sale_price=Decimal("0.30"),
    )
    dear = await create_product(
        db,
        sale_type="fractional",
        unit="kg",
        description="Caixa\n12 un",
        purchase_price=Decimal("99999999.99"),
        sale_price=Decimal("99999999.99"),
    )
    created = await create(
        client,
        admin_headers,
        body(
            customer,
            item(cheap, "2.5", "0.30", discountType="percentage", discountPercentage="12.5"),
            item(dear, "0.001", "100"),
            notes="Entrega às 9h",
            discount="0.5",
            discountType="fixed",
        ),
    )
    # Timestamps with microseconds that round up: the wire keeps milliseconds, truncated as Python writes them.
    await db.execute("UPDATE presales SET created_at = '2026-02-03 04:05:06.789999' WHERE id = $1::uuid", created["id"])
    await db.execute("UPDATE customers SET created_at = '2026-02-03 04:05:06.000999' WHERE id = $1", customer["id"])

    for response in (
        await client.get(f"/api/presales/{created['id']}", headers=admin_headers),
        await client.get("/api/presales", headers=admin_headers),
    ):
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        wire = data if isinstance(data, dict) else data[0]
        assert wire == PresaleOut.model_validate(wire).to_wire()  # same keys, decimals, formats as pydantic's

    assert wire["createdAt"] == "2026-02-03T04:05:06.789Z"
    stored = await db.fetchrow("SELECT * FROM customers WHERE id = $1", customer["id"])
    assert wire["customer"] == CustomerOut.from_row(stored)
    assert wire["customer"]["createdAt"] == _utc_iso(datetime(2026, 2, 3, 4, 5, 6, 999)) == "2026-02-03T04:05:06.000Z"
    assert [line["quantity"] for line in wire["items"]] == ["2.500", "0.001"]
    # 12.5 % of 0.75 is 0.09 after rounding to cents, stored as its equivalent percentage (totals.py): 12.00
    assert [line["discountPercentage"] for line in wire["items"]] == ["12.00", "0.00"]
    assert wire["items"][1]["product"]["salePrice"] == "99999999.99"
    assert wire["items"][0]["product"]["description"] is None
    assert wire["discount"] == "0.50" and re.fullmatch(r"\d+\.\d\d", wire["discountPercentage"])
