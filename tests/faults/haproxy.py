"""A real HAProxy in front of service instances, for the rolling-restart test (README, "Shutdown and load
balancers"). Debian package `haproxy`; CI installs it (.ci/run) and sets REQUIRE_HAPROXY=1 so a missing
binary fails there instead of skipping."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.faults.conftest import terminate
from tests.support import free_port, wait_until


def haproxy_binary() -> str:
    """The haproxy executable; skips the test when it is missing, fails instead when REQUIRE_HAPROXY=1."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        message = "haproxy is not installed (Debian package `haproxy`; .ci/run installs it)"
        if os.environ.get("REQUIRE_HAPROXY") == "1":
            pytest.fail(message + " and REQUIRE_HAPROXY=1")
        pytest.skip(message)
    return found


def config(servers: dict[str, int], port: int, stats_port: int, *, retries: int = 0, redispatch: bool = False) -> str:
    """HTTP mode, loopback only, readiness checked every 500 ms (fall 2, rise 2). `retries 0` and no
    redispatch by default: HAProxy passes every failed attempt on, as Kubernetes Services and most cloud
    balancers do. Each answer names the server that gave it (X-Served-By)."""
    lines = [
        "global",
        f"    stats socket ipv4@127.0.0.1:{stats_port} level admin",
        "    maxconn 500",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout check 5s",
        f"    retries {retries}",
        *(["    option redispatch"] if redispatch else []),
        "frontend api",
        f"    bind 127.0.0.1:{port}",
        "    default_backend flowcrm",
        "backend flowcrm",
        "    balance roundrobin",
        "    option httpchk GET /health/ready",
        "    http-check expect status 200",
        "    http-response set-header X-Served-By %s",
        *(
            f"    server {name} 127.0.0.1:{server_port} check inter 500ms fall 2 rise 2"
            for name, server_port in servers.items()
        ),
    ]
    return "\n".join(lines) + "\n"


class HAProxy:
    """`haproxy -db` (foreground) with the config above; `status()` reads its stats socket."""

    def __init__(self, directory: Path, servers: dict[str, int], *, retries: int = 0, redispatch: bool = False) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        config_path = directory / "haproxy.cfg"
        config_path.write_text(config(servers, self.port, self.stats_port, retries=retries, redispatch=redispatch))
        self.log_path = directory / "haproxy.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(config_path)], stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def status(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it ("UP", "DOWN", "UP 1/2" while going down, ...)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.stats_port)
        try:
            writer.write(b"show stat\n")
            await writer.drain()
            text = (await reader.read()).decode()  # the socket closes after one command
        finally:
            writer.close()
        rows = list(csv.DictReader(text.lstrip("# ").splitlines()))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "flowcrm" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    async def wait_status(self, server: str, status: str, *, within: float = 60) -> None:
        async def reached() -> bool:
            assert self.process.poll() is None, f"haproxy exited:\n{self.log_path.read_text()}"
            try:
                return (await self.status()).get(server) == status
            except OSError:  # the stats socket is not listening yet
                return False

        await wait_until(reached, within=within, interval=0.05, what=f"HAProxy seeing {server} {status}")

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()
