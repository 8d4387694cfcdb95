"""Products over HTTP against the real database (contract 5.4, 6.7, 7.2, 10.8, 10.10, 10.11)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import PRODUCT_KEYS, bearer, create_customer, create_presale, create_product, create_user

NEW = {
    "code": "  abc-12_x ",
    "name": "  Caneta   Azul ",
    "unit": "un",
    "description": "Tinta azul",
    "stock": 12,
    "purchasePrice": "10.5",
    "salePrice": "12.50",
    "saleType": "unit",
}
MINIMAL = {"name": "Caderno", "unit": "pc", "purchasePrice": "3.00", "salePrice": "5.00", "saleType": "unit"}
PRICE_RULE = "Sale price should not be lower than purchase price"
REFERENCED = "Cannot delete product that is referenced in pre-sales or stock history"


async def count_products(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM products")


# --- create -------------------------------------------------------------------------------------------------


async def test_create_normalises_and_returns_201(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    response = await client.post("/api/products", json=NEW, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["message"] == "Product created"
    product = body["data"]
    assert set(product) == PRODUCT_KEYS
    assert product["code"] == "ABC-12_X"
    assert product["name"] == "Caneta Azul"
    assert product["description"] == "Tinta azul"
    assert product["stock"] == 12 and type(product["stock"]) is int
    assert product["purchasePrice"] == "10.50" and product["salePrice"] == "12.50"
    assert product["saleType"] == "unit" and product["unit"] == "un"
    assert product["createdAt"].endswith("Z") and product["updatedAt"].endswith("Z")
    row = await db.fetchrow("SELECT * FROM products WHERE id = $1", uuid.UUID(product["id"]))
    assert row["code"] == "ABC-12_X" and row["purchase_price"] == Decimal("10.50") and row["stock"] == 12


async def test_create_defaults_stock_0_and_description_null(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post("/api/products", json={**MINIMAL, "description": "   "}, headers=admin_headers)
    assert response.status_code == 201, response.text
    product = response.json()["data"]
    assert product["stock"] == 0
    assert product["description"] is None
    assert product["purchasePrice"] == "3.00" and product["salePrice"] == "5.00"


async def test_sale_price_equal_to_purchase_price_is_accepted(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post(
        "/api/products", json={**MINIMAL, "purchasePrice": "7.5", "salePrice": "7.50"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "a b"),
        ("code", "x" * 51),
        ("code", "PRÖD1"),
        ("code", "ﬀ"),
        ("code", 12),
        ("name", "   "),
        ("name", "x" * 256),
        ("name", "a\x00b"),
        ("unit", ""),
        ("unit", "x" * 21),
        ("description", "x" * 1001),
        ("stock", -1),
        ("stock", 1.5),
        ("stock", 2.0),
        ("stock", True),
        ("stock", "5"),
        ("stock", 2147483648),
        ("stock", None),
        ("purchasePrice", "12.345"),
        ("purchasePrice", 12.5),
        ("purchasePrice", "-1.00"),
        ("purchasePrice", "100000000.00"),
        ("salePrice", "abc"),
        ("salePrice", None),
        ("saleType", ""),
        ("saleType", "x" * 51),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, field: str, value: object
) -> None:
    response = await client.post("/api/products", json={**NEW, field: value}, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]
    assert await count_products(db) == 0


@pytest.mark.parametrize("field", ["name", "unit", "purchasePrice", "salePrice", "saleType"])
async def test_missing_required_field_is_422(client: httpx.AsyncClient, admin_headers: dict, field: str) -> None:
    body = {key: value for key, value in MINIMAL.items() if key != field}
    response = await client.post("/api/products", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


async def test_sale_below_purchase_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    response = await client.post(
        "/api/products", json={**NEW, "purchasePrice": "12.51", "salePrice": "12.50"}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["message"] == PRICE_RULE
    assert error["details"][0]["field"] == "salePrice"
    assert await count_products(db) == 0


async def test_unknown_key_is_422(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.post("/api/products", json={**NEW, "category": "pens"}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "category"


@pytest.mark.parametrize(("first", "second"), [("PROD0000001", "prod0000001"), ("ABC-1", " abc-1 ")])
async def test_duplicate_code_is_409_case_insensitively(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, first: str, second: str
) -> None:
    first_response = await client.post("/api/products", json={**MINIMAL, "code": first}, headers=admin_headers)
    assert first_response.status_code == 201, first_response.text
    again = await client.post("/api/products", json={**MINIMAL, "code": second}, headers=admin_headers)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "CONFLICT"
    assert again.json()["error"]["message"] == "A product with this code already exists"
    assert await count_products(db) == 1


# --- code generation (contract 6.7, 10.10) ------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"code": ""}, {"code": "   "}, {"code": None}])
async def test_code_is_generated_on_an_empty_table(client: httpx.AsyncClient, admin_headers: dict, extra: dict) -> None:
    response = await client.post("/api/products", json={**MINIMAL, **extra}, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["code"] == "PROD0000001"


async def test_generated_code_follows_the_highest_existing_prod_code(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    for code in ["PROD0000007", "PROD0000041", "PROD0000009", "PROD99999999", "XPROD0009999", "PROD00000A9", "ZZZ"]:
        await create_product(db, code=code)
    first = await client.post("/api/products", json=MINIMAL, headers=admin_headers)
    assert first.status_code == 201, first.text
    assert first.json()["data"]["code"] == "PROD0000042"
    second = await client.post("/api/products", json=MINIMAL, headers=admin_headers)
    assert second.json()["data"]["code"] == "PROD0000043"


async def test_exhausted_generated_codes_are_409_not_500(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_product(db, code="PROD9999999")
    response = await client.post("/api/products", json=MINIMAL, headers=admin_headers)
    assert response.status_code == 409, response.text
    assert await count_products(db) == 1


async def test_concurrent_creates_without_code_all_get_distinct_codes(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_product(db, code="PROD0000005")
    responses = await asyncio.gather(
        *(
            client.post("/api/products", json={**MINIMAL, "name": f"Racer {i}"}, headers=admin_headers)
            for i in range(10)
        )
    )
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses if r.status_code != 201]
    codes = sorted(r.json()["data"]["code"] for r in responses)
    assert codes == [f"PROD{n:07d}" for n in range(6, 16)]
    assert await count_products(db) == 11


@pytest.mark.parametrize("code", ["PROD0000077", "same-code"])
async def test_concurrent_creates_of_one_code_end_in_one_201_and_one_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, code: str
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/products", json={**MINIMAL, "code": code, "name": f"Racer {i}"}, headers=admin_headers)
            for i in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["message"] == "A product with this code already exists"
    assert await count_products(db) == 1


async def test_generated_code_never_collides_with_a_concurrent_explicit_prod_code(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    """The web app numbers codes itself (max of its page + 1); a request without a code racing one that sends
    the very number the server would pick must still succeed (only the explicit one may lose, with 409)."""
    for round_ in range(5):
        highest = await db.fetchval("SELECT max(code) FROM products WHERE code ~ '^PROD[0-9]{7}$'")
        following = f"PROD{(int(highest[4:]) if highest else 0) + 1:07d}"
        automatic, explicit = await asyncio.gather(
            client.post("/api/products", json={**MINIMAL, "name": f"Auto {round_}"}, headers=admin_headers),
            client.post(
                "/api/products", json={**MINIMAL, "code": following, "name": f"Web {round_}"}, headers=admin_headers
            ),
        )
        assert automatic.status_code == 201, automatic.text
        assert explicit.status_code in (201, 409), explicit.text
        if explicit.status_code == 201:
            assert automatic.json()["data"]["code"] != following


# --- get ----------------------------------------------------------------------------------------------------


async def test_get_200_404_and_bad_uuid_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(
        db, purchase_price=Decimal("1.5"), sale_price=Decimal("2"), stock=3, description="Desc"
    )
    ok = await client.get(f"/api/products/{product['id']}", headers=admin_headers)
    assert ok.status_code == 200, ok.text
    data = ok.json()["data"]
    assert set(data) == PRODUCT_KEYS
    assert data["id"] == str(product["id"]) and data["code"] == product["code"]
    assert data["purchasePrice"] == "1.50" and data["salePrice"] == "2.00" and data["stock"] == 3
    assert data["description"] == "Desc"
    missing = await client.get(f"/api/products/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "Product not found",
        "requestId": missing.headers["x-request-id"],
    }
    bad = await client.get("/api/products/not-a-uuid", headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


# --- list ---------------------------------------------------------------------------------------------------


async def test_list_defaults_pagination_and_shape(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    for name in ["Caneta", "Apontador", "Borracha"]:
        await create_product(db, name=name, sale_price=Decimal("15.5"))
    response = await client.get("/api/products", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "data", "pagination", "message", "timestamp"]
    assert [p["name"] for p in body["data"]] == ["Apontador", "Borracha", "Caneta"]
    assert all(set(p) == PRODUCT_KEYS for p in body["data"])
    assert body["data"][0]["salePrice"] == "15.50" and body["data"][0]["stock"] == 100
    assert body["pagination"] == {
        "total": 3,
        "page": 1,
        "limit": 50,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    page2 = (await client.get("/api/products?page=2&limit=2", headers=admin_headers)).json()
    assert [p["name"] for p in page2["data"]] == ["Caneta"]
    assert page2["pagination"] == {
        "total": 3,
        "page": 2,
        "limit": 2,
        "totalPages": 2,
        "hasNext": False,
        "hasPrev": True,
        "totalExact": True,
    }
    page1 = (await client.get("/api/products?page=1&limit=2", headers=admin_headers)).json()
    assert page1["pagination"]["hasNext"] is True and len(page1["data"]) == 2
    beyond = (await client.get("/api/products?page=9&limit=2", headers=admin_headers)).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 3
    empty_values = await client.get("/api/products?page=&limit=&sortBy=&search=", headers=admin_headers)
    assert empty_values.status_code == 200 and empty_values.json()["pagination"]["limit"] == 50


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("code", ["A1", "B2", "C3"]),
        ("name", ["B2", "C3", "A1"]),
        ("stock", ["C3", "A1", "B2"]),
        ("salePrice", ["A1", "C3", "B2"]),
        ("createdAt", ["B2", "A1", "C3"]),
    ],
)
async def test_list_sorts_by_whitelisted_fields(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, sort_by: str, expected: list[str]
) -> None:
    rows = [
        ("A1", "Zebra", 5, "9.00", "2024-01-02"),
        ("B2", "Alfa", 50, "100.00", "2024-01-01"),
        ("C3", "Mesa", 1, "20.00", "2024-01-03"),
    ]
    for code, name, stock, price, created in rows:
        product = await create_product(
            db, code=code, name=name, stock=stock, purchase_price=Decimal("1"), sale_price=Decimal(price)
        )
        await db.execute("UPDATE products SET created_at = $1::text::timestamp WHERE id = $2", created, product["id"])
    asc = await client.get(f"/api/products?sortBy={sort_by}&sortOrder=asc", headers=admin_headers)
    assert asc.status_code == 200, asc.text
    assert [p["code"] for p in asc.json()["data"]] == expected
    desc = await client.get(f"/api/products?sortBy={sort_by}&sortOrder=desc", headers=admin_headers)
    assert [p["code"] for p in desc.json()["data"]] == expected[::-1]


async def test_search_matches_code_name_or_description(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_product(db, code="PROD0000123", name="Caneta Azul", description="Tinta permanente 100%")
    await create_product(db, code="LAPIS-9", name="Lápis HB", description=None)
    await create_product(db, code="BORR_1", name="Borracha", description="Branca, macia")

    async def codes(query: str) -> list[str]:
        response = await client.get(f"/api/products?{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return sorted(p["code"] for p in response.json()["data"])

    assert await codes("search=prod00001") == ["PROD0000123"]  # code, case-insensitive
    assert await codes("search=CANETA") == ["PROD0000123"]  # name
    assert await codes("search=macia") == ["BORR_1"]  # description
    assert await codes("search=lápis") == ["LAPIS-9"]
    assert await codes("search=zzz") == []
    assert await codes("search=") == ["BORR_1", "LAPIS-9", "PROD0000123"]  # empty counts as absent
    assert await codes("search=100%25") == ["PROD0000123"]  # % is a literal ...
    assert await codes("search=ca%25a") == []  # ... never a wildcard
    assert await codes("search=r_1") == ["BORR_1"]  # _ is a literal too
    assert await codes("search=rr_") == ["BORR_1"]
    assert await codes("search=o_r") == []


async def test_filters_are_and_ed(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    await create_product(db, code="KG-1", name="Arroz", sale_type="fractional", stock=0)
    await create_product(db, code="KG-2", name="Feijão", sale_type="Fractional", stock=10)
    await create_product(db, code="UN-1", name="Arroz Integral", sale_type="unit", stock=20)

    async def codes(query: str) -> list[str]:
        response = await client.get(f"/api/products?{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return sorted(p["code"] for p in response.json()["data"])

    assert await codes("code=kg") == ["KG-1", "KG-2"]
    assert await codes("name=ARROZ") == ["KG-1", "UN-1"]
    assert await codes("saleType=fraction") == ["KG-1", "KG-2"]
    assert await codes("name=arroz&saleType=fractional") == ["KG-1"]
    assert await codes("code=kg&name=arroz&saleType=unit") == []
    assert await codes("minStock=10") == ["KG-2", "UN-1"]  # inclusive
    assert await codes("maxStock=10") == ["KG-1", "KG-2"]  # inclusive
    assert await codes("minStock=10&maxStock=10") == ["KG-2"]
    assert await codes("minStock=0&maxStock=0") == ["KG-1"]
    assert await codes("minStock=&maxStock=") == ["KG-1", "KG-2", "UN-1"]
    assert await codes("search=arroz&minStock=1") == ["UN-1"]
    assert await codes("unit=kg&inStock=true&category=x") == ["KG-1", "KG-2", "UN-1"]  # unknown keys ignored
    filtered = (await client.get("/api/products?code=kg&limit=1", headers=admin_headers)).json()
    assert filtered["pagination"]["total"] == 2 and len(filtered["data"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("sortBy=purchasePrice", "sortBy"),
        ("sortOrder=up", "sortOrder"),
        ("minStock=-1", "minStock"),
        ("maxStock=1.5", "maxStock"),
        ("minStock=abc", "minStock"),
        ("maxStock=2147483648", "maxStock"),
        ("minStock=5&maxStock=4", "minStock"),
        ("search=" + "x" * 256, "search"),
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, admin_headers: dict, query: str, field: str
) -> None:
    response = await client.get(f"/api/products?{query}", headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == [field]


async def test_min_stock_above_max_stock_message(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.get("/api/products?minStock=5&maxStock=4", headers=admin_headers)
    assert response.json()["error"]["message"] == "minStock must not be greater than maxStock"


# --- update -------------------------------------------------------------------------------------------------


async def test_update_changes_sent_fields_only(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, description="Old", stock=100)
    response = await client.put(
        f"/api/products/{product['id']}",
        json={"name": "  Novo   Nome ", "description": "", "stock": 7, "salePrice": "99.90", "purchasePrice": "50"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Product updated"
    data = body["data"]
    assert set(data) == PRODUCT_KEYS
    assert data["name"] == "Novo Nome" and data["description"] is None and data["stock"] == 7
    assert data["salePrice"] == "99.90" and data["purchasePrice"] == "50.00"
    assert data["code"] == product["code"] and data["unit"] == product["unit"]
    assert data["saleType"] == product["sale_type"]
    row = await db.fetchrow("SELECT * FROM products WHERE id = $1", product["id"])
    assert row["stock"] == 7 and row["name"] == "Novo Nome" and row["updated_at"] > product["updated_at"]
    assert await db.fetchval("SELECT count(*) FROM stock_adjustments") == 0  # direct change, no history row


async def test_update_single_field_keeps_the_rest(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, description="Keep me", stock=4)
    response = await client.put(f"/api/products/{product['id']}", json={"unit": "kg"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["unit"] == "kg" and data["description"] == "Keep me" and data["stock"] == 4
    assert data["name"] == product["name"] and data["salePrice"] == "15.00"
    cleared = await client.put(f"/api/products/{product['id']}", json={"description": None}, headers=admin_headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["description"] is None and cleared.json()["data"]["unit"] == "kg"
    assert await db.fetchval("SELECT description FROM products WHERE id = $1", product["id"]) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ""),
        ({"code": "NEW-CODE"}, "code"),
        ({"name": None}, "name"),
        ({"stock": 1.5}, "stock"),
        ({"stock": True}, "stock"),
        ({"stock": -3}, "stock"),
        ({"unit": "x" * 21}, "unit"),
        ({"purchasePrice": "20.00", "salePrice": "19.99"}, "salePrice"),
        ({"salePrice": "1.001"}, "salePrice"),
        ({"saleType": "  "}, "saleType"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_update_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, body: dict, field: str
) -> None:
    product = await create_product(db)
    response = await client.put(f"/api/products/{product['id']}", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    row = await db.fetchrow("SELECT * FROM products WHERE id = $1", product["id"])
    assert dict(row) == dict(product)


async def test_update_404_and_bad_uuid_422(client: httpx.AsyncClient, admin_headers: dict) -> None:
    missing = await client.put(f"/api/products/{uuid.uuid4()}", json={"name": "X"}, headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Product not found"
    missing_price = await client.put(f"/api/products/{uuid.uuid4()}", json={"salePrice": "1.00"}, headers=admin_headers)
    assert missing_price.status_code == 404
    bad = await client.put("/api/products/123", json={"name": "X"}, headers=admin_headers)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"), [({"salePrice": "9.99"}, "salePrice"), ({"purchasePrice": "15.01"}, "purchasePrice")]
)
async def test_single_price_against_the_stored_other_price_is_400(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, body: dict, field: str
) -> None:
    product = await create_product(db, purchase_price=Decimal("10.00"), sale_price=Decimal("15.00"))
    response = await client.put(f"/api/products/{product['id']}", json={**body, "stock": 1}, headers=admin_headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST" and error["message"] == PRICE_RULE
    assert error["details"][0]["field"] == field
    row = await db.fetchrow("SELECT * FROM products WHERE id = $1", product["id"])
    assert dict(row) == dict(product)  # nothing written, not even the stock


@pytest.mark.parametrize(
    ("body", "purchase", "sale"),
    [
        ({"salePrice": "10.00"}, "10.00", "10.00"),
        ({"purchasePrice": "15"}, "15.00", "15.00"),
        ({"purchasePrice": "1.25"}, "1.25", "15.00"),
    ],
)
async def test_single_price_within_the_stored_other_price_is_200(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, body: dict, purchase: str, sale: str
) -> None:
    product = await create_product(db, purchase_price=Decimal("10.00"), sale_price=Decimal("15.00"))
    response = await client.put(f"/api/products/{product['id']}", json=body, headers=admin_headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["purchasePrice"], data["salePrice"]) == (purchase, sale)


async def test_concurrent_single_price_updates_never_leave_sale_below_purchase(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    """Raising the purchase price and lowering the sale price at once: each is fine against the old row,
    together they would break the rule; at most one may win."""
    for _ in range(5):
        product = await create_product(db, purchase_price=Decimal("10.00"), sale_price=Decimal("20.00"))
        url = f"/api/products/{product['id']}"
        responses = await asyncio.gather(
            client.put(url, json={"purchasePrice": "18.00"}, headers=admin_headers),
            client.put(url, json={"salePrice": "12.00"}, headers=admin_headers),
        )
        assert sorted(r.status_code for r in responses) == [200, 400], [r.text for r in responses]
        row = await db.fetchrow("SELECT purchase_price, sale_price FROM products WHERE id = $1", product["id"])
        assert row["sale_price"] >= row["purchase_price"]


# --- delete -------------------------------------------------------------------------------------------------


async def test_delete_204_then_404(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    product = await create_product(db)
    response = await client.delete(f"/api/products/{product['id']}", headers=admin_headers)
    assert response.status_code == 204 and response.content == b""
    assert await count_products(db) == 0
    again = await client.delete(f"/api/products/{product['id']}", headers=admin_headers)
    assert again.status_code == 404 and again.json()["error"]["message"] == "Product not found"
    assert (await client.delete("/api/products/nope", headers=admin_headers)).status_code == 422


async def test_delete_referenced_by_a_presale_item_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db)
    customer = await create_customer(db)
    await create_presale(db, customer["id"], [(product["id"], Decimal("2"), Decimal("15.00"))])
    response = await client.delete(f"/api/products/{product['id']}", headers=admin_headers)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["message"] == REFERENCED
    assert await count_products(db) == 1


async def test_delete_referenced_by_stock_history_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=5)
    await db.execute(
        "INSERT INTO stock_adjustments (product_id, adjustment_type, quantity, previous_stock, new_stock, reason,"
        " user_name) VALUES ($1, 'add', 5, 0, 5, 'Initial', 'Admin')",
        product["id"],
    )
    response = await client.delete(f"/api/products/{product['id']}", headers=admin_headers)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["message"] == REFERENCED
    assert await count_products(db) == 1


# --- authentication and permissions -------------------------------------------------------------------------


async def test_every_route_needs_a_valid_token(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    product = await create_product(db)
    url = f"/api/products/{product['id']}"
    for headers in ({}, {"Authorization": "Bearer nope"}):
        calls = [
            client.get("/api/products", headers=headers),
            client.get(url, headers=headers),
            client.post("/api/products", json=MINIMAL, headers=headers),
            client.put(url, json={"name": "X"}, headers=headers),
            client.delete(url, headers=headers),
        ]
        for response in await asyncio.gather(*calls):
            assert response.status_code == 401, response.text
    assert await count_products(db) == 1


async def test_without_modules_products_a_user_reads_but_cannot_write(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    product = await create_product(db)
    url = f"/api/products/{product['id']}"
    reader = bearer(settings, await create_user(db, "employee", permissions={"modules": {"products": False}}))
    assert (await client.get("/api/products", headers=reader)).status_code == 200
    assert (await client.get(url, headers=reader)).status_code == 200
    for response in [
        await client.post("/api/products", json=MINIMAL, headers=reader),
        await client.put(url, json={"name": "X"}, headers=reader),
        await client.delete(url, headers=reader),
    ]:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "FORBIDDEN"
    row = await db.fetchrow("SELECT * FROM products WHERE id = $1", product["id"])
    assert dict(row) == dict(product) and await count_products(db) == 1


async def test_an_employee_with_default_permissions_can_write(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    writer = bearer(settings, await create_user(db, "employee"))
    created = await client.post("/api/products", json=MINIMAL, headers=writer)
    assert created.status_code == 201, created.text
    url = f"/api/products/{created.json()['data']['id']}"
    assert (await client.put(url, json={"stock": 3}, headers=writer)).status_code == 200
    assert (await client.delete(url, headers=writer)).status_code == 204
