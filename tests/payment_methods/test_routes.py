"""Payment methods over HTTP against the real database (contract 6.2, 7.8, 9.14; decisions 10.2, 10.8-10.11, 10.15).

Every test starts with the five methods the migration seeds (PM0001 Dinheiro ... PM0005 Boleto Bancário).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import bearer, create_customer, create_presale, create_product, create_user

URL = "/api/payment-methods"
KEYS = {"id", "code", "description", "isActive", "createdBy", "createdAt", "updatedAt"}
SEEDED = [
    ("PM0005", "Boleto Bancário"),
    ("PM0002", "Cartão de Crédito"),
    ("PM0003", "Cartão de Débito"),
    ("PM0001", "Dinheiro"),
    ("PM0004", "PIX"),
]  # by description


async def _by_code(db: asyncpg.Connection, code: str) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM payment_methods WHERE code = $1", code)


async def _count(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM payment_methods")


def _error(response: httpx.Response) -> dict:
    """The error without its requestId, checked to be the response's X-Request-ID."""
    error = response.json()["error"]
    assert error.pop("requestId") == response.headers["x-request-id"]
    return error


# --- list ------------------------------------------------------------------------------------------------


async def test_list_shape_and_the_seeded_methods_by_description(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.get(URL, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "data", "pagination", "message", "timestamp"]
    assert body["success"] is True
    assert [(m["code"], m["description"]) for m in body["data"]] == SEEDED
    assert body["pagination"] == {
        "total": 5,
        "page": 1,
        "limit": 50,
        "totalPages": 1,
        "hasNext": False,
        "hasPrev": False,
        "totalExact": True,
    }
    for method in body["data"]:
        assert set(method) == KEYS
        assert method["isActive"] is True and method["createdBy"] is None
        assert method["createdAt"].endswith("Z") and method["updatedAt"].endswith("Z")
        uuid.UUID(method["id"])


async def test_list_sorting_and_paging(client: httpx.AsyncClient, admin_headers: dict) -> None:
    async def codes(query: str) -> list[str]:
        response = await client.get(f"{URL}?{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return [m["code"] for m in response.json()["data"]]

    assert await codes("sortBy=code") == ["PM0001", "PM0002", "PM0003", "PM0004", "PM0005"]
    assert await codes("sortBy=code&sortOrder=desc") == ["PM0005", "PM0004", "PM0003", "PM0002", "PM0001"]
    assert await codes("sortBy=description&sortOrder=desc") == [code for code, _ in reversed(SEEDED)]
    assert len(await codes("sortBy=createdAt")) == 5
    page = (await client.get(f"{URL}?page=2&limit=2&sortBy=code", headers=admin_headers)).json()
    assert [m["code"] for m in page["data"]] == ["PM0003", "PM0004"]
    assert page["pagination"] == {
        "total": 5,
        "page": 2,
        "limit": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": True,
        "totalExact": True,
    }
    beyond = (await client.get(f"{URL}?page=9&limit=2", headers=admin_headers)).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "limit=101",
        "limit=0",
        "page=0",
        "sortBy=isActive",
        "sortOrder=up",
        "isActive=yes",
        "isActive=1",
        "search=" + "x" * 256,
    ],
)
async def test_list_rejects_bad_query_values(client: httpx.AsyncClient, admin_headers: dict, query: str) -> None:
    response = await client.get(f"{URL}?{query}", headers=admin_headers)
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "VALIDATION_ERROR"


