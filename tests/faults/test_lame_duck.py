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
        # Ready is one worker; a worker takes over SIGINT at the end of its start-up (granian then logs this).
        await wait_until(lambda: service.output().count("Started worker-") == 2, within=90, what="both workers started")
        workers = [int(pid) for pid in re.findall(r"Spawning worker-\d+ with PID: (\d+)", service.output())]
        assert len(workers) == 2, service.output()

        for pid in (service.process.pid, *workers):  # what a terminal's Ctrl-C does
            os.kill(pid, signal.SIGINT)

        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:

            async def draining() -> bool:
                return (await http.get("/health/ready")).status_code == 503

            await wait_until(draining, within=30, what="readiness answering 503")
            await wait_until(
                lambda: service.output().count("SIGINT ignored in worker process") == 2,
                within=30,
                what="both workers ignoring SIGINT",
            )

            # Still serving, on new connections too (both workers share the listening socket).
            for _ in range(20):
                async with httpx.AsyncClient(base_url=service.url, timeout=30) as fresh:
                    assert (await fresh.get("/api/test")).status_code == 200
            assert (await http.get("/health")).status_code == 200  # liveness stays 200 while draining
            assert (await http.get("/health/ready")).json()["status"] == "draining"
            output = service.output()
            assert service.process.poll() is None
            assert "Stopping worker" not in output and "Unexpected exit" not in output, output

        service.process.send_signal(signal.SIGINT)
        returncode = await asyncio.to_thread(service.process.wait, 60)  # far less than the 300 s delay
        output = service.output()
        assert returncode == 0, output
        assert "ending the shutdown delay early" in output
        assert output.count("database pool closed") == 2, output
    finally:
        service.stop()
