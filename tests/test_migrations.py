"""Migrations by dbmate: up, idempotent up, rollback of every step, identical re-apply, reference DDL,
schema.sql drift and a failing migration."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import asyncpg
import pytest

from service.db.migrations import MigrationError, MigrationRunner
from tests.conftest import MIGRATIONS_DIR, ROOT
from tests.support import admin_execute_async, unique_name, with_database

ALL = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))

# A catalog snapshot: every user-visible object of the public schema, so two schemas compare exactly.
SNAPSHOT_QUERIES = {
    "columns": """SELECT table_name, column_name, ordinal_position, data_type, udt_name, character_maximum_length,
                         numeric_precision, numeric_scale, is_nullable, column_default
                  FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 3""",
    "constraints": """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "types": """SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
                FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1""",
    "functions": "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
    "triggers": "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2",
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
}


async def snapshot(url: str, only: str | None = None) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(url)
    try:
        result = {}
        for name, query in SNAPSHOT_QUERIES.items():
            if only and name != only:
                continue
            result[name] = [
                tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in await conn.fetch(query)
            ]
        return result
    finally:
        await conn.close()


def test_up_applies_all_then_is_a_no_op(empty_database_url: str) -> None:
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    assert runner.status().pending == ALL
    assert runner.up() == ALL
    assert runner.up() == []
    status = runner.status()
    assert status.applied == ALL and status.pending == [] and status.last_applied == ALL[-1]


async def test_rollback_every_migration_then_reapply_gives_identical_schema(empty_database_url: str) -> None:
    runner = MigrationRunner(empty_database_url, MIGRATIONS_DIR)
    runner.up()
    first = await snapshot(empty_database_url)

    for expected in reversed(ALL):  # one step at a time: each down section works on its own
        assert runner.rollback() == [expected]
    assert runner.status().applied == []
    assert runner.rollback() == []  # nothing left to roll back

    empty = await snapshot(empty_database_url)
    assert [row[0] for row in empty["columns"]] == ["schema_migrations"]
    assert empty["types"] == [] and empty["functions"] == [] and empty["triggers"] == []
    assert empty["extensions"] == [("plpgsql",)]
    assert {row[1] for row in empty["indexes"]} == {"schema_migrations_pkey"}

    assert runner.up() == ALL
    assert await snapshot(empty_database_url) == first


async def test_schema_contains_reference_ddl_exactly(server_url: str, database_url: str) -> None:
    reference_db = unique_name("flowcrm_reference")
    await admin_execute_async(server_url, f'CREATE DATABASE "{reference_db}"')
    try:
        reference_url = with_database(server_url, reference_db)
        conn = await asyncpg.connect(reference_url)
        try:
            await conn.execute((ROOT / "tests" / "data" / "reference-schema.sql").read_text())
        finally:
            await conn.close()
        reference = await snapshot(reference_url)
        ours = await snapshot(database_url)
    finally:
        await admin_execute_async(server_url, f'DROP DATABASE IF EXISTS "{reference_db}" WITH (FORCE)')

    our_columns = {(row[0], row[1]): row for row in ours["columns"]}
    for column in reference["columns"]:  # same position, type, length, precision, nullability, default
        assert our_columns.get((column[0], column[1])) == column
    assert set(reference["constraints"]) <= set(ours["constraints"])  # keys, uniques, FKs (CASCADE)
    assert set(reference["types"]) <= set(ours["types"])


def normalised_dump(text: str) -> list[str]:
    """pg_dump output without comments, blank lines and per-server noise (column storage options)."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("--"):
            continue
        if re.search(r"SET \(pg_attver=\d+\)", line):  # a per-column option some servers add
            continue
        lines.append(line)
    return lines


def test_committed_schema_sql_matches_the_migrations(database_url: str, tmp_path: Path) -> None:
    dumped = tmp_path / "schema.sql"
    MigrationRunner(database_url, MIGRATIONS_DIR, schema_file=dumped).dump()
    committed = (ROOT / "db" / "schema.sql").read_text()
    assert normalised_dump(dumped.read_text()) == normalised_dump(committed), (
        "db/schema.sql is out of date: run `flowcrm db dump` on a freshly migrated database and commit it"
    )


async def test_failing_migration_leaves_database_unchanged_and_says_why(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "20991231000000_broken.sql").write_text(
        "-- migrate:up\nCREATE TABLE half_done (id int);\nALTER TABLE customers ADD COLUMN x no_such_type;\n"
        "-- migrate:down\nDROP TABLE half_done;\n"
    )
    runner = MigrationRunner(empty_database_url, migrations)
    with pytest.raises(MigrationError, match="no_such_type"):
        runner.up()
    status = runner.status()
    assert status.applied == ALL  # the good ones landed, each in its own transaction
    assert status.pending == ["20991231000000_broken.sql"]
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.half_done')") is None
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'customers' AND column_name = 'x'"
            )
            == 0
        )
    finally:
        await conn.close()
