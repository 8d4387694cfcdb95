"""Rules every migration file follows so that it can be applied while the service serves traffic (README,
"Migrations while serving"). They are read from the files as dbmate reads them, so a new migration that breaks
one fails here before it reaches a pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MIGRATIONS_DIR

MAX_LOCK_TIMEOUT_SECONDS = 10

# Migrations 1-6 predate this rule and are kept as they ran: they index tables that migrations of the same first
# release created (empty then). Every later one builds an index on an existing table CONCURRENTLY.
FIRST_RELEASE = "20261126000006"

# dbmate's own directives (pkg/dbmate/migration.go): a file is a list of up/down section pairs.
UP = re.compile(r"(?m)^--\s*migrate:up(\s*$|\s+\S+)")
DOWN = re.compile(r"(?m)^--\s*migrate:down(\s*$|\s+\S+)")
SET_LOCAL_LOCK_TIMEOUT = re.compile(r"^SET\s+LOCAL\s+lock_timeout\s*=\s*'(\d+)s'\s*;", re.IGNORECASE)
SET_LOCK_TIMEOUT = re.compile(r"^SET\s+lock_timeout\s*=\s*'(\d+)s'\s*;", re.IGNORECASE)
CONCURRENTLY = re.compile(r"(?m)^\s*(CREATE|DROP|REINDEX)\b[^;]*\bCONCURRENTLY\b", re.IGNORECASE)
CREATE_CONCURRENTLY = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", re.IGNORECASE)
PLAIN_CREATE_INDEX = re.compile(
    r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b)(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON\s+(?:ONLY\s+)?(\w+)",
    re.IGNORECASE,
)
CREATE_TABLE = re.compile(r"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
VALIDITY_CHECK = "NOT indisvalid"
BUILD_LOCK = "pg_try_advisory_lock(hashtext('flowcrm: concurrent index builds'))"
NO_STATEMENT_TIMEOUT = re.compile(r"^SET\s+statement_timeout\s*=\s*0\s*;", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Section:
    sql: str  # comments and blank lines removed
    transaction: bool


def without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if line.strip() and not line.lstrip().startswith("--"))


def block(text: str) -> Section:
    directive = text.splitlines()[0]
    return Section(sql=without_comments(text), transaction="transaction:false" not in directive)


def sections(path: Path) -> tuple[list[Section], list[Section]]:
    """The up sections in the order `dbmate up` runs them, and the down sections in the order rollback does."""
    text = path.read_text()
    starts = [match.start() for match in UP.finditer(text)] + [len(text)]
    ups, downs = [], []
    for begin, end in zip(starts, starts[1:], strict=False):
        pair = text[begin:end]
        down = DOWN.search(pair)
        assert down, f"{path.name}: every migrate:up section has its migrate:down"
        ups.append(block(pair[: down.start()]))
        downs.append(block(pair[down.start() :]))
    return ups, downs[::-1]


FILES = sorted(MIGRATIONS_DIR.glob("*.sql"))
DIRECTIONS = [
    pytest.param(path, direction, id=f"{path.stem}-{direction}") for path in FILES for direction in ("up", "down")
]


def run_order(path: Path, direction: str) -> list[Section]:
    ups, downs = sections(path)
    return ups if direction == "up" else downs


@pytest.mark.parametrize(("path", "direction"), DIRECTIONS)
def test_every_section_runs_under_a_short_lock_timeout(path: Path, direction: str) -> None:
    """A transactional section starts with SET LOCAL lock_timeout (it ends with its transaction); a
    transaction:false section runs on a connection whose lock_timeout an earlier section of the same file and
    direction (or its own first statement) has set."""
    session_timeout = False
    for number, section in enumerate(run_order(path, direction), 1):
        where = f"{path.name}, {direction} section {number}"
        if section.transaction:
            match = SET_LOCAL_LOCK_TIMEOUT.match(section.sql)
            assert match, f"{where}: begin with SET LOCAL lock_timeout = '5s';"
        else:
            match = SET_LOCK_TIMEOUT.match(section.sql)
            if not match:
                assert session_timeout, f"{where}: set the connection's lock_timeout in a section before this one"
                continue
            session_timeout = True
        assert int(match.group(1)) <= MAX_LOCK_TIMEOUT_SECONDS, f"{where}: the lock_timeout is not short"


@pytest.mark.parametrize(("path", "direction"), DIRECTIONS)
def test_concurrent_statements_stand_alone_and_can_be_repeated(path: Path, direction: str) -> None:
    """PostgreSQL runs CONCURRENTLY only as the single statement of a transaction:false section; a rerun after
    an interruption (or a second pipeline) repeats it, so it is IF [NOT] EXISTS; and since an interrupted build
    leaves an INVALID index that IF NOT EXISTS would then skip, no statement_timeout may cut a build short and
    a later section checks that no INVALID index is left. A second pipeline waiting for a build would hold a
    snapshot the build waits for (a deadlock): an earlier section takes the build lock, or fails at once."""
    order = run_order(path, direction)
    for number, section in enumerate(order, 1):
        if not CONCURRENTLY.search(section.sql):
            continue
        where = f"{path.name}, {direction} section {number}"
        assert not section.transaction, f"{where}: CONCURRENTLY needs transaction:false"
        assert ";" not in section.sql.rstrip().rstrip(";"), f"{where}: CONCURRENTLY must be the only statement"
        assert re.search(r"\bIF\s+(NOT\s+)?EXISTS\b", section.sql, re.IGNORECASE), f"{where}: add IF [NOT] EXISTS"
        if CREATE_CONCURRENTLY.search(section.sql):
            assert any(VALIDITY_CHECK in later.sql for later in order[number:]), (
                f"{where}: a later section must refuse to finish while an INVALID index is left"
            )
            assert any(NO_STATEMENT_TIMEOUT.search(earlier.sql) for earlier in order[:number]), (
                f"{where}: SET statement_timeout = 0 first (a timeout would leave the index INVALID)"
            )
        assert any(BUILD_LOCK in earlier.sql for earlier in order[: number - 1]), (
            f"{where}: take the build lock in a section before (a second pipeline must fail, not wait)"
        )


@pytest.mark.parametrize(
    "path", [path for path in FILES if path.name.split("_")[0] > FIRST_RELEASE], ids=lambda path: path.stem
)
def test_indexes_on_existing_tables_are_built_concurrently(path: Path) -> None:
    """A plain CREATE INDEX locks writes to its table for the whole build: only a table the same migration
    creates (empty, unseen by the service) may be indexed that way."""
    text = without_comments(path.read_text())
    created = {name.lower() for name in CREATE_TABLE.findall(text)}
    for table in PLAIN_CREATE_INDEX.findall(text):
        assert table.lower() in created, f"{path.name}: build the index on {table} CONCURRENTLY"


def test_the_rules_see_what_they_check() -> None:
    """The parser finds migration 7's six sections, and the plain-index rule catches what it should."""
    ups, downs = sections(MIGRATIONS_DIR / "20261126000007_customer_sort_indexes.sql")
    assert len(ups) == len(downs) == 6 and not any(section.transaction for section in ups + downs)
    assert PLAIN_CREATE_INDEX.findall("CREATE INDEX IF NOT EXISTS a_idx ON ONLY things (x);") == ["things"]
    assert PLAIN_CREATE_INDEX.findall("CREATE UNIQUE INDEX CONCURRENTLY a_idx ON things (x);") == []
