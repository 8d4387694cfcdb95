"""The system user the embedded PostgreSQL runs as when started by root (service/db/embedded.py)."""

from __future__ import annotations

import multiprocessing
import os
import pwd
import subprocess
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest

from service.db.embedded import ensure_system_user


def _add(name: str, start: Barrier, uids: Queue[int]) -> None:
    start.wait()  # every process asks at once
    uids.put(ensure_system_user(name).pw_uid)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root adds the system user (as CI and a root `flowcrm serve` do)")
def test_processes_adding_the_missing_user_at_once_all_get_the_user_that_remains() -> None:
    """The test suite's workers start at once on a new machine: two concurrent useradd each added the user with
    its own uid, the last one kept, and the other worker's data directory went to a uid that no longer existed."""
    name = f"flowcrm_t{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork")
    start, uids = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_add, args=(name, start, uids)) for _ in range(4)]
    try:
        for process in processes:
            process.start()
        seen = {uids.get(timeout=60) for _ in processes}
        for process in processes:
            process.join(60)
            assert process.exitcode == 0
        assert seen == {pwd.getpwnam(name).pw_uid}
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
