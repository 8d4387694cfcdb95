"""The per-process token cache (service/auth/token_cache.py) against the real database: it answers for a token
it has verified, forgets it as soon as PostgreSQL announces a change, and caches nothing while it cannot hear
those announcements.

Behind PgBouncer (transaction pooling) nothing can LISTEN, so the cache is off there: `.ci/run` leaves this file
out of its PgBouncer run, and tests/test_pgbouncer.py checks that the cache stays off."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import httpx
import jwt
import pytest

from service.auth.current_user import CurrentUser
from service.auth.token_cache import TokenCache
from service.auth.tokens import Claims, issue_token
from service.config import Settings
from service.errors import Unauthorized
from tests.factories import bearer, create_user
from tests.support import Clock, LiveServer, wait_until

LISTENER = "flowcrm-auth_changed"  # application_name of the listener's connection


NOW = 1_796_000_000.0  # the wall clock of the cache's own tests


def cached_user(user_id: uuid.UUID, expires_in: float = 3600, now: float = NOW) -> CurrentUser:
    claims = Claims(
        user_id=str(user_id),
        email="a@example.com",
        role="admin",
        jti=str(uuid.uuid4()),
        issued_at=now,
        expires_at=int(now + expires_in),
    )
    return CurrentUser(
        id=user_id,
        email="a@example.com",
        name="A",
        role="admin",
        stored_permissions=None,
        created_at=datetime(2026, 1, 1),
        updated_at=datetime(2026, 1, 1),
        claims=claims,
    )


def trusted_cache(seconds: float = 60, max_entries: int = 100, clock: Clock | None = None) -> TokenCache:
    clock = clock or Clock(NOW)
    cache = TokenCache(seconds, max_entries, clock=clock, wall_clock=clock)
    cache.trusted = True
    return cache


# --- the cache's own rules -----------------------------------------------------------------------------------


def test_keeps_a_verification_only_when_nothing_changed_since_it_started() -> None:
    cache = trusted_cache()
    user = cached_user(uuid.uuid4())
    started = cache.generation
    cache.forget(str(uuid.uuid4()))  # a change (of anyone) lands while the verification is in flight
    cache.put("token", user, started)
    assert cache.get("token") is None
    cache.put("token", user, cache.generation)
    assert cache.get("token") is user


def test_caches_nothing_while_untrusted() -> None:
    cache = TokenCache(60)
    cache.put("token", cached_user(uuid.uuid4()), cache.generation)
    assert cache.get("token") is None and len(cache) == 0


def test_forgets_one_user_or_everyone_and_drops_a_token() -> None:
    cache = trusted_cache()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    for token, user_id in (("a1", alice), ("a2", alice), ("b1", bob), ("b2", bob)):
        cache.put(token, cached_user(user_id), cache.generation)
    cache.forget(str(alice))
    assert cache.get("a1") is None and cache.get("a2") is None and cache.get("b1") is not None
    cache.drop("b1")
    assert cache.get("b1") is None and cache.get("b2") is not None
    cache.forget("*")
    assert len(cache) == 0
    cache.put("b2", cached_user(bob), cache.generation)
    cache.distrust()
    assert len(cache) == 0 and not cache.trusted


def test_an_entry_ends_with_its_time_or_its_token() -> None:
    clock = Clock(NOW)
    cache = trusted_cache(seconds=5, clock=clock)
    cache.put("short-lived entry", cached_user(uuid.uuid4()), cache.generation)
    cache.put("expiring token", cached_user(uuid.uuid4(), expires_in=3), cache.generation)
    clock.now += 3  # the token's exp: checked on every hit
    assert cache.get("expiring token") is None
    assert cache.get("short-lived entry") is not None
    clock.now += 2  # the entry's AUTH_CACHE_SECONDS
    assert cache.get("short-lived entry") is None


def test_is_bounded_and_drops_the_oldest_first() -> None:
    cache = trusted_cache(max_entries=3)
    for n in range(5):
        cache.put(f"t{n}", cached_user(uuid.uuid4()), cache.generation)
    assert len(cache) == 3 and cache.get("t0") is None and cache.get("t1") is None and cache.get("t4") is not None


class Verifications:
    """Stands in for `authenticate` (what the cache is given, not the database): counts its calls, each of which
    waits until the test lets it finish with `outcome` (a user, or an exception to raise)."""

    def __init__(self, outcome: CurrentUser | Exception) -> None:
        self.outcome = outcome
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> CurrentUser:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def started(tasks: list[asyncio.Task[CurrentUser]]) -> None:
    await asyncio.sleep(0)  # one turn of the loop: each task runs up to its first wait (no time involved)
    assert not any(task.done() for task in tasks)


async def test_requests_that_miss_together_share_one_verification() -> None:
    cache = trusted_cache()
    user = cached_user(uuid.uuid4())
    verify = Verifications(user)
    requests = [asyncio.create_task(cache.verify("token", verify)) for _ in range(16)]
    other = Verifications(cached_user(uuid.uuid4()))
    other_token = asyncio.create_task(cache.verify("other token", other))
    await started([*requests, other_token])
    verify.release.set()
    assert [await request for request in requests] == [user] * 16
    assert verify.calls == 1 and cache.get("token") is user
    assert other.calls == 1 and not other_token.done()  # another token waits for nobody else
    other.release.set()
    await other_token


async def test_a_change_during_the_verification_sends_waiters_to_verify_on_their_own() -> None:
    cache = trusted_cache()
    verify = Verifications(cached_user(uuid.uuid4()))
    first = asyncio.create_task(cache.verify("token", verify))
    waiter = asyncio.create_task(cache.verify("token", verify))
    await started([first, waiter])
    cache.forget("*")  # e.g. the user's password changed while the row was being read
    late = asyncio.create_task(cache.verify("token", verify))  # arrives after the change
    await started([late])
    verify.release.set()
    await asyncio.gather(first, waiter, late)
    assert verify.calls == 3  # the waiter did not take a result read before the change; nor did the latecomer
    assert cache.get("token") is not None  # the two verifications that started after it were kept


async def test_a_failed_or_cancelled_verification_is_not_shared() -> None:
    cache = trusted_cache()
    refused = Verifications(Unauthorized("Invalid or expired token", code="INVALID_TOKEN"))
    requests = [asyncio.create_task(cache.verify("token", refused)) for _ in range(3)]
    await started(requests)
    refused.release.set()
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(result, Unauthorized) for result in results)
    assert refused.calls == 3 and cache.get("token") is None  # each waiter verified (and failed) on its own

    user = cached_user(uuid.uuid4())
    verify = Verifications(user)
    first = asyncio.create_task(cache.verify("token", verify))
    waiter = asyncio.create_task(cache.verify("token", verify))
    await started([first, waiter])
    first.cancel()  # the client went away
    await asyncio.sleep(0)  # one turn of the loop: the cancellation is delivered
    verify.release.set()
    assert await waiter is user and verify.calls == 2


async def test_verifies_every_request_while_untrusted() -> None:
    cache = TokenCache(60)
    verify = Verifications(cached_user(uuid.uuid4()))
    verify.release.set()
    await asyncio.gather(*(cache.verify("token", verify) for _ in range(3)))
    assert verify.calls == 3 and cache.get("token") is None


async def test_trusts_only_a_database_that_announces_changes(db: asyncpg.Connection) -> None:
    cache = TokenCache(60)
    await cache.trust(db)
    assert cache.trusted
    cache.distrust()
    tx = db.transaction()
    await tx.start()
    try:  # the triggers gone (as before migration 6), inside a transaction that is rolled back
        await db.execute("DROP TRIGGER revoked_tokens_auth_changed ON revoked_tokens")
        await cache.trust(db)
        assert not cache.trusted
    finally:
        await tx.rollback()


# --- through the running service -----------------------------------------------------------------------------


async def answers(request: Awaitable[httpx.Response], status: int) -> bool:
    return (await request).status_code == status


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status_code


@asynccontextmanager
async def unannounced(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Changes made inside are not announced (the triggers disabled), so only the cache explains an answer
    that ignores them."""
    await db.execute("ALTER TABLE users DISABLE TRIGGER users_auth_changed")
    await db.execute("ALTER TABLE revoked_tokens DISABLE TRIGGER revoked_tokens_auth_changed")
    try:
        yield
    finally:
        await db.execute("ALTER TABLE users ENABLE TRIGGER users_auth_changed")
        await db.execute("ALTER TABLE revoked_tokens ENABLE TRIGGER revoked_tokens_auth_changed")


