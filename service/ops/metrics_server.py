"""The main process's side of the metrics: the directory the workers share and the `/metrics` listener.

Run by `flowcrm serve` (service/cli.py) when METRICS_PORT is set, like PostgREST's admin server: a port of its
own (METRICS_HOST, 127.0.0.1 by default), never the public one. prometheus_client chooses where values live when
it is first imported, so `prepare_metrics_directory` runs before anything imports it (this module imports it lazily).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the lean main process (service/ops/supervisor.py) imports this module without pydantic
    from service.config import Settings

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_directory(settings: Settings) -> Path | None:
    """With METRICS_PORT: PROMETHEUS_MULTIPROC_DIR emptied (values of an earlier run would be counted again) or a
    temporary one, set in the environment the workers inherit. Without: unset, so nothing writes files.
    Returns the temporary directory, which the main process removes when the service stops."""
    if settings.metrics_port is None:
        os.environ.pop(ENV, None)
        return None
    temporary = settings.metrics_dir is None
    directory = settings.metrics_dir or Path(tempfile.mkdtemp(prefix="flowcrm-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[ENV] = str(directory)
    return directory if temporary else None


def start_listener(host: str, port: int) -> None:
    """Serve the workers' metrics, aggregated, on METRICS_HOST:METRICS_PORT (a daemon thread of this process).

    This process records none: its start-up checks ran before the directory was set (`prepare_metrics_directory`
    comes last), so the gauges list only the workers, each under its own pid."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
