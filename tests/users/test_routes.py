"""Users over HTTP against the real database: register (contract 5.2), list, get, update, delete
(7.2, 7.8, 7.9, 9.12, 9.21, 10.1, 10.2, 10.8, 10.13)."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.factories import (
    EMPLOYEE_DEFAULTS,
    PASSWORD,
    bearer,
    create_customer,
    create_presale,
    create_product,
    create_user,
)

USER_KEYS = {"id", "email", "name", "role", "permissions", "createdAt", "updatedAt"}
CUSTOM = {
    "modules": {
        "products": True,
        "customers": False,
        "reports": True,
        "paymentMethods": False,
        "userManagement": False,
    },
    "presales": {"canCreate": True, "canViewOwn": False, "canViewAll": True},
}
MANAGER_DEFAULTS = {
    "modules": {"products": True, "customers": True, "reports": True, "paymentMethods": False, "userManagement": False},
    "presales": {"canCreate": True, "canViewOwn": True, "canViewAll": True},
}
NEW = {
    "name": " Nova   Pessoa ",
    "email": " Nova@Example.COM ",
    "password": "longenough-1",
    "role": "employee",
    "permissions": CUSTOM,
}


def assert_no_secrets(response: httpx.Response) -> None:
    assert "password" not in response.text.lower()
    assert "$argon2" not in response.text and "$2b$" not in response.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def me_status(client: httpx.AsyncClient, headers: dict) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status_code


# --- register -------------------------------------------------------------------------------------------------


async def test_register_as_admin_creates_the_user(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    response = await client.post("/api/auth/register", json=NEW, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and list(body) == ["success", "data", "message", "timestamp"]
    user = body["data"]
    assert set(user) == USER_KEYS
    assert user["name"] == "Nova Pessoa" and user["email"] == "nova@example.com" and user["role"] == "employee"
    assert user["permissions"] == CUSTOM
    assert_no_secrets(response)
    row = await db.fetchrow("SELECT * FROM users WHERE id = $1", uuid.UUID(user["id"]))
    assert row["email"] == "nova@example.com"
    assert row["password"].startswith("$argon2id$") and "longenough-1" not in row["password"]
    assert json.loads(row["permissions"]) == CUSTOM
    logged_in = await login(client, "NOVA@example.com", "longenough-1")
    assert logged_in.status_code == 200 and logged_in.json()["data"]["user"]["permissions"] == CUSTOM


@pytest.mark.parametrize(("role", "expected"), [("employee", EMPLOYEE_DEFAULTS), ("manager", MANAGER_DEFAULTS)])
async def test_register_without_permissions_shows_role_defaults(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, role: str, expected: dict
) -> None:
    body = {k: v for k, v in NEW.items() if k != "permissions"} | {"role": role}
    response = await client.post("/api/auth/register", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["permissions"] == expected
    assert await db.fetchval("SELECT permissions FROM users WHERE email = 'nova@example.com'") is None
    explicit_null = await client.post(
        "/api/auth/register", json=body | {"email": "x@example.com", "permissions": None}, headers=admin_headers
    )
    assert explicit_null.status_code == 201 and explicit_null.json()["data"]["permissions"] == expected


@pytest.mark.parametrize("role", ["employee", "manager"])
async def test_register_by_non_admin_is_403(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, role: str
) -> None:
    everything = {"modules": {**CUSTOM["modules"], "userManagement": True}, "presales": CUSTOM["presales"]}
    caller = await create_user(db, role, permissions=everything)
    response = await client.post("/api/auth/register", json=NEW, headers=bearer(settings, caller))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "superuser"}, "role"),
        ({"role": None}, "role"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"password": "short12"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": 12345678}, "password"),
        ({"permissions": {**CUSTOM, "extra": {}}}, "permissions.extra"),
        ({"permissions": {**CUSTOM, "modules": {**CUSTOM["modules"], "admin": True}}}, "permissions.modules.admin"),
        (
            {"permissions": {**CUSTOM, "modules": {**CUSTOM["modules"], "reports": "yes"}}},
            "permissions.modules.reports",
        ),
        ({"permissions": {"modules": CUSTOM["modules"]}}, "permissions.presales"),
        ({"permissions": ["all"]}, "permissions"),
        ({"isActive": True}, "isActive"),
    ],
)
async def test_register_validation_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, change: dict, field: str
) -> None:
    response = await client.post("/api/auth/register", json=NEW | change, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in error["details"]]
    assert "longenough-1" not in response.text and "short12" not in response.text  # passwords are never echoed
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize("missing", ["name", "email", "password", "role"])
async def test_register_required_fields(client: httpx.AsyncClient, admin_headers: dict, missing: str) -> None:
    response = await client.post(
        "/api/auth/register", json={k: v for k, v in NEW.items() if k != missing}, headers=admin_headers
    )
    assert response.status_code == 422, response.text


async def test_register_duplicate_email_in_any_case_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    assert (await client.post("/api/auth/register", json=NEW, headers=admin_headers)).status_code == 201
    for email in ("nova@example.com", "NOVA@EXAMPLE.COM", "admin@example.com"):
        again = await client.post("/api/auth/register", json=NEW | {"email": email}, headers=admin_headers)
        assert again.status_code == 409, again.text
        error = again.json()["error"]
        assert error["code"] == "USER_ALREADY_EXISTS" and "already exists" in error["message"]
    # A legacy row stored in mixed case still blocks the same address.
    await db.execute("UPDATE users SET email = 'Legacy@Example.com' WHERE email = 'nova@example.com'")
    legacy = await client.post("/api/auth/register", json=NEW | {"email": "legacy@example.com"}, headers=admin_headers)
    assert legacy.status_code == 409 and legacy.json()["error"]["code"] == "USER_ALREADY_EXISTS"
    assert await db.fetchval("SELECT count(*) FROM users") == 2


async def test_concurrent_duplicate_registers_end_in_one_201_and_one_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    bodies = [NEW | {"email": "race@example.com"}, NEW | {"email": "RACE@example.com"}]
    responses = await asyncio.gather(
        *(client.post("/api/auth/register", json=body, headers=admin_headers) for body in bodies)
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["error"]["code"] == "USER_ALREADY_EXISTS"
    assert await db.fetchval("SELECT count(*) FROM users WHERE lower(email) = 'race@example.com'") == 1


# --- list and get ----------------------------------------------------------------------------------------------


async def test_list_for_admin_and_manager_ordered_by_name(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, admin: asyncpg.Record
) -> None:
    manager = await create_user(db, "manager", name="Bruno")
    await create_user(db, "employee", name="Carla", permissions=CUSTOM)
    await create_user(db, "employee", name="Aline")
    for caller in (admin, manager):
        response = await client.get("/api/users", headers=bearer(settings, caller))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True and "pagination" not in body
        assert [u["name"] for u in body["data"]] == ["Admin", "Aline", "Bruno", "Carla"]
        assert all(set(u) == USER_KEYS for u in body["data"])
        by_name = {u["name"]: u for u in body["data"]}
        assert by_name["Carla"]["permissions"] == CUSTOM
        assert by_name["Aline"]["permissions"] == EMPLOYEE_DEFAULTS
        assert by_name["Bruno"]["permissions"] == MANAGER_DEFAULTS
        assert_no_secrets(response)


async def test_list_and_get_are_403_for_employees(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    employee = await create_user(
        db, "employee", permissions={**CUSTOM, "modules": {**CUSTOM["modules"], "userManagement": True}}
    )
    headers = bearer(settings, employee)
    for path in ("/api/users", f"/api/users/{employee['id']}"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_get_user_404_and_bad_uuid(client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings) -> None:
    manager = await create_user(db, "manager", name="Mia")
    headers = bearer(settings, manager)
    found = await client.get(f"/api/users/{manager['id']}", headers=headers)
    assert found.status_code == 200 and found.json()["data"]["name"] == "Mia"
    assert set(found.json()["data"]) == USER_KEYS
    assert_no_secrets(found)
    missing = await client.get(f"/api/users/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "USER_NOT_FOUND"
    bad = await client.get("/api/users/not-a-uuid", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


# --- update ----------------------------------------------------------------------------------------------------


async def test_update_name_keeps_sessions(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee", email="keep@example.com", name="Old Name")
    user_headers = bearer(settings, user)
    # The web app's edit form re-sends email and role unchanged: that is not a change.
    response = await client.put(
        f"/api/users/{user['id']}",
        headers=admin_headers,
        json={"name": "New  Name", "email": "KEEP@example.com", "role": "employee"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["name"] == "New Name" and data["email"] == "keep@example.com"
    assert data["updatedAt"] > data["createdAt"]
    assert_no_secrets(response)
    assert await me_status(client, user_headers) == 200


async def test_password_change_invalidates_old_tokens(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee", email="pw@example.com")
    old_headers = bearer(settings, user)
    logged_in = {"Authorization": f"Bearer {(await login(client, 'pw@example.com')).json()['data']['token']}"}
    before = await db.fetchval("SELECT password FROM users WHERE id = $1", user["id"])
    response = await client.put(f"/api/users/{user['id']}", json={"password": "brand-new-pass"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert_no_secrets(response)
    after = await db.fetchval("SELECT password FROM users WHERE id = $1", user["id"])
    assert after != before and after.startswith("$argon2id$")
    for headers in (old_headers, logged_in):
        stale = await client.get("/api/auth/me", headers=headers)
        assert stale.status_code == 401 and stale.json()["error"]["code"] == "INVALID_TOKEN"
    assert (await login(client, "pw@example.com")).status_code == 401
    fresh = await login(client, "pw@example.com", "brand-new-pass")
    assert fresh.status_code == 200
    assert await me_status(client, {"Authorization": f"Bearer {fresh.json()['data']['token']}"}) == 200


async def test_email_change_invalidates_old_tokens(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee", email="before@example.com")
    old_headers = bearer(settings, user)
    response = await client.put(f"/api/users/{user['id']}", json={"email": " After@Example.com"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["email"] == "after@example.com"
    stale = await client.get("/api/auth/me", headers=old_headers)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "INVALID_TOKEN"
    assert (await login(client, "before@example.com")).status_code == 401
    assert (await login(client, "after@example.com")).status_code == 200


async def test_role_change_invalidates_old_tokens(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee")
    old_headers = bearer(settings, user)
    response = await client.put(f"/api/users/{user['id']}", json={"role": "manager"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["role"] == "manager"
    assert response.json()["data"]["permissions"] == MANAGER_DEFAULTS
    assert await me_status(client, old_headers) == 401


async def test_update_email_conflict_is_409(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_user(db, "employee", email="taken@example.com")
    user = await create_user(db, "employee", email="mine@example.com")
    response = await client.put(f"/api/users/{user['id']}", json={"email": "TAKEN@example.com"}, headers=admin_headers)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "EMAIL_ALREADY_EXISTS" and "already exists" in error["message"]
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", user["id"]) == "mine@example.com"


async def test_permissions_replace_and_null_clears(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee")
    user_headers = bearer(settings, user)
    url = f"/api/users/{user['id']}"
    response = await client.put(url, json={"permissions": CUSTOM}, headers=admin_headers)
    assert response.status_code == 200 and response.json()["data"]["permissions"] == CUSTOM
    assert json.loads(await db.fetchval("SELECT permissions FROM users WHERE id = $1", user["id"])) == CUSTOM
    cleared = await client.put(url, json={"permissions": None}, headers=admin_headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["permissions"] == EMPLOYEE_DEFAULTS
    assert await db.fetchval("SELECT permissions FROM users WHERE id = $1", user["id"]) is None
    assert await me_status(client, user_headers) == 200  # permissions are not a reason to log out


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"email": None},
        {"role": None},
        {"password": None},
        {"role": "owner"},
        {"password": "short"},
        {"isActive": False},
        {"permissions": {"modules": {}}},
    ],
)
async def test_update_validation_is_422(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, body: dict
) -> None:
    user = await create_user(db, "employee", name="Same")
    response = await client.put(f"/api/users/{user['id']}", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await db.fetchval("SELECT name FROM users WHERE id = $1", user["id"]) == "Same"


async def test_update_missing_user_is_404(client: httpx.AsyncClient, admin_headers: dict) -> None:
    response = await client.put(f"/api/users/{uuid.uuid4()}", json={"name": "X"}, headers=admin_headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "USER_NOT_FOUND"


@pytest.mark.parametrize("role", ["employee", "manager"])
async def test_update_and_delete_by_non_admin_are_403(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, role: str
) -> None:
    caller = await create_user(db, role)
    target = await create_user(db, "employee", name="Target")
    headers = bearer(settings, caller)
    put = await client.put(f"/api/users/{target['id']}", json={"name": "Hacked"}, headers=headers)
    assert put.status_code == 403 and put.json()["error"]["code"] == "FORBIDDEN"
    gone = await client.delete(f"/api/users/{target['id']}", headers=headers)
    assert gone.status_code == 403
    assert await db.fetchval("SELECT name FROM users WHERE id = $1", target["id"]) == "Target"


# --- delete ----------------------------------------------------------------------------------------------------


async def test_delete_self_is_400(
    client: httpx.AsyncClient, admin_headers: dict, admin: asyncpg.Record, db: asyncpg.Connection
) -> None:
    response = await client.delete(f"/api/users/{admin['id']}", headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "CANNOT_DELETE_SELF"
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", admin["id"]) == 1


async def test_delete_missing_is_404_and_bad_uuid_422(client: httpx.AsyncClient, admin_headers: dict) -> None:
    missing = await client.delete(f"/api/users/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "USER_NOT_FOUND"
    assert (await client.delete("/api/users/nope", headers=admin_headers)).status_code == 422


async def test_delete_keeps_history_and_ends_sessions(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection, settings: Settings
) -> None:
    seller = await create_user(db, "employee", email="seller@example.com")
    seller_headers = bearer(settings, seller)
    product = await create_product(db)
    presale = await create_presale(
        db,
        (await create_customer(db))["id"],
        [(product["id"], Decimal("1"), Decimal("15.00"))],
        created_by=seller["id"],
    )
    await db.execute(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
        uuid.uuid4(),
        seller["id"],
    )

    response = await client.delete(f"/api/users/{seller['id']}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "message", "timestamp"] and body["success"] is True
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", seller["id"]) == 0
    row = await db.fetchrow("SELECT id, created_by FROM presales WHERE id = $1", presale["id"])
    assert row is not None and row["created_by"] is None
    assert await db.fetchval("SELECT count(*) FROM revoked_tokens") == 0
    assert await me_status(client, seller_headers) == 401
    again = await client.delete(f"/api/users/{seller['id']}", headers=admin_headers)
    assert again.status_code == 404