async def listener_connected(db: asyncpg.Connection) -> bool:
    return bool(
        await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            LISTENER,
        )
    )


async def cached(client: httpx.AsyncClient, headers: dict[str, str], server: LiveServer) -> None:
    """Use the token until the service keeps it (a verification overlapping any announced change, such as the
    test's own table reset, is not kept)."""
    token = headers["Authorization"].removeprefix("Bearer ")

    async def used_and_kept() -> bool:
        return (
            await answers(client.get("/api/auth/me", headers=headers), 200)
            and token_cache(server).get(token) is not None
        )

    await wait_until(used_and_kept, within=30, what="the token kept by the cache")


def token_cache(server: LiveServer) -> TokenCache:
    return server.app.state.tokens


async def test_a_known_token_is_answered_from_the_cache(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, server: LiveServer
) -> None:
    user = await create_user(db, "employee")
    headers = bearer(settings, user)
    await cached(client, headers, server)
    async with unannounced(db):
        await db.execute("UPDATE users SET tokens_valid_after = now() + interval '1 minute' WHERE id = $1", user["id"])
        assert await me_status(client, headers) == 200  # the database would say no; the cache did not ask it
        token_cache(server).forget("*")
        assert await me_status(client, headers) == 401


async def test_a_change_made_elsewhere_ends_cached_sessions(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, server: LiveServer
) -> None:
    """psql, `flowcrm users`, another service process: the database announces each change to every process."""
    demoted, revoked, deleted = (
        await create_user(db, "admin"),
        await create_user(db, "employee"),
        await create_user(db, "employee"),
    )
    headers = [bearer(settings, user) for user in (demoted, revoked, deleted)]
    for each in headers:
        await cached(client, each, server)
    assert (await client.get("/api/users", headers=headers[0])).status_code == 200

    await db.execute("UPDATE users SET role = 'employee' WHERE id = $1", demoted["id"])
    await wait_until(
        lambda: answers(client.get("/api/users", headers=headers[0]), 403), within=30, what="the demoted admin refused"
    )
    assert (await client.get("/api/auth/me", headers=headers[0])).json()["data"]["role"] == "employee"

    jti = jwt.decode(headers[1]["Authorization"][7:], options={"verify_signature": False})["jti"]
    await db.execute(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
        uuid.UUID(jti),
        revoked["id"],
    )
    await wait_until(
        lambda: answers(client.get("/api/auth/me", headers=headers[1]), 401),
        within=30,
        what="the revoked token refused",
    )

    await db.execute("DELETE FROM users WHERE id = $1", deleted["id"])
    await wait_until(
        lambda: answers(client.get("/api/auth/me", headers=headers[2]), 401),
        within=30,
        what="the deleted user's token refused",
    )


