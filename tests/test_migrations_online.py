"""Migrations applied while others use the database (README, "Migrations while serving"): a migration that
cannot get its lock gives up within its lock_timeout instead of queueing the service's statements behind it;
an interrupted concurrent build is refused until its INVALID index is dropped; and two pipelines running plain
`dbmate up` at the same moment never apply a migration twice (what dbmate 2.37 does, from its source: it reads
the applied versions once, then runs each pending file's sections and INSERTs the version into
schema_migrations, whose primary key refuses a second insert; it takes a lock only with --migration-lock)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from service.db.migrations import MigrationRunner
from tests.conftest import MIGRATIONS_DIR
from tests.online_migrations import (
    BUILD_LOCK,
    NEW_COLUMN,
    NEW_INDEX,
    applied_versions,
    fetch,
    invalid_indexes,
    migrations_up_to,
    migrations_with_new_ones,
    run_pipeline,
)
from tests.support import admin_execute, unique_name, wait_until, with_database
from tests.test_migrations import ALL, snapshot

# Set up once per module (module-scoped fixtures): every test of the file runs on the same xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_migrations_online")]

GENEROUS = 120  # seconds: the machine may be slow; the lock_timeout under test is 5 s
# Migration 7 builds its indexes CONCURRENTLY; these tests make it pending again, with what came after it.
FROM_BUILD = ALL[ALL.index("20261126000007_customer_sort_indexes.sql") :]


async def waiting_for_lock_on(url: str, table: str) -> bool:
    rows = await fetch(
        url,
        "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = $1 AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND NOT l.granted",
        table,
    )
    return bool(rows)


async def test_a_migration_that_cannot_get_its_lock_gives_up_and_readers_go_on(empty_database_url: str) -> None:
    """Migration 4 adds a column to presales (ACCESS EXCLUSIVE). While a long transaction has read presales,
    the migration waits, and every reader arriving after it queues behind it; its lock_timeout ends that."""
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    runner.up()
    runner.rollback(len(ALL[3:]))  # migration 4 pending again (and every later one)
    holder = await asyncpg.connect(empty_database_url)
    reader = await asyncpg.connect(empty_database_url)
    try:
        await holder.execute("BEGIN; SELECT count(*) FROM presales")  # holds ACCESS SHARE until it ends
        migration = asyncio.create_task(run_pipeline(empty_database_url, MIGRATIONS_DIR))
        await wait_until(
            lambda: waiting_for_lock_on(empty_database_url, "presales"),
            within=GENEROUS,
            what="the migration waiting for its lock on presales",
        )
        # Queued behind the migration's lock request; freed when the migration gives up (5 s), while the
        # long transaction still holds its lock. Without a lock_timeout this would wait for that transaction.
        assert await asyncio.wait_for(reader.fetchval("SELECT count(*) FROM presales"), GENEROUS) == 0
        assert holder.is_in_transaction()  # the long transaction still holds its lock
        result = await asyncio.wait_for(migration, GENEROUS)
    finally:
        await holder.close()
        await reader.close()
    assert result.returncode != 0 and "lock timeout" in result.output, result.output
    assert runner.status().pending == ALL[3:]  # nothing of migration 4 is left half done
    assert (await fetch(empty_database_url, "SELECT to_regclass('payment_methods') AS t"))[0]["t"] is None
    assert runner.up() == ALL[3:]  # once the long transaction has ended, it applies


async def test_an_interrupted_concurrent_build_is_refused_until_its_invalid_index_is_dropped(
    empty_database_url: str,
) -> None:
    """Migration 7 builds CONCURRENTLY: the build waits for transactions writing to customers, and an open one
    outlasts its lock_timeout, so the build fails half-way and leaves an INVALID index. A rerun would skip that
    index (IF NOT EXISTS): the migration refuses to be recorded until it is dropped."""
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    runner.up()
    migrated = await snapshot(empty_database_url)
    runner.rollback(len(FROM_BUILD))
    writer = await asyncpg.connect(empty_database_url)
    try:
        await writer.execute(
            "BEGIN; INSERT INTO customers (name, email, phone, cpf) "
            "VALUES ('Open', 'open@example.com', '11987654321', '52998224725')"
        )
        interrupted = await asyncio.wait_for(run_pipeline(empty_database_url, MIGRATIONS_DIR), GENEROUS)
    finally:
        await writer.close()  # the transaction ends (rolled back)
    assert interrupted.returncode != 0 and "lock timeout" in interrupted.output, interrupted.output
    assert await invalid_indexes(empty_database_url) == ["customers_name_id_idx"]

    refused = await asyncio.wait_for(run_pipeline(empty_database_url, MIGRATIONS_DIR), GENEROUS)
    assert refused.returncode != 0, refused.output
    assert re.search(r"INVALID index customers_name_id_idx .*drop it concurrently", refused.output), refused.output
    assert runner.status().pending == FROM_BUILD

    conn = await asyncpg.connect(empty_database_url)
    try:
        await conn.execute("DROP INDEX CONCURRENTLY customers_name_id_idx")  # what the message asks for
    finally:
        await conn.close()
    fixed = await asyncio.wait_for(run_pipeline(empty_database_url, MIGRATIONS_DIR), GENEROUS)
    assert fixed.returncode == 0, fixed.output
    assert await snapshot(empty_database_url) == migrated


async def test_a_second_pipeline_fails_at_once_while_a_concurrent_build_runs(empty_database_url: str) -> None:
    """Waiting would deadlock with the build (README, "Two pipelines at the same moment"): it fails instead."""
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    runner.up()
    runner.rollback(len(FROM_BUILD))
    building = await asyncpg.connect(empty_database_url)  # holds the build lock, as the first pipeline's build
    try:
        assert await building.fetchval(f"SELECT {BUILD_LOCK}")
        second = await asyncio.wait_for(run_pipeline(empty_database_url, MIGRATIONS_DIR), GENEROUS)
    finally:
        await building.close()
    assert second.returncode != 0 and "another migration is building indexes concurrently" in second.output
    assert runner.status().pending == FROM_BUILD
    assert not await fetch(empty_database_url, "SELECT 1 FROM pg_indexes WHERE indexname = 'customers_name_id_idx'")
    assert (await run_pipeline(empty_database_url, MIGRATIONS_DIR)).returncode == 0  # once the build is over


# Why the loser of a race may fail; each leaves its own transaction rolled back or its statement skipped.
CLEAN_FAILURES = re.compile(
    r'duplicate key value violates unique constraint "schema_migrations_pkey"'  # the other recorded it first
    r"|already exists \(42\w{3}\)"  # the other's DDL committed first (type, table, function, trigger...)
    r"|duplicate key value violates unique constraint \"pg_\w+_index\""  # ...or committed while this one waited
    r"|lock timeout \(55P03\)"  # the other held the lock longer than lock_timeout
    r"|deadlock detected \(40P01\)"
    r"|tuple concurrently (updated|deleted)"  # both changed the same catalog row; this one's transaction lost
    r"|another migration is building indexes concurrently"  # the other holds the build lock
    r"|INVALID index"
)  # the other's concurrent build was still running


@pytest.fixture(scope="module")
def new_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrations_with_new_ones(tmp_path_factory.mktemp("race") / "migrations")


@pytest.fixture(scope="module")
def reference_schema(server_url: str, new_migrations: Path) -> Iterator[dict]:
    """The schema one `dbmate up` alone makes of the same folder."""
    name = unique_name("flowcrm_reference")
    url = with_database(server_url, name)
    MigrationRunner(url, new_migrations).up()
    try:
        yield asyncio.run(snapshot(url))
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    "already_applied",
    [None, "20261126000006", "20261126000007"],
    ids=["from-empty", "race-on-the-concurrent-indexes", "race-on-index-then-column"],
)
async def test_two_pipelines_at_once_apply_each_migration_once(
    empty_database_url: str, new_migrations: Path, reference_schema: dict, already_applied: str | None, tmp_path: Path
) -> None:
    if already_applied:
        MigrationRunner(empty_database_url, migrations_up_to(tmp_path / "first", new_migrations, already_applied)).up()

    first, second = await asyncio.wait_for(
        asyncio.gather(
            run_pipeline(empty_database_url, new_migrations), run_pipeline(empty_database_url, new_migrations)
        ),
        GENEROUS * 2,
    )

    assert 0 in (first.returncode, second.returncode), f"{first.output}\n----\n{second.output}"
    for run in (first, second):
        if run.returncode != 0:
            assert CLEAN_FAILURES.search(run.output), run.output
    every_version = sorted(path.name.split("_")[0] for path in new_migrations.glob("*.sql"))
    assert await applied_versions(empty_database_url) == every_version  # each once (and all of them)
    assert await invalid_indexes(empty_database_url) == []
    assert await snapshot(empty_database_url) == reference_schema
    column = await fetch(
        empty_database_url,
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'customers' AND column_name = $1",
        NEW_COLUMN,
    )
    assert column and NEW_INDEX in {row[1] for row in reference_schema["indexes"]}


def test_flowcrm_db_up_waits_for_the_other_and_finds_nothing_to_do(
    empty_database_url: str, new_migrations: Path, reference_schema: dict, tmp_path: Path
) -> None:
    """`flowcrm db up` takes a lock of its own: of two at once (here both with concurrent index builds to do),
    one applies everything, the other waits for it, and neither build deadlocks with the waiter."""
    MigrationRunner(empty_database_url, migrations_up_to(tmp_path / "first", new_migrations, "20261126000006")).up()
    applied: list[list[str]] = []
    runners = [
        threading.Thread(target=lambda: applied.append(MigrationRunner(empty_database_url, new_migrations).up()))
        for _ in range(2)
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=GENEROUS * 2)
    pending = sorted(path.name for path in new_migrations.glob("*.sql") if path.name > "20261126000006_~")
    assert sorted(applied, key=len) == [[], pending]
    assert asyncio.run(snapshot(empty_database_url)) == reference_schema


def test_flowcrm_db_up_creates_a_missing_database(server_url: str) -> None:
    name = unique_name("flowcrm_missing")
    url = with_database(server_url, name)
    try:
        assert MigrationRunner(url, MIGRATIONS_DIR).up() == ALL
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
