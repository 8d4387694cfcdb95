"""Auth over HTTP against the real database (contract 2.1-2.4, 10.1, 10.13, 10.15)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import asyncpg
import bcrypt
import httpx
import jwt
import pytest

from service.auth.tokens import issue_token
from service.config import Settings
from tests.factories import EMPLOYEE_DEFAULTS, PASSWORD, bearer, create_user, token_for
from tests.support import wait_until

USER_KEYS = {"id", "email", "name", "role", "permissions", "createdAt", "updatedAt"}
ALL_TRUE = {
    "modules": {"products": True, "customers": True, "reports": True, "paymentMethods": True, "userManagement": True},
    "presales": {"canCreate": True, "canViewOwn": True, "canViewAll": True},
}


def atob(segment: str) -> bytes:
    """What the web app does with the payload: standard base64 (not base64url), padding added."""
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=None, validate=True)


def assert_no_secrets(response: httpx.Response) -> None:
    assert "password" not in response.text.lower()
    assert "$argon2" not in response.text and "$2b$" not in response.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_login_returns_token_user_and_expiry(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    # `>`, `?` and `~` are the ASCII characters whose base64url form contains `-` or `_`.
    user = await create_user(db, "employee", email="a~b?c>d@example.com", name="Tilde Person")
    sent = time.time()
    response = await login(client, "a~b?c>d@example.com")
    answered = time.time()
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "data", "message", "timestamp"]
    assert body["success"] is True and body["message"] == "Login successful"
    assert set(body["data"]) == {"token", "user", "expiresIn"}
    assert body["data"]["expiresIn"] == settings.jwt_expires_in
    data_user = body["data"]["user"]
    assert set(data_user) == USER_KEYS
    assert data_user["id"] == str(user["id"]) and data_user["email"] == "a~b?c>d@example.com"
    assert data_user["role"] == "employee" and data_user["permissions"] == EMPLOYEE_DEFAULTS
    assert data_user["createdAt"].endswith("Z")
    assert_no_secrets(response)

    token = body["data"]["token"]
    parts = token.split(".")
    assert len(parts) == 3 and all(parts)
    assert "-" not in parts[1] and "_" not in parts[1]
    payload = json.loads(atob(parts[1]))
    # Issued while the request was served (whole seconds), however long that took.
    assert isinstance(payload["exp"], int) and int(sent) <= payload["exp"] - settings.jwt_expires_in <= answered
    assert payload["userId"] == str(user["id"])
    assert payload["email"] == "a~b?c>d@example.com"
    assert payload["role"] == "employee"
    uuid.UUID(payload["jti"])
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["data"]["id"] == str(user["id"])


async def test_login_email_is_trimmed_and_case_insensitive(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    await create_user(db, "manager", email="mgr@example.com")
    response = await login(client, "  MGR@Example.COM ")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["user"]["email"] == "mgr@example.com"


async def test_two_logins_give_distinct_tokens(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    await create_user(db, "employee", email="twice@example.com")
    first = (await login(client, "twice@example.com")).json()["data"]["token"]
    second = (await login(client, "twice@example.com")).json()["data"]["token"]
    assert first != second


@pytest.mark.parametrize(
    ("email", "password"),
    [("known@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("not an email", PASSWORD)],
)
async def test_wrong_credentials_are_401_login_failed(
    client: httpx.AsyncClient, db: asyncpg.Connection, email: str, password: str
) -> None:
    await create_user(db, "admin", email="known@example.com")
    response = await login(client, email, password)
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"] == {
        "code": "LOGIN_FAILED",
        "message": "Invalid email or password",
        "requestId": response.headers["x-request-id"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@example.com"},
        {"password": PASSWORD},
        {"email": "", "password": "x"},
        {"email": "a@example.com", "password": ""},
        {"email": 5, "password": "x"},
        {"email": "a@example.com", "password": None},
        [1, 2],
    ],
)
async def test_missing_or_malformed_fields_are_422(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/api/auth/login", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_login_without_a_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_bcrypt_hash_logs_in_and_is_upgraded_to_argon2(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await create_user(db, "employee", email="legacy@example.com")
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await db.execute("UPDATE users SET password = $1 WHERE id = $2", legacy, user["id"])
    assert (await login(client, "legacy@example.com", "not-the-password")).status_code == 401
    assert await db.fetchval("SELECT password FROM users WHERE id = $1", user["id"]) == legacy  # untouched

    response = await login(client, "legacy@example.com")
    assert response.status_code == 200, response.text
    assert_no_secrets(response)
    stored = await db.fetchval("SELECT password FROM users WHERE id = $1", user["id"])
    assert stored.startswith("$argon2id$")
    # The upgrade is not a password change: the token just issued keeps working, and the password still logs in.
    token = response.json()["data"]["token"]
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await login(client, "legacy@example.com")).status_code == 200


async def test_me_and_profile_return_the_current_user(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    stored = {
        "modules": {
            "products": True,
            "customers": False,
            "reports": True,
            "paymentMethods": False,
            "userManagement": False,
        },
        "presales": {"canCreate": False, "canViewOwn": True, "canViewAll": False},
    }
    user = await create_user(db, "employee", email="me@example.com", name="Me Myself", permissions=stored)
    headers = bearer(settings, user)
    for path in ("/api/auth/me", "/api/auth/profile"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        assert set(body["data"]) == USER_KEYS
        assert body["data"]["id"] == str(user["id"]) and body["data"]["name"] == "Me Myself"
        assert body["data"]["permissions"] == stored
        assert_no_secrets(response)
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_admin_permissions_are_always_complete(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    admin = await create_user(db, "admin", permissions={"modules": {"products": True}})
    response = await client.get("/api/auth/me", headers=bearer(settings, admin))
    assert response.json()["data"]["permissions"] == ALL_TRUE


async def test_logout_without_body_or_content_type_revokes_the_token(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await create_user(db, "employee", email="bye@example.com")
    token = (await login(client, "bye@example.com")).json()["data"]["token"]
    other = (await login(client, "bye@example.com")).json()["data"]["token"]
    # An expired revocation from earlier: purged on logout.
    await db.execute(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, now() - interval '1 hour')",
        uuid.uuid4(),
        user["id"],
    )

    response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert "content-type" not in response.request.headers and response.request.content == b""
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["success", "message", "timestamp"] and body["success"] is True

    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "INVALID_TOKEN"
    rows = await db.fetch("SELECT user_id, expires_at > now() AS live FROM revoked_tokens")
    assert [(r["user_id"], r["live"]) for r in rows] == [(user["id"], True)]
    # Only that token: the user's other session still works.
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer x"}],
)
async def test_logout_without_a_valid_token_is_200(
    client: httpx.AsyncClient, db: asyncpg.Connection, headers: dict
) -> None:
    response = await client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True and "data" not in response.json()
    assert await db.fetchval("SELECT count(*) FROM revoked_tokens") == 0


async def test_refresh_issues_a_new_token_and_revokes_the_old(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "manager")
    old = token_for(settings, user)
    response = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"token", "expiresIn"} and data["expiresIn"] == settings.jwt_expires_in
    assert data["token"] != old
    fresh = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert fresh.status_code == 200 and fresh.json()["data"]["id"] == str(user["id"])
    stale = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "INVALID_TOKEN"
    again = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert again.status_code == 401
    assert (await client.post("/api/auth/refresh")).status_code == 401


async def assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


async def test_expired_token_is_401(client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings) -> None:
    user = await create_user(db, "admin")
    token, _ = issue_token(settings.jwt_secret, -30, user_id=str(user["id"]), email=user["email"], role="admin")
    await assert_rejected(client, token)


async def test_token_signed_with_another_secret_is_401(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await create_user(db, "admin")
    token, _ = issue_token(
        "another-secret-entirely-" * 2, 3600, user_id=str(user["id"]), email=user["email"], role="admin"
    )
    await assert_rejected(client, token)


async def test_alg_none_token_is_401(client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings) -> None:
    user = await create_user(db, "admin")
    valid = token_for(settings, user)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    _, payload, signature = valid.split(".")
    await assert_rejected(client, f"{header}.{payload}.")
    await assert_rejected(client, f"{header}.{payload}.{signature}")
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {valid}"})).status_code == 200


async def test_tampered_payload_is_401(client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings) -> None:
    employee = await create_user(db, "employee")
    header, payload, signature = token_for(settings, employee).split(".")
    claims = json.loads(atob(payload))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    await assert_rejected(client, f"{header}.{forged}.{signature}")


async def test_token_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    user = await create_user(db, "employee")
    token = token_for(settings, user)
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    await db.execute("DELETE FROM users WHERE id = $1", user["id"])

    async def refused() -> bool:  # once the deletion's announcement reaches the service's token cache
        return (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401

    await wait_until(refused, within=30, what="the deleted user's token refused")
    await assert_rejected(client, token)
    # Logging out with it is still harmless.
    assert (await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_other_algorithms_are_401_even_with_the_right_secret(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """Only HS256 is accepted: an HS512 token signed with the real secret, and an RS256 header (the RS/HS
    confusion attack presents one signed with the public key as an HMAC secret) are both refused."""
    user = await create_user(db, "admin")
    _, payload, _ = token_for(settings, user).split(".")
    claims = json.loads(atob(payload))
    hs512 = jwt.encode(claims, settings.jwt_secret, algorithm="HS512")
    await assert_rejected(client, hs512)
    rs_header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode()
    signing_input = f"{rs_header}.{payload}".encode()
    hmac_signature = (
        base64.urlsafe_b64encode(hmac.new(settings.jwt_secret.encode(), signing_input, hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    await assert_rejected(client, f"{rs_header}.{payload}.{hmac_signature}")
