"""Fault 8: Ctrl-C in a terminal, i.e. SIGINT to the main process AND every worker (the whole process group).

Promise (service/ops/shutdown.py): readiness answers 503 at once, the workers ignore their SIGINT and go on
serving through the shutdown delay, and a second SIGINT to the main process ends the delay early: the
service then stops as usual (pools closed in both workers) and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import ServiceProcess
from tests.support import wait_until

LONG_DELAY = "300"  # never reached: the second signal ends it


@pytest.mark.slow
async def test_ctrl_c_drains_with_every_worker_serving_and_a_second_one_stops_at_once(
    fault_database_url: str, tmp_path: Path
) -> None:
    service = ServiceProcess(fault_database_url, tmp_path / "serve.log", workers=2, SHUTDOWN_DELAY_SECONDS=LONG_DELAY)
    try:
        await service.wait_ready(within=90)
        await wait_until(lambda: len(worker_pids(service)) == 2, within=90, what="both workers spawned")
        workers = worker_pids(service)
        # The condition the promise rests on, read from the kernel: a worker ignores SIGINT once its startup
        # hook has run (a log line such as granian's "Started worker-N" does not say that the signal is handled).
        await wait_until(lambda: all(ignores_sigint(pid) for pid in workers), within=90, what="workers ignoring SIGINT")

        for pid in (service.process.pid, *workers):  # what a terminal's Ctrl-C does
            os.kill(pid, signal.SIGINT)

        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:

            async def draining() -> bool:
                return (await http.get("/health/ready")).status_code == 503

            await wait_until(draining, within=30, what="readiness answering 503")

            # Still serving, on new connections too (both workers share the listening socket).
            for _ in range(20):
                async with httpx.AsyncClient(base_url=service.url, timeout=30) as fresh:
                    assert (await fresh.get("/api/test")).status_code == 200
            assert (await http.get("/health")).status_code == 200  # liveness stays 200 while draining
            assert (await http.get("/health/ready")).json()["status"] == "draining"
            output = service.output()
            assert service.process.poll() is None
            assert "Stopping worker" not in output and "Unexpected exit" not in output, output
            assert worker_pids(service) == workers and all(alive(pid) for pid in workers), output  # none respawned

        service.process.send_signal(signal.SIGINT)
        returncode = await asyncio.to_thread(service.process.wait, 60)  # far less than the 300 s delay
        output = service.output()
        assert returncode == 0, output
        assert "ending the shutdown delay early" in output
        assert output.count("database pool closed") == 2, output
    finally:
        service.stop()


def worker_pids(service: ServiceProcess) -> list[int]:
    return [int(pid) for pid in re.findall(r"Spawning worker-\d+ with PID: (\d+)", service.output())]


def ignores_sigint(pid: int) -> bool:
    """Whether the process's SIGINT disposition is SIG_IGN: bit SIGINT-1 of the SigIgn mask in /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
    return bool(mask >> (signal.SIGINT - 1) & 1)


def alive(pid: int) -> bool:
    """Running, not exited: a worker that has exited stays a zombie until granian reaps it."""
    try:
        return re.search(r"^State:\s*Z", Path(f"/proc/{pid}/status").read_text(), re.M) is None
    except FileNotFoundError:
        return False
