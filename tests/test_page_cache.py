"""Pages of the big lists kept per worker while their tables are unchanged (service/db/page_cache.py, migration
20261206000004): answered again from memory, and never once any table they read has changed, whoever changed it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
import httpx
import msgspec
import pytest
from prometheus_client import REGISTRY

from service.config import Settings
from service.db.page_cache import ENTRY_OVERHEAD, PageCache
from service.db.pages import Total
from tests.factories import bearer, create_customer, create_presale, create_product, create_user
from tests.presales.helpers import body, create, item


def hits(name: str) -> float:
    return REGISTRY.get_sample_value("flowcrm_page_cache_lookups_total", {"list": name, "result": "hit"}) or 0.0


async def listed(client: httpx.AsyncClient, headers: dict, path: str) -> dict:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    page: dict = response.json()
    return page


async def answered_again(client: httpx.AsyncClient, headers: dict, path: str, name: str) -> dict:
    """The page, asked for twice: the second answer comes from the cache and equals the first."""
    first = await listed(client, headers, path)
    before = hits(name)
    second = await listed(client, headers, path)
    assert hits(name) == before + 1, "the second request did not come from the cache"
    assert second["data"] == first["data"] and second["pagination"] == first["pagination"]
    return second


async def test_a_customers_page_is_answered_again_until_any_write_to_customers(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    path = "/api/customers?limit=100"
    await create_customer(db, name="Ana Silva")
    assert [c["name"] for c in (await answered_again(client, admin_headers, path, "customers"))["data"]] == [
        "Ana Silva"
    ]

    # Writes outside the API (psql, another instance): insert, update, delete, truncate.
    bruno = await create_customer(db, name="Bruno Costa")
    page = await answered_again(client, admin_headers, path, "customers")
    assert [c["name"] for c in page["data"]] == ["Ana Silva", "Bruno Costa"] and page["pagination"]["total"] == 2
    await db.execute("UPDATE customers SET phone = '(11) 98888-0000' WHERE id = $1", bruno["id"])
    page = await answered_again(client, admin_headers, path, "customers")
    assert [c["phone"] for c in page["data"] if c["name"] == "Bruno Costa"] == ["(11) 98888-0000"]
    await db.execute("DELETE FROM customers WHERE id = $1", bruno["id"])
    assert [c["name"] for c in (await answered_again(client, admin_headers, path, "customers"))["data"]] == [
        "Ana Silva"
    ]
    await db.execute("TRUNCATE customers CASCADE")
    assert (await listed(client, admin_headers, path))["data"] == []

    # And through the API.
    created = await client.post(
        "/api/customers",
        json={"name": "Carla Dias", "email": "carla@example.com", "phone": "(11) 97777-0000", "cpf": "52998224725"},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert [c["name"] for c in (await listed(client, admin_headers, path))["data"]] == ["Carla Dias"]


async def test_another_query_is_another_page(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    for name in ("Ana Silva", "Bruno Costa", "Carla Silva"):
        await create_customer(db, name=name)
    every = await answered_again(client, admin_headers, "/api/customers?limit=100", "customers")
    silvas = await answered_again(client, admin_headers, "/api/customers?limit=100&search=silva", "customers")
    second = await listed(client, admin_headers, "/api/customers?limit=1&page=2")
    assert [c["name"] for c in every["data"]] == ["Ana Silva", "Bruno Costa", "Carla Silva"]
    assert [c["name"] for c in silvas["data"]] == ["Ana Silva", "Carla Silva"]
    assert [c["name"] for c in second["data"]] == ["Bruno Costa"] and second["pagination"]["page"] == 2


async def test_a_products_page_follows_its_stock(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    product = await create_product(db, stock=5)
    path = "/api/products?page=1&limit=100"
    assert [p["stock"] for p in (await answered_again(client, admin_headers, path, "products"))["data"]] == [5]
    await db.execute("UPDATE products SET stock = 7 WHERE id = $1", product["id"])
    assert [p["stock"] for p in (await answered_again(client, admin_headers, path, "products"))["data"]] == [7]


async def test_a_presales_page_follows_every_table_it_shows(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db, name="Ana Silva")
    product = await create_product(db, name="Arroz 5 kg")
    presale = await create_presale(db, customer["id"], [(product["id"], Decimal("2"), Decimal("10.00"))])
    path = "/api/presales?limit=100"

    async def only() -> dict:
        page = await answered_again(client, admin_headers, path, "presales")
        assert len(page["data"]) == 1
        shown: dict = page["data"][0]
        return shown

    assert (await only())["customer"]["name"] == "Ana Silva"
    await db.execute("UPDATE customers SET name = 'Ana Souza' WHERE id = $1", customer["id"])
    assert (await only())["customer"]["name"] == "Ana Souza"
    await db.execute("UPDATE products SET name = 'Arroz 1 kg' WHERE id = $1", product["id"])
    assert (await only())["items"][0]["product"]["name"] == "Arroz 1 kg"
    await db.execute("UPDATE presale_items SET quantity = 3 WHERE presale_id = $1", presale["id"])
    assert (await only())["items"][0]["quantity"] == "3.000"
    await db.execute("UPDATE presales SET notes = 'entregar amanhã' WHERE id = $1", presale["id"])
    assert (await only())["notes"] == "entregar amanhã"

    # A pre-sale created through the API shows at once.
    await create(client, admin_headers, body(customer, item(product)))
    assert (await listed(client, admin_headers, path))["pagination"]["total"] == 2


async def test_a_presales_page_is_kept_for_each_owner_apart(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    customer = await create_customer(db)
    product = await create_product(db)
    seller, other = await create_user(db, "employee"), await create_user(db, "employee")  # own pre-sales only
    manager = await create_user(db, "manager")  # every pre-sale
    seller_h, other_h, manager_h = (bearer(settings, user) for user in (seller, other, manager))
    own = await create(client, seller_h, body(customer, item(product)))
    theirs = await create(client, other_h, body(customer, item(product)))

    for headers, expected in ((seller_h, [own["id"]]), (other_h, [theirs["id"]])):
        page = await answered_again(client, headers, "/api/presales", "presales")
        assert [p["id"] for p in page["data"]] == expected
    every = await answered_again(client, manager_h, "/api/presales", "presales")
    assert sorted(p["id"] for p in every["data"]) == sorted([own["id"], theirs["id"]])


async def test_a_rolled_back_or_empty_write_keeps_the_page(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    await create_customer(db, name="Ana Silva")
    path = "/api/customers"
    await listed(client, admin_headers, path)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.execute("UPDATE customers SET name = 'Nobody'")
            raise RuntimeError("rolled back")
    await db.execute("DELETE FROM customers WHERE name = 'No such name'")
    await db.execute("UPDATE customers SET name = 'x' WHERE false")
    page = await answered_again(client, admin_headers, path, "customers")  # the kept page: nothing changed
    assert [c["name"] for c in page["data"]] == ["Ana Silva"]


async def test_versions_counted_again_from_zero_do_not_meet_a_kept_page(
    client: httpx.AsyncClient, admin_headers: dict, db: asyncpg.Connection
) -> None:
    """The versions emptied (or the migration rolled back and applied again, or an older backup restored) and then
    as many writes again: a kept page of before must not come back (each write raises by a random amount)."""
    path = "/api/customers"
    await db.execute("DELETE FROM table_versions")
    customer = await create_customer(db, name="Ana Silva")
    await listed(client, admin_headers, path)  # kept, read after one write
    await db.execute("DELETE FROM table_versions")
    await db.execute("UPDATE customers SET name = 'Ana Souza' WHERE id = $1", customer["id"])  # one write again
    assert [c["name"] for c in (await listed(client, admin_headers, path))["data"]] == ["Ana Souza"]


# --- the cache itself, on a real connection -----------------------------------------------------------------


def reader(rows: list[dict], total: int) -> tuple[Callable[[], Awaitable[tuple[list[dict], Total]]], list[int]]:
    calls: list[int] = []

    async def read() -> tuple[list[dict], Total]:
        calls.append(1)
        return rows, Total(total)

    return read, calls


async def test_memory_is_bounded_least_recently_used_first(db: asyncpg.Connection) -> None:
    await create_customer(db)
    row = {"name": "x" * 100}
    size = len(msgspec.json.encode([row])) + ENTRY_OVERHEAD
    cache = PageCache(max_bytes=2 * size)
    read, calls = reader([row], 1)
    for key in ("a", "b", "a", "c"):  # "c" pushes out "b", the least recently used
        raw, total = await cache.page(db, "customers", key, ("customers",), read)
        assert msgspec.json.decode(raw) == [row] and total == Total(1)
    assert len(calls) == 3 and len(cache) == 2 and cache.size == 2 * size
    await cache.page(db, "customers", "a", ("customers",), read)
    assert len(calls) == 3  # still kept
    await cache.page(db, "customers", "b", ("customers",), read)
    assert len(calls) == 4  # was pushed out
    too_big, _ = reader([{"name": "y" * 3000}], 1)
    await cache.page(db, "customers", "d", ("customers",), too_big)
    assert len(cache) == 2 and cache.size <= 2 * size  # a page larger than the whole cache is not kept


async def test_many_empty_pages_hold_a_bounded_number_of_keys(db: asyncpg.Connection) -> None:
    cache = PageCache(max_bytes=64 * ENTRY_OVERHEAD)
    read, _ = reader([], 0)  # a search that matches nothing: a 2-byte body
    for n in range(1000):
        await cache.page(db, "customers", f"search {n}", ("customers",), read)
    assert len(cache) < 64 and cache.size <= 64 * ENTRY_OVERHEAD


async def test_zero_megabytes_turns_it_off(db: asyncpg.Connection) -> None:
    cache = PageCache(max_bytes=0)
    read, calls = reader([{"id": "1"}], 1)
    for _ in range(3):
        raw, _ = await cache.page(db, "customers", "a", ("customers",), read)
        assert msgspec.json.decode(raw) == [{"id": "1"}]
    assert len(calls) == 3 and len(cache) == 0


async def test_without_the_migration_pages_are_read_every_time(db: asyncpg.Connection) -> None:
    cache = PageCache(max_bytes=1 << 20)
    read, calls = reader([{"id": "1"}], 1)
    await db.execute("CREATE SCHEMA before_migration; SET search_path = before_migration")
    try:
        for _ in range(2):
            raw, _ = await cache.page(db, "customers", "a", ("customers",), read)
            assert msgspec.json.decode(raw) == [{"id": "1"}]
    finally:
        await db.execute("RESET search_path; DROP SCHEMA before_migration")
    assert len(calls) == 2 and len(cache) == 0
