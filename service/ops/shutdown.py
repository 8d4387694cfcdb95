"""Lame-duck shutdown for `flowcrm serve`: say "not ready", keep serving a while, then stop gracefully.

Why: a load balancer learns that an instance is going away only from its health check (HAProxy: `inter` x
`fall`; a Kubernetes Service: when the endpoint removal has propagated). A server that stops accepting the
moment it gets SIGTERM refuses every request the balancer still sends it in that time, and a balancer that
does not retry (most do not) passes those failures on to the clients. So, on the first SIGTERM or SIGINT:

1. readiness (`GET /health/ready`) answers 503 at once in every worker; liveness (`GET /health`) stays 200;
2. the service keeps accepting and serving for `SHUTDOWN_DELAY_SECONDS`, long enough for the balancer to
   take it out of rotation;
3. then granian's own graceful stop runs: it closes the listening socket, sends SIGTERM to each worker,
   which finishes its requests in flight and runs the lifespan shutdown (pools closed); workers still busy
   after `SHUTDOWN_TIMEOUT_SECONDS` are killed. The process exits 0.

A second SIGTERM or SIGINT during the delay cuts it short: the stop of step 3 begins at once (an operator
pressing Ctrl-C twice does not want to wait).

How granian (2.8) handles signals, and what this changes:
- The main process installs SIGINT/SIGTERM handlers that wake its serve loop, which then stops the workers
  as in step 3 (`AbstractServer._serve_loop`, `shutdown`, `_stop_workers`). Its `on_startup` hooks run
  right after those handlers are installed, so `LameDuck.install` (a hook) replaces them with `on_signal`,
  which calls granian's own handler only when the delay is over.
- Each worker process installs its own SIGINT/SIGTERM handlers on its event loop that stop it at once. The
  parent stops a worker with SIGTERM, so that one must stay. But Ctrl-C in a terminal sends SIGINT to the
  whole foreground process group, workers included: they would stop before the delay. So workers ignore
  SIGINT (`prepare_worker_signals`, an app startup hook: it runs after granian's handlers are set; a
  SIGINT that reaches a worker still starting up stops it, and granian then stops the service, as before).
  Ignored in the kernel (SIG_IGN), not by a handler on the worker's loop: uvloop reads signals only while its
  loop runs, and granian's worker runs it twice (the lifespan startup, then serving, with `Started worker-N`
  logged between the two); a signal in that gap is parked until the next one arrives, so "handled on the
  loop" depends on timing, while SIG_IGN holds from the moment it is set and shows in /proc/<pid>/status.
  A supervisor that sends SIGTERM to every process of the group (systemd's default `KillMode=control-group`)
  bypasses the delay the same way: use `KillMode=mixed` (README, "Shutdown and load balancers").
- A worker is forked with the main process's handlers and keeps them until granian sets its own, after it has
  loaded the app: there `LameDuck.on_signal` ends the worker as the default action would, instead of draining.
- The parent's SIGTERM can meet a worker in that same gap (a service stopped just after it started, or a
  worker respawned during a stop): parked, it would leave the worker running until it is killed at
  SHUTDOWN_TIMEOUT_SECONDS. The same hook has the worker send its first SIGTERM to itself again once its loop
  runs, so a parked one is read with it.
- "Draining" reaches the workers as a marker file whose path the parent passes in the environment
  (`FLOWCRM_DRAIN_FILE`, inherited by every worker it spawns): no signal to deliver or to race with a
  worker's start-up, a worker respawned during the delay sees it too, and checking it is one stat() per
  readiness request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

DRAIN_FILE_ENV = "FLOWCRM_DRAIN_FILE"


def draining() -> bool:
    """True in a worker of a `flowcrm serve` that got SIGTERM/SIGINT: readiness must answer 503."""
    path = os.environ.get(DRAIN_FILE_ENV)
    return path is not None and os.path.exists(path)


class GracefulServer(Protocol):
    """What LameDuck needs of granian's server: its startup hooks and its own interrupt handler."""

    def on_startup(self, hook: Any) -> Any: ...

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None: ...


