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
"""

from __future__ import annotations

import logging
import time

import asyncpg

from service.auth import queries
from service.auth.current_user import CurrentUser
from service.config import Settings
from service.db.notifications import ChannelListener

log = logging.getLogger(__name__)

CHANNEL = "auth_changed"
EVERYONE = "*"


class TokenCache:
    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.generation = 0
        self.trusted = False  # the listener is connected and the triggers exist
        self._entries: dict[str, tuple[CurrentUser, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> CurrentUser | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        user, until = entry
        if time.monotonic() < until and user.claims is not None and time.time() < user.claims.expires_at:
            return user
        del self._entries[token]
        return None

    def put(self, token: str, user: CurrentUser, generation: int) -> None:
        """Keep a verification that started when `generation` was current, unless anything changed since."""
        if not self.trusted or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest (dicts keep insertion order)
        self._entries[token] = (user, time.monotonic() + self.seconds)

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
            log.info("token cache on: verified tokens are reused for %g s, forgotten on session changes",
                     self.seconds)
        else:
            log.warning("token cache off: the database does not announce session changes (migration "
                        "20261126000006 not applied); every request is verified against the database")


def listen_for_auth_changes(settings: Settings, cache: TokenCache) -> ChannelListener | None:
    """The listener that keeps `cache` honest, started; None when caching is off (AUTH_CACHE_SECONDS=0, or
    behind PgBouncer in transaction pooling mode, where LISTEN cannot work)."""
    if settings.auth_cache_seconds <= 0 or settings.db_pgbouncer:
        return None
    listener = ChannelListener(settings, CHANNEL, on_notify=cache.forget, on_connected=cache.trust,
                               on_lost=cache.distrust)
    listener.start()
    return listener
