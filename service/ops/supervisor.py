"""The main process of `flowcrm serve` once its checks have passed: a lean one that only runs granian.

The checks (settings, embedded PostgreSQL, migrations, the database answering, the first admin) need pydantic,
asyncpg and much of the service: ~60 MB that the main process would keep for as long as it serves, although from
then on it only starts and watches the workers (each imports the app itself). So `flowcrm serve` hands over:
it writes a `Plan` of what granian needs into the environment and replaces its own program with a fresh start of
the same command line (exec: same pid, same command line, so process managers, signals and `ps` see no change).
The new program finds the plan before it imports anything heavy and runs only this module, granian and the
logging and shutdown helpers (~30 MB).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

PLAN_ENV = "FLOWCRM_SERVE_PLAN"

log = logging.getLogger("flowcrm")


@dataclass(frozen=True)
class Plan:
    """What the lean main process needs: granian's settings, and what to clean up when it stops."""

    host: str
    port: int
    workers: int
    workers_kill_timeout: int | None
    shutdown_delay: float
    log_config: dict[str, Any]  # logging_config(settings): plain data, classes named by their dotted path
    metrics_host: str
    metrics_port: int | None  # set: serve the workers' metrics there
    remove_dir: str | None = None  # a temporary metrics directory of this run
    stop_embedded: str | None = None  # the data directory of the embedded PostgreSQL that this run started


def hand_over(plan: Plan) -> NoReturn:
    """Replace this process's program with the same command line, which finds `plan` and runs `serve(plan)`."""
    os.environ[PLAN_ENV] = json.dumps(asdict(plan))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # sys.orig_argv: the interpreter's own arguments too (`-m service.cli`, `-c ...`, a console script's path).
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def taken_plan() -> Plan | None:
    """The plan left by `hand_over`, removed from the environment (the workers must not see it)."""
    raw = os.environ.pop(PLAN_ENV, None)
    return None if raw is None else Plan(**json.loads(raw))


def serve(plan: Plan) -> None:
    """Run granian with the plan's workers until it stops (SIGTERM/SIGINT after the lame-duck delay)."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    from service.ops.metrics_server import start_listener
    from service.ops.shutdown import lame_duck

    if plan.metrics_port is not None:
        start_listener(plan.metrics_host, plan.metrics_port)
    # granian (Rust HTTP server, ASGI): more requests per second than uvicorn for the same app on this stack
    # (figures: bench/README.md, "Choosing the server"). On SIGTERM/SIGINT, after the lame-duck delay
    # (service/ops/shutdown.py), it stops accepting, lets the workers finish their requests and run the lifespan
    # shutdown (pool closed), then returns, so the embedded server stops cleanly and the exit status is 0. Our
    # access line (ACCESS_LOG) replaces granian's; its own lines come out in our LOG_FORMAT.
    server = Granian(
        "service.app:create_server_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=plan.host,
        port=plan.port,
        workers=plan.workers,
        loop=Loops.auto,
        websockets=False,
        workers_kill_timeout=plan.workers_kill_timeout,
        log_level=LogLevels.info,
        log_access=False,
        log_dictconfig=plan.log_config,
    )
    with lame_duck(server, plan.shutdown_delay):
        server.serve()