class LameDuck:
    """The main process's side: on the first signal mark "draining", stop `delay` seconds later (or at the
    second signal) through granian's own interrupt handler."""

    def __init__(self, server: GracefulServer, delay: float, drain_file: Path) -> None:
        self.server = server
        self.delay = delay
        self.drain_file = drain_file
        self._timer: threading.Timer | None = None
        self._stopping = False
        self._pid = os.getpid()

    def install(self) -> None:
        """Granian startup hook: replace its SIGINT/SIGTERM handlers (installed just before) with ours."""
        self._pid = os.getpid()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, _frame: Any = None) -> None:
        if os.getpid() != self._pid:
            # A worker granian forked inherits this handler until its own are set, after it has loaded the app
            # (~1 s): there the signal must do what it does to any process (end it), not start a drain of its
            # own. Swallowed, a stop sent then left the worker serving until it was killed at the shutdown
            # timeout (seen in CI: a service stopped just after it started took 30 s).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        name = signal.Signals(signum).name
        if self._stopping:
            return
        if self._timer is None:
            self.drain_file.touch()
            if self.delay > 0:
                log.info(
                    "%s: draining: readiness answers 503, still serving for %.1f s (send it again to stop now)",
                    name,
                    self.delay,
                )
                self._timer = threading.Timer(self.delay, self.stop)
                self._timer.daemon = True
                self._timer.start()
                return
        else:
            log.info("%s again: ending the shutdown delay early", name)
            self._timer.cancel()
        self.stop()

    def stop(self) -> None:
        """Granian's graceful stop: stop accepting, finish requests in flight, lifespan shutdown, exit."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping: no new connections, requests in flight may take up to the shutdown timeout")
        self.server.signal_handler_interrupt()  # sets an event the serve loop waits on: safe from any thread


@contextmanager
def lame_duck(server: GracefulServer, delay: float) -> Iterator[LameDuck]:
    """Arm lame-duck shutdown on a granian server for the duration of its `serve()`."""
    directory = Path(tempfile.mkdtemp(prefix="flowcrm-drain-"))
    duck = LameDuck(server, delay, directory / "draining")
    previous = os.environ.get(DRAIN_FILE_ENV)
    os.environ[DRAIN_FILE_ENV] = str(duck.drain_file)  # inherited by the workers granian spawns
    server.on_startup(duck.install)
    try:
        yield duck
    finally:
        if previous is None:
            os.environ.pop(DRAIN_FILE_ENV, None)
        else:
            os.environ[DRAIN_FILE_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def prepare_worker_signals() -> None:
    """App startup hook in a granian worker (it runs after granian has set its handlers on the loop).

    - SIGINT (a terminal's Ctrl-C reaches the whole process group) must not stop the worker; the main process
      stops it with SIGTERM when the delay is over.
    - SIGTERM must stop it whenever it comes. uvloop reads signals only while its loop runs, and granian's worker
      runs it twice (the lifespan startup, then serving): a SIGTERM in between is parked by uvloop until another
      signal arrives, so the worker would stop only when killed at SHUTDOWN_TIMEOUT_SECONDS, without its lifespan
      shutdown (seen in CI: a service stopped right after it started took 30 s). So the first SIGTERM is sent
      again once the loop runs: the running loop reads it, and a parked one with it. A second stop request is
      harmless (granian's handler sets an event).
    """
    if os.environ.get(DRAIN_FILE_ENV) is None:  # not under `flowcrm serve` (e.g. the tests' uvicorn)
        return
    # Overrides granian's SIGINT handler on the loop (left registered there, never called: removing it first
    # would restore Python's KeyboardInterrupt for a moment).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop = asyncio.get_running_loop()
    loops_own = signal.getsignal(signal.SIGTERM)  # uvloop's: notes the signal for its loop
    sent_again = False

    def on_terminate(signum: int, frame: Any) -> None:
        nonlocal sent_again
        if callable(loops_own):
            loops_own(signum, frame)
        if not sent_again and not loop.is_closed():
            sent_again = True
            loop.call_soon(os.kill, os.getpid(), signal.SIGTERM)  # runs when the loop does

    signal.signal(signal.SIGTERM, on_terminate)
