"""Pages of the big lists (customers, products, pre-sales) kept per worker while the tables they read are unchanged.

A page of 100 pre-sales is 800 objects: ~4 ms of CPU between PostgreSQL (the rows and their wire text) and the
worker (decoding 8,000 values, assembling, encoding), and the web app loads the same pages again and again (the
dashboard and the pre-sales screen: bench/webapp_flow.py). A worker keeps each page it answered as its encoded
JSON, with the version of the tables it read; answering it again costs one indexed read of those versions.

The versions are kept by PostgreSQL (migration 20261206000004): every statement that writes to customers,
products, presales or presale_items raises its table's version in the same transaction, whoever runs it (this
service, another instance, psql, a bulk load). Never stale, with no notification and no time window:

- the versions are read *before* the page, so the page's snapshot is the same as theirs or later. A later one may
  hold changes the versions do not count; it is then kept under versions that have already moved on, and is
  never answered again (the next read sees higher versions: a miss);
- a kept page is answered only when the versions read now equal those it was kept under: nothing committed
  since then has written to a table it read, so reading it again would give the same rows. (Versions only
  grow, each write by a random amount so that a history counted again from zero does not meet them, and a later
  snapshot sees every commit an earlier one saw.)

What a page holds depends only on its key (the list, the query, and the caller's visibility where it narrows the
rows: the pre-sales' owner), never on who asks otherwise: permissions are checked before the cache is consulted.
Memory is bounded (PAGE_CACHE_MB per worker, least recently used pages go first); 0 turns the cache off.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from pypika import PostgreSQLQuery as Query
from pypika import Table
from pypika import functions as fn
from pypika.terms import Function

from service.db.pages import Total
from service.db.sql import P
from service.ops.metrics import PAGE_CACHE_LOOKUPS

table_versions = Table("table_versions")
# $1: the names of the tables a list reads. The sum of their versions: it moves whenever any of them changes.
VERSION = (
    Query.from_(table_versions)
    .select(fn.Coalesce(fn.Sum(table_versions.version), 0))
    .where(table_versions.table_name == Function("ANY", P[1]))
    .get_sql()
)

Page = tuple[Sequence[Any], Total]


class PageCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0  # bytes of the pages kept, with ENTRY_OVERHEAD each
        # key -> (versions it was read at, its encoded rows, its total); least recently used first
        self._pages: OrderedDict[Hashable, tuple[Decimal, bytes, Total]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    async def page(
        self,
        conn: asyncpg.Connection,
        name: str,
        key: Hashable,
        tables: Sequence[str],
        read: Callable[[], Awaitable[Page]],
    ) -> tuple[msgspec.Raw, Total]:
        """The rows of list `name` (already JSON, for the envelope) and its total: those kept under `key` while
        `tables` have not changed since they were read, else `read()`'s, kept for the next request."""
        if not self.max_bytes:
            return await _encoded(read)
        try:
            version: Decimal = await conn.fetchval(VERSION, tables)
        except asyncpg.UndefinedTableError:  # migration 20261206000004 not applied (yet, or rolled back)
            return await _encoded(read)
        key = (name, key)
        kept = self._pages.get(key)
        if kept is not None and kept[0] == version:
            self._pages.move_to_end(key)
            _counter(name, "hit").inc()
            return msgspec.Raw(kept[1]), kept[2]
        _counter(name, "miss").inc()
        rows, total = await read()
        body = msgspec.json.encode(rows)
        self._keep(key, (version, body, total))
        return msgspec.Raw(body), total

    def _keep(self, key: Hashable, page: tuple[Decimal, bytes, Total]) -> None:
        if _cost(page) > self.max_bytes:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self.size -= _cost(old)
        self._pages[key] = page
        self.size += _cost(page)
        while self.size > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self.size -= _cost(evicted)


# What an entry holds besides its body (its key, a query of at most a few hundred characters; the version; the
# dict's own node), counted generously: many distinct searches that match nothing (a 2-byte body each) must not
# hold millions of keys.
ENTRY_OVERHEAD = 1024


def _cost(page: tuple[Decimal, bytes, Total]) -> int:
    return len(page[1]) + ENTRY_OVERHEAD


@functools.cache
def _counter(name: str, result: str) -> Any:
    """The metric's child for a list and result, looked up once (a labels() call costs ~5 us)."""
    return PAGE_CACHE_LOOKUPS.labels(name, result)


async def _encoded(read: Callable[[], Awaitable[Page]]) -> tuple[msgspec.Raw, Total]:
    rows, total = await read()
    return msgspec.Raw(msgspec.json.encode(rows)), total
