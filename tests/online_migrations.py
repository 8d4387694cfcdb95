"""Plumbing for the tests of migrations applied while the service serves: `dbmate up` run as a release
pipeline runs it, and a migrations folder holding the project's migrations plus two new ones of the kinds
issue 12 names (a concurrent index, a nullable column), written by the README's rules."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from service.db.embedded import pg_bin_dir
from service.db.migrations import dbmate_binary, dbmate_url
from tests.conftest import MIGRATIONS_DIR

MIGRATION_7 = MIGRATIONS_DIR / "20261126000007_customer_sort_indexes.sql"
BUILD_LOCK = "pg_try_advisory_lock(hashtext('flowcrm: concurrent index builds'))"


def _sections(text: str) -> list[str]:
    """A migration file's up/down section pairs, comments left out."""
    text = "\n".join(line for line in text.splitlines() if "migrate:" in line or not line.startswith("--")) + "\n"
    starts = [match.start() for match in re.finditer(r"(?m)^-- migrate:up", text)]
    return [text[begin:end] for begin, end in zip(starts, [*starts[1:], len(text)], strict=True)]


# Migration 7's first section (settings, build lock) and last (INVALID check, reset): the template.
_FIRST, *_, _LAST = _sections(MIGRATION_7.read_text())

NEW_INDEX = "customers_phone_idx"
NEW_COLUMN = "nickname"
NEW_MIGRATIONS = {
    "20991231000001_test_customers_phone_index.sql": f"""{_FIRST}-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS {NEW_INDEX} ON customers (phone);
-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS {NEW_INDEX};

{_LAST}""",
    "20991231000002_test_customers_nickname.sql": f"""-- migrate:up
SET LOCAL lock_timeout = '5s';
ALTER TABLE customers ADD COLUMN {NEW_COLUMN} VARCHAR(255) NULL;
-- migrate:down
SET LOCAL lock_timeout = '5s';
ALTER TABLE customers DROP COLUMN {NEW_COLUMN};
""",
}


def migrations_with_new_ones(folder: Path) -> Path:
    """A copy of db/migrations plus the two new migrations."""
    shutil.copytree(MIGRATIONS_DIR, folder)
    for name, text in NEW_MIGRATIONS.items():
        (folder / name).write_text(text)
    return folder


def migrations_up_to(folder: Path, source: Path, last_version: str) -> Path:
    """A copy of `source` holding only the migrations up to `last_version` (to start a race half-way)."""
    folder.mkdir()
    for path in source.glob("*.sql"):
        if path.name.split("_")[0] <= last_version:
            shutil.copy(path, folder / path.name)
    return folder


@dataclass(frozen=True)
class PipelineRun:
    returncode: int
    output: str


def pipeline_command(database_url: str, migrations_dir: Path) -> tuple[list[str], dict[str, str]]:
    """Plain `dbmate up`, as a release pipeline runs it: no migration lock, no --strict, no schema dump."""
    env = {
        **os.environ,
        "DATABASE_URL": dbmate_url(database_url),
        "PATH": f"{pg_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return [
        dbmate_binary(),
        "--migrations-dir",
        str(migrations_dir),
        "--env-file",
        os.devnull,
        "--no-dump-schema",
        "up",
    ], env


async def run_pipeline(database_url: str, migrations_dir: Path) -> PipelineRun:
    command, env = pipeline_command(database_url, migrations_dir)
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = await process.communicate()
    return PipelineRun(process.returncode or 0, output.decode())


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def invalid_indexes(url: str) -> list[str]:
    rows = await fetch(url, "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid")
    return [row["name"] for row in rows]


async def applied_versions(url: str) -> list[str]:
    return [row["version"] for row in await fetch(url, "SELECT version FROM schema_migrations ORDER BY 1")]