async def test_list_filters(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE payment_methods SET is_active = false WHERE code = 'PM0004'")

    async def codes(query: str) -> list[str]:
        response = await client.get(f"{URL}?sortBy=code&{query}", headers=admin_headers)
        assert response.status_code == 200, response.text
        return [m["code"] for m in response.json()["data"]]

    assert await codes("") == ["PM0001", "PM0002", "PM0003", "PM0004", "PM0005"]  # inactive included
    assert await codes("isActive=false") == ["PM0004"]
    assert await codes("isActive=true") == ["PM0001", "PM0002", "PM0003", "PM0005"]
    assert await codes("isActive=TRUE") == ["PM0001", "PM0002", "PM0003", "PM0005"]
    assert await codes("search=cart") == ["PM0002", "PM0003"]  # case-insensitive, on description
    assert await codes("search=CRÉDITO") == ["PM0002"]
    assert await codes("search=pm0005") == ["PM0005"]  # on code too
    assert await codes("search=cart&isActive=false") == []
    assert await codes("search=%25") == []  # the user's % is a literal, not a wildcard
    assert await codes("search=&isActive=") == ["PM0001", "PM0002", "PM0003", "PM0004", "PM0005"]  # empty = absent
    total = (await client.get(f"{URL}?isActive=false", headers=admin_headers)).json()["pagination"]["total"]
    assert total == 1


# --- get -------------------------------------------------------------------------------------------------


async def test_get_200_404_and_bad_uuid_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    pix = await _by_code(db, "PM0004")
    response = await client.get(f"{URL}/{pix['id']}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and set(body["data"]) == KEYS
    assert body["data"]["id"] == str(pix["id"]) and body["data"]["description"] == "PIX"
    missing = await client.get(f"{URL}/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404
    assert _error(missing) == {"code": "NOT_FOUND", "message": "Payment method not found"}
    bad = await client.get(f"{URL}/not-a-uuid", headers=admin_headers)
    assert bad.status_code == 422 and _error(bad)["code"] == "VALIDATION_ERROR"


# --- create ----------------------------------------------------------------------------------------------


async def test_create_assigns_the_next_code_and_records_the_creator(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    response = await client.post(URL, json={"description": "  Vale   Refeição "}, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["message"] == "Payment method created"
    method = body["data"]
    assert set(method) == KEYS
    assert method["code"] == "PM0006"
    assert method["description"] == "Vale Refeição"
    assert method["isActive"] is True  # the default
    assert method["createdBy"] == str(admin["id"])
    stored = await _by_code(db, "PM0006")
    assert stored["id"] == uuid.UUID(method["id"]) and stored["created_by"] == admin["id"]
    assert stored["description"] == "Vale Refeição" and stored["is_active"] is True


async def test_create_ignores_the_code_the_web_app_sends(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    response = await client.post(
        URL, json={"code": "PAG12345678", "description": "Crediário", "isActive": False}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    method = response.json()["data"]
    assert method["code"] == "PM0006" and method["isActive"] is False
    assert await db.fetchval("SELECT count(*) FROM payment_methods WHERE code = 'PAG12345678'") == 0
    # Even a code that would be free, or one of ours, is not taken from the client.
    again = await client.post(URL, json={"code": "PM0001", "description": "Cheque"}, headers=admin_headers)
    assert again.status_code == 201 and again.json()["data"]["code"] == "PM0007"


async def test_create_reuses_the_first_free_number(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    credit = await _by_code(db, "PM0002")
    deleted = await client.delete(f"{URL}/{credit['id']}", headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    first = await client.post(URL, json={"description": "Cartão Presente"}, headers=admin_headers)
    assert first.json()["data"]["code"] == "PM0002"  # the gap
    second = await client.post(URL, json={"description": "Cheque"}, headers=admin_headers)
    assert second.json()["data"]["code"] == "PM0006"  # then past the highest


async def test_codes_of_another_shape_do_not_block_generation(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    # Rows imported from elsewhere may carry any code: only PM + 4 digits take part in the numbering.
    await db.execute("INSERT INTO payment_methods (code, description) VALUES ('PM6', 'Antigo'), ('X0006', 'Outro')")
    response = await client.post(URL, json={"description": "Cheque"}, headers=admin_headers)
    assert response.status_code == 201 and response.json()["data"]["code"] == "PM0006"


async def test_concurrent_creates_get_distinct_codes(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    responses = await asyncio.gather(
        *(client.post(URL, json={"description": f"Método {n}"}, headers=admin_headers) for n in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    codes = sorted(r.json()["data"]["code"] for r in responses)
    assert codes == [f"PM{n:04d}" for n in range(6, 16)]
    assert await _count(db) == 15


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"description": "a"}, "description"),
        ({"description": "   a   "}, "description"),  # 2 characters only after trimming
        ({"description": "x" * 256}, "description"),
        ({"description": None}, "description"),
        ({"description": 12}, "description"),
        ({"description": "a\x00b"}, "description"),
        ({}, "description"),
        ({"description": "Cheque", "isActive": "yes"}, "isActive"),
        ({"description": "Cheque", "isActive": "true"}, "isActive"),
        ({"description": "Cheque", "isActive": 1}, "isActive"),
        ({"description": "Cheque", "isActive": None}, "isActive"),
        ({"description": "Cheque", "active": True}, "active"),
    ],
)
async def test_create_validation_errors_are_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, payload: dict, field: str
) -> None:
    response = await client.post(URL, json=payload, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == [field]
    assert await _count(db) == 5


async def test_create_description_length_bounds(client: httpx.AsyncClient, admin_headers: dict) -> None:
    for description in ("ab", "x" * 255):
        response = await client.post(URL, json={"description": description}, headers=admin_headers)
        assert response.status_code == 201, response.text
        assert response.json()["data"]["description"] == description


async def test_create_messages(client: httpx.AsyncClient, admin_headers: dict) -> None:
    short = await client.post(URL, json={"description": "a"}, headers=admin_headers)
    assert _error(short)["message"] == "Must be at least 2 characters"
    flag = await client.post(URL, json={"description": "Cheque", "isActive": "yes"}, headers=admin_headers)
    assert _error(flag)["message"] == "Must be true or false"


# --- update and status -----------------------------------------------------------------------------------


async def test_update_description_and_status(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    pix = await _by_code(db, "PM0004")
    url = f"{URL}/{pix['id']}"
    response = await client.put(url, json={"description": " Pix Instantâneo "}, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Payment method updated"
    method = body["data"]
    assert method["description"] == "Pix Instantâneo" and method["isActive"] is True and method["code"] == "PM0004"
    assert method["updatedAt"] > method["createdAt"]

    both = await client.put(
        url, json={"code": "PAG00000001", "description": "PIX", "isActive": False}, headers=admin_headers
    )  # what the web app sends: the code is ignored
    assert both.status_code == 200, both.text
    assert (both.json()["data"]["description"], both.json()["data"]["isActive"], both.json()["data"]["code"]) == (
        "PIX",
        False,
        "PM0004",
    )
    only_status = await client.put(url, json={"isActive": True}, headers=admin_headers)
    assert only_status.json()["data"]["isActive"] is True and only_status.json()["data"]["description"] == "PIX"
    stored = await db.fetchrow("SELECT * FROM payment_methods WHERE id = $1", pix["id"])
    assert (stored["code"], stored["description"], stored["is_active"]) == ("PM0004", "PIX", True)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, ""),
        ({"code": "PM0009"}, ""),  # the ignored code alone changes nothing
        ({"description": None}, ""),
        ({"isActive": None}, ""),
        ({"description": "x"}, "description"),
        ({"isActive": "no"}, "isActive"),
        ({"isActive": 0}, "isActive"),
        ({"description": "Pix", "color": "blue"}, "color"),
    ],
)
async def test_update_validation_errors(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, payload: dict, field: str
) -> None:
    pix = await _by_code(db, "PM0004")
    response = await client.put(f"{URL}/{pix['id']}", json=payload, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in _error(response)["details"]] == [field]
    assert await _by_code(db, "PM0004") == pix


async def test_update_404_and_bad_uuid(client: httpx.AsyncClient, admin_headers: dict) -> None:
    missing = await client.put(f"{URL}/{uuid.uuid4()}", json={"description": "Pix"}, headers=admin_headers)
    assert missing.status_code == 404 and _error(missing)["message"] == "Payment method not found"
    bad = await client.put(f"{URL}/nope", json={"description": "Pix"}, headers=admin_headers)
    assert bad.status_code == 422


async def test_patch_status(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    cash = await _by_code(db, "PM0001")
    url = f"{URL}/{cash['id']}/status"
    response = await client.patch(url, json={"isActive": False}, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Payment method status updated"
    assert set(body["data"]) == KEYS and body["data"]["isActive"] is False
    assert body["data"]["description"] == "Dinheiro"
    assert await db.fetchval("SELECT is_active FROM payment_methods WHERE id = $1", cash["id"]) is False
    listed = (await client.get(f"{URL}?isActive=false", headers=admin_headers)).json()["data"]
    assert [m["code"] for m in listed] == ["PM0001"]
    back = await client.patch(url, json={"isActive": True}, headers=admin_headers)
    assert back.status_code == 200 and back.json()["data"]["isActive"] is True

    for payload in ({}, {"isActive": "false"}, {"isActive": None}, {"isActive": True, "description": "x y"}):
        refused = await client.patch(url, json=payload, headers=admin_headers)
        assert refused.status_code == 422, (payload, refused.text)
    assert await db.fetchval("SELECT is_active FROM payment_methods WHERE id = $1", cash["id"]) is True
    missing = await client.patch(f"{URL}/{uuid.uuid4()}/status", json={"isActive": False}, headers=admin_headers)
    assert missing.status_code == 404


# --- delete ----------------------------------------------------------------------------------------------


async def test_delete_200_then_404(client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection) -> None:
    boleto = await _by_code(db, "PM0005")
    response = await client.delete(f"{URL}/{boleto['id']}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "message", "timestamp"]  # no data
    assert body["success"] is True and body["message"] == "Payment method deleted"
    assert await _by_code(db, "PM0005") is None
    again = await client.delete(f"{URL}/{boleto['id']}", headers=admin_headers)
    assert again.status_code == 404 and _error(again)["message"] == "Payment method not found"
    assert (await client.get(f"{URL}/{boleto['id']}", headers=admin_headers)).status_code == 404
    assert (await client.delete(f"{URL}/nope", headers=admin_headers)).status_code == 422


async def test_delete_of_a_method_used_by_a_presale_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    pix = await _by_code(db, "PM0004")
    customer = await create_customer(db)
    product = await create_product(db)
    presale = await create_presale(db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))])
    await db.execute("UPDATE presales SET payment_method_id = $1 WHERE id = $2", pix["id"], presale["id"])
    response = await client.delete(f"{URL}/{pix['id']}", headers=admin_headers)
    assert response.status_code == 409, response.text
    assert _error(response) == {"code": "CONFLICT", "message": "Payment method is in use by pre-sales"}
    assert await _by_code(db, "PM0004") == pix
    # Once no pre-sale uses it, it can go.
    await db.execute("UPDATE presales SET payment_method_id = NULL WHERE id = $1", presale["id"])
    assert (await client.delete(f"{URL}/{pix['id']}", headers=admin_headers)).status_code == 200


# --- permissions -----------------------------------------------------------------------------------------


async def test_any_user_may_read_only_payment_method_managers_may_write(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    pix = await _by_code(db, "PM0004")
    for role in ("employee", "manager"):  # neither role has modules.paymentMethods by default
        headers = bearer(settings, await create_user(db, role))
        listed = await client.get(URL, headers=headers)
        assert listed.status_code == 200 and len(listed.json()["data"]) == 5
        assert (await client.get(f"{URL}/{pix['id']}", headers=headers)).status_code == 200
        for response in (
            await client.post(URL, json={"description": "Cheque"}, headers=headers),
            await client.put(f"{URL}/{pix['id']}", json={"description": "Pix"}, headers=headers),
            await client.patch(f"{URL}/{pix['id']}/status", json={"isActive": False}, headers=headers),
            await client.delete(f"{URL}/{pix['id']}", headers=headers),
        ):
            assert response.status_code == 403, response.text
            assert _error(response)["code"] == "FORBIDDEN"
    assert await _by_code(db, "PM0004") == pix and await _count(db) == 5

    granted = await create_user(db, "employee", permissions={"modules": {"paymentMethods": True}})
    created = await client.post(URL, json={"description": "Cheque"}, headers=bearer(settings, granted))
    assert created.status_code == 201 and created.json()["data"]["createdBy"] == str(granted["id"])


async def test_no_token_is_401(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    pix = await _by_code(db, "PM0004")
    for response in (
        await client.get(URL),
        await client.get(f"{URL}/{pix['id']}"),
        await client.post(URL, json={"description": "Cheque"}),
        await client.put(f"{URL}/{pix['id']}", json={"description": "Pix"}),
        await client.patch(f"{URL}/{pix['id']}/status", json={"isActive": False}),
        await client.delete(f"{URL}/{pix['id']}"),
        await client.get(URL, headers={"Authorization": "Bearer not.a.token"}),
    ):
        assert response.status_code == 401, response.text
    assert await _count(db) == 5
