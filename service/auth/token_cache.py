"""Tokens this process has verified, with their users, kept for AUTH_CACHE_SECONDS (README, "Token cache").

Verifying a token costs an HMAC check (PyJWT validates base64 character by character) and a database round
trip for the user and the revocation list: most of a simple read's cost. A token seen again within a few
seconds skips both, and its expiry is still checked on every request.

The cache is trusted only while this process hears every change that can end a session. Migration 6 makes
PostgreSQL announce each one (`NOTIFY auth_changed, '<user id>'`, `'*'` when users is truncated) at commit,
whoever makes it: this service's API, another process, psql. A dedicated connection listens; while it is down,
or when the triggers are missing, nothing is cached and every request is verified against the database.
Changes made through this process's own API are also forgotten before their response is sent, so a client
never sees its own logout or password change ignored; other processes hear of it within milliseconds.

A verification that started before a change and ended after it must not be kept (it may have read the old
row): each change increments `generation`, and `put` keeps only results of verifications that started at the
current generation.

When a kept token's time runs out, every request then in flight with it would miss at once (a client with 16
connections: 16 verifications in the same millisecond, in every worker). Under load that burst stalled the
workers every AUTH_CACHE_SECONDS, the whole p99 of a simple read (figures: bench/README.md). So one
verification of a token runs at a time: requests that miss while it is in flight wait for its result, and take
it only on the terms `put` would keep it (it succeeded, nothing changed since it started).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from service.auth import queries
from service.auth.current_user import CurrentUser
from service.config import Settings
from service.db.notifications import ChannelListener
from service.ops.metrics import TOKEN_CACHE_HIT, TOKEN_CACHE_MISS

log = logging.getLogger(__name__)

CHANNEL = "auth_changed"
EVERYONE = "*"


class TokenCache:
    def __init__(
        self,
        seconds: float,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.seconds = seconds
        self.clock = clock  # when entries end (tests move it instead of sleeping)
        self.wall_clock = wall_clock  # when tokens expire (the `exp` claim is wall-clock seconds)
        self.max_entries = max_entries
        self.generation = 0
        self.trusted = False  # the listener is connected and the triggers exist
        self._entries: dict[str, tuple[CurrentUser, float]] = {}
        # Verifications in flight: token -> (its outcome, None if it failed; the generation it started at).
        self._in_flight: dict[str, tuple[asyncio.Future[CurrentUser | None], int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> CurrentUser | None:
        entry = self._entries.get(token)
        if entry is None:
            TOKEN_CACHE_MISS.inc()
            return None
        user, until = entry
        if self.clock() < until and user.claims is not None and self.wall_clock() < user.claims.expires_at:
            TOKEN_CACHE_HIT.inc()
            return user
        del self._entries[token]
        TOKEN_CACHE_MISS.inc()
        return None

    def put(self, token: str, user: CurrentUser, generation: int) -> None:
        """Keep a verification that started when `generation` was current, unless anything changed since."""
        if not self.trusted or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest (dicts keep insertion order)
        self._entries[token] = (user, self.clock() + self.seconds)

    async def verify(self, token: str, authenticate: Callable[[], Awaitable[CurrentUser]]) -> CurrentUser:
        """The user of a token `get` did not answer for: the outcome of a verification of the same token already
        in flight, if it succeeds and nothing changes meanwhile, else `authenticate()` (kept by `put`)."""
        if not self.trusted:  # nothing announces changes: every request verifies on its own
            return await authenticate()
        in_flight = self._in_flight.get(token)
        if in_flight is not None and in_flight[1] == self.generation:
            shared = await asyncio.shield(in_flight[0])
            if shared is not None and in_flight[1] == self.generation:
                return shared
        generation = self.generation
        outcome: asyncio.Future[CurrentUser | None] = asyncio.get_running_loop().create_future()
        entry = (outcome, generation)
        self._in_flight[token] = entry
        user: CurrentUser | None = None
        try:
            user = await authenticate()
        finally:
            outcome.set_result(user)  # None when it failed or was cancelled: each waiter verifies on its own
            if self._in_flight.get(token) is entry:
                del self._in_flight[token]
        self.put(token, user, generation)
        return user

    def forget(self, user_id: str) -> None:
        """Drop the tokens of one user (a user id as text), or of everyone (`*`)."""
        self.generation += 1
        if user_id == EVERYONE:
            self._entries.clear()
            return
        for token in [token for token, (user, _) in self._entries.items() if str(user.id) == user_id]:
            del self._entries[token]

    def drop(self, token: str | None) -> None:
        """Drop one token (this process has just revoked it)."""
        self.generation += 1
        if token is not None:
            self._entries.pop(token, None)

    def distrust(self) -> None:
        """Notifications may be missed from now on: drop everything and stop caching."""
        self.trusted = False
        self.forget(EVERYONE)

    async def trust(self, conn: asyncpg.Connection) -> None:
        """The listener is connected: cache from now on, if the database announces changes at all."""
        self.forget(EVERYONE)  # anything may have changed while nobody listened
        installed = await conn.fetchval(*queries.auth_change_triggers())
        if installed == len(queries.AUTH_CHANGE_TRIGGERS):
            self.trusted = True
            log.info("token cache on: verified tokens are reused for %g s, forgotten on session changes", self.seconds)
        else:
            log.warning(
                "token cache off: the database does not announce session changes (migration "
                "20261126000006 not applied); every request is verified against the database"
            )


def listen_for_auth_changes(settings: Settings, cache: TokenCache) -> ChannelListener | None:
    """The listener that keeps `cache` honest, started; None when caching is off (AUTH_CACHE_SECONDS=0, or
    behind PgBouncer in transaction pooling mode, where LISTEN cannot work)."""
    if settings.auth_cache_seconds <= 0 or settings.db_pgbouncer:
        return None
    listener = ChannelListener(
        settings, CHANNEL, on_notify=cache.forget, on_connected=cache.trust, on_lost=cache.distrust
    )
    listener.start()
    return listener
