"""The main process's side of the metrics: the directory the workers share and the `/metrics` listener.

Run by `flowcrm serve` (service/cli.py) when METRICS_PORT is set, like PostgREST's admin server: a port of its
own (METRICS_HOST, 127.0.0.1 by default), never the public one. prometheus_client chooses where values live when
it is first imported, so `prepare_directory` runs before anything imports it (this module imports it lazily).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.config import Settings

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory(settings: Settings) -> Iterator[Path | None]:
    """With METRICS_PORT: PROMETHEUS_MULTIPROC_DIR emptied (values of an earlier run would be counted again) or a
    temporary one, set in the environment the workers inherit. Without: unset, so nothing writes files."""
    if settings.metrics_port is None:
        os.environ.pop(ENV, None)
        yield None
        return
    temporary = settings.metrics_dir is None
    directory = settings.metrics_dir or Path(tempfile.mkdtemp(prefix="flowcrm-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[ENV] = str(directory)
    try:
        yield directory
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


def start_listener(settings: Settings) -> None:
    """Serve the workers' metrics, aggregated, on METRICS_HOST:METRICS_PORT (a daemon thread of this process).

    This process serves no request, but its start-up check imported the metrics (service.db.pool), which gave it
    per-process gauges of its own (start time, pool) in the directory: they are removed here, so the gauges list
    only the workers (forked later, each writes under its own pid)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

    assert settings.metrics_port is not None, "called only with METRICS_PORT set"
    mark_process_dead(os.getpid())

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