async def test_the_service_forgets_its_own_changes_before_answering(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, server: LiveServer
) -> None:
    """Even unannounced, a logout, a refresh, a user update or delete through this process are never ignored by
    it, not even by the very next request."""
    admin_headers = bearer(settings, await create_user(db, "admin"))
    victims = [await create_user(db, "employee") for _ in range(4)]
    headers = [bearer(settings, victim) for victim in victims]
    for each in headers:
        await cached(client, each, server)
    async with unannounced(db):
        assert (await client.post("/api/auth/logout", headers=headers[0])).status_code == 200
        assert await me_status(client, headers[0]) == 401
        assert (await client.post("/api/auth/refresh", headers=headers[1])).status_code == 200
        assert await me_status(client, headers[1]) == 401
        response = await client.put(f"/api/users/{victims[2]['id']}", headers=admin_headers, json={"role": "manager"})
        assert response.status_code == 200, response.text
        assert await me_status(client, headers[2]) == 401  # a role change ends earlier sessions (contract 5.2)
        response = await client.delete(f"/api/users/{victims[3]['id']}", headers=admin_headers)
        assert response.status_code == 200, response.text
        assert await me_status(client, headers[3]) == 401


async def test_nothing_is_cached_while_the_listener_is_down(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, server: LiveServer
) -> None:
    user = await create_user(db, "employee")
    headers = bearer(settings, user)
    await cached(client, headers, server)
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
        " AND datname = current_database()",
        LISTENER,
    )  # this app's (other workers' share the server)
    await wait_until(lambda: not token_cache(server).trusted, within=30, what="the cache distrusted")
    async with unannounced(db):
        # However the race with the reconnection goes, the change is seen: the cache was emptied when the
        # connection was lost, and what it keeps after reconnecting was read after the change.
        await db.execute("UPDATE users SET tokens_valid_after = now() + interval '1 minute' WHERE id = $1", user["id"])
        assert await me_status(client, headers) == 401
    await wait_until(lambda: listener_connected(db), within=30, what="the listener back")  # by itself
    await wait_until(lambda: token_cache(server).trusted, within=30, what="the cache trusted again")


async def test_a_cached_token_still_expires(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's cache, its wall clock moved past the token's exp: it no longer answers for the token, so
    the database (which, unannounced, now refuses the user's tokens) is asked."""
    user = await create_user(db, "employee")
    token, claims = issue_token(
        settings.jwt_secret, 3600, user_id=str(user["id"]), email=user["email"], role=user["role"]
    )
    headers = {"Authorization": f"Bearer {token}"}
    await cached(client, headers, server)
    async with unannounced(db):
        await db.execute("UPDATE users SET tokens_valid_after = now() + interval '1 minute' WHERE id = $1", user["id"])
        assert await me_status(client, headers) == 200  # answered from the cache
        monkeypatch.setattr(token_cache(server), "wall_clock", lambda: claims.expires_at)
        assert await me_status(client, headers) == 401
