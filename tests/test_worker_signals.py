"""A SIGTERM that reaches a granian worker while it starts (service/ops/shutdown.py) must stop it: before its own
handlers are set (it inherits the main process's), and between its lifespan startup and serving (granian's worker
runs its uvloop twice, and uvloop parks a signal that arrives while its loop is not running). Either, missed, left
a worker serving until it was killed at the shutdown timeout. Each is replayed in a child process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

# The worker's loop, as granian's worker runs it: the loop's SIGTERM handler, the lifespan startup (with the
# service's hook, or without it), the signal in between, then serving.
WORKER = """
import asyncio, os, signal, sys
import uvloop
os.environ["FLOWCRM_DRAIN_FILE"] = "/nonexistent"  # as under flowcrm serve
from service.ops.shutdown import prepare_worker_signals

loop = uvloop.new_event_loop()
asyncio.set_event_loop(loop)
stops = []
stopped = asyncio.Event()

def stop():  # granian's worker: sets its shutdown event
    stops.append("stop")
    stopped.set()

loop.add_signal_handler(signal.SIGTERM, stop)

async def lifespan_startup():
    if sys.argv[1] == "with the hook":
        prepare_worker_signals()

async def serving():
    try:
        await asyncio.wait_for(stopped.wait(), float(sys.argv[2]))  # until the stop is read, or so many seconds
        return "stopped"
    except TimeoutError:
        return "still serving"

loop.run_until_complete(lifespan_startup())
os.kill(os.getpid(), signal.SIGTERM)  # between the two runs of the loop
print(loop.run_until_complete(serving()), len(stops))
"""


def run_worker(how: str, seconds: int) -> str:
    result = subprocess.run(
        [sys.executable, "-c", WORKER, how, str(seconds)], capture_output=True, text=True, timeout=seconds + 60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_sigterm_between_startup_and_serving_stops_the_worker() -> None:
    assert run_worker("with the hook", seconds=30) in ("stopped 1", "stopped 2")  # the copy may be read too


def test_without_the_hook_uvloop_parks_it() -> None:
    """What the hook is for (a parked signal stays parked: a second is enough to show it). If uvloop ever reads
    such a signal by itself, this fails and the hook's second SIGTERM can go."""
    assert run_worker("without the hook", seconds=1) == "still serving 0"


# The main process's lame-duck handler installed (as `flowcrm serve` does before granian forks its workers), then a
# worker forked that has not set its own handlers yet (it is still loading the app) gets the parent's SIGTERM.
FORKED = """
import multiprocessing, os, signal, sys
from pathlib import Path
from service.ops.shutdown import LameDuck

class Server:  # what LameDuck calls of granian's server
    def on_startup(self, hook): pass
    def signal_handler_interrupt(self, *args, **kwargs): pass

drain_file = Path(sys.argv[1])
LameDuck(Server(), 0, drain_file).install()

def worker(started):
    started.set()
    signal.pause()  # loading the app; a handler that swallows the signal lets it go on (exit 0)

context = multiprocessing.get_context("fork")
started = context.Event()
child = context.Process(target=worker, args=(started,))
child.start()
started.wait(60)
os.kill(child.pid, signal.SIGTERM)
child.join(30)
print(child.exitcode, drain_file.exists())
child.kill()
"""


def test_a_sigterm_before_the_workers_own_handlers_ends_it_and_starts_no_drain(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FORKED, str(tmp_path / "draining")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(-signal.SIGTERM), "False"]
