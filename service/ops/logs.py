"""Request-scoped logs (README, "Logs"): the request id, the log format, the access line.

Every request gets an id (a valid incoming `X-Request-ID`, else a new one) held in a context variable for as
long as it is served, so a filter on the one log handler puts it on every line written meanwhile, whoever
writes it. The access line is written by service/ops/observe.py once the response is sent.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import re
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

if TYPE_CHECKING:  # not at run time: the lean main process of `flowcrm serve` (service/ops/supervisor.py)
    # configures its logging from here without importing pydantic
    from service.config import Settings

ACCESS_LOGGER = "flowcrm.access"
REQUEST_ID_HEADER = b"x-request-id"
# Anything else (too long, spaces, quotes, control characters) is replaced: the id goes into headers and logs.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_encode = msgspec.json.Encoder(enc_hook=str).encode  # faster than json.dumps; str() what it cannot encode
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RequestContext:
    """What the log lines of one request share. A mutable object rather than values in context variables:
    Litestar resolves dependencies in tasks of their own, whose changes to context variables would be lost."""

    __slots__ = ("request_id", "user_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.user_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("flowcrm_request", default=None)


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is valid, else a new one: 128 random bits in 32 hex digits, what
    uuid4().hex gives less its version bits, for a fraction of its cost (measured: bench/README.md)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _VALID_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()


def begin_request(context: RequestContext) -> Any:
    """Make `context` the current request's; returns the token `end_request` takes."""
    return _current.set(context)


def end_request(token: Any) -> None:
    _current.reset(token)


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context is not None else None


def set_user(user_id: object) -> None:
    """Name the authenticated user of the current request (its access line's `user_id`)."""
    context = _current.get()
    if context is not None:
        context.user_id = str(user_id)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (`-` outside requests) on every record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        record.request_id = context.request_id if context is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's `fields` (the access
    line's), and the traceback of an error as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self._entry(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", "-"),
            getattr(record, "fields", None),
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()

    def access_line(self, created: float, request_id: str, message: str, fields: dict[str, Any]) -> str:
        """What `format` gives for the access line's record (ConsoleHandler.write_access)."""
        return _encode(self._entry(created, "INFO", ACCESS_LOGGER, message, request_id, fields)).decode()

    @staticmethod
    def _entry(
        created: float, level: str, logger: str, message: str, request_id: str, fields: dict[str, Any] | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "logger": logger,
            "message": message,
        }
        if request_id != "-":
            entry["request_id"] = request_id
        if fields:
            entry.update(fields)
        return entry


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, with the access line's shortcut."""

    default_msec_format: str  # logging.Formatter's "%s,%03d" (typeshed allows None, which no format here sets)

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def access_line(self, created: float, request_id: str, message: str, fields: dict[str, Any]) -> str:
        """What `format` gives for the access line's record (the asctime of logging.Formatter.formatTime)."""
        msecs = int((created - int(created)) * 1000)
        asctime = self.default_msec_format % (time.strftime(self.default_time_format, self.converter(created)), msecs)
        return f"{asctime} INFO {ACCESS_LOGGER} [{request_id}]: {message}"


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """The one handler of the service's processes (standard error, LOG_FORMAT, the request id filter).

    Access lines written from the event loop are gathered and written together at the loop's next turn: one
    write for all the requests that ended in that turn instead of one each. The workers share the one standard
    error, and their writes contend for it: a write a line cost ~0.05 ms of CPU per request on customer by id
    with 2 workers (bench/README.md, "Access log and metrics"). Any other line first writes what is gathered,
    so the order of lines is kept.
    """

    # typeshed allows None for both: Handler.__init__ makes the lock, and logging_config sets the formatter.
    lock: threading.RLock
    formatter: JsonFormatter | TextFormatter

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._gathered: list[str] = []

    def write_access(self, created: float, request_id: str, message: str, fields: dict[str, Any]) -> None:
        """Write an access line as `handle` would, without building a LogRecord and passing it through the
        logging machinery (8 -> 5 us of CPU a line in isolation)."""
        line = self.formatter.access_line(created, request_id, message, fields)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: at once
            loop = None
        with self.lock:
            self._gathered.append(line + self.terminator)
            if loop is None:
                self._write_gathered()
            elif len(self._gathered) == 1:
                loop.call_soon(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # an RLock: handle() holds it already
            if self._gathered:
                self._write_gathered()
        super().emit(record)

    def flush(self) -> None:
        with self.lock:
            if self._gathered:
                self._write_gathered()
        super().flush()

    def _write_gathered(self) -> None:
        lines, self._gathered = self._gathered, []
        try:
            self.stream.write("".join(lines))
            self.stream.flush()
        except Exception:  # as logging does: a failed write must not fail the request
            self.handleError(logging.makeLogRecord({"msg": "access lines"}))


def uses_json(settings: Settings) -> bool:
    return settings.log_format == "json" or (settings.log_format is None and settings.environment == "production")


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig of every process of the service: one handler on the root logger, in LOG_FORMAT.

    granian applies it too (its `log_dictconfig`, in the main process and in each worker), so granian's own
    lines come out in the same format; its access log stays off (ours replaces it).
    """
    # Classes by their dotted path: the configuration is plain data, handed to the lean main process as JSON.
    formatter = {"()": f"{__name__}.{'JsonFormatter' if uses_json(settings) else 'TextFormatter'}"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"flowcrm": formatter},
        "handlers": {
            "console": {
                "class": f"{__name__}.ConsoleHandler",
                "stream": "ext://sys.stderr",
                "formatter": "flowcrm",
                "filters": ["request_id"],
            }
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "_granian": {"level": "INFO", "handlers": [], "propagate": True},
            "granian.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure_logging(settings: Settings | None = None) -> None:
    """Once per process (granian's workers call it from the app factory; fork may have done it already).
    Without settings they are read from the environment; invalid ones fall back to the defaults here (the
    command that reads them reports the problem)."""
    # No format here names the process, thread or multiprocessing process: skip finding them for every record
    # (os.getpid() and two lookups: a fifth of an access line's cost; the logging module's own switches).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    if logging.getLogger().handlers:
        return
    if settings is None:
        from service.config import Settings

        try:
            settings = Settings()
        except ValueError:
            settings = Settings.model_construct()
    logging.config.dictConfig(logging_config(settings))


class AccessLog:
    """The access line: at INFO on `flowcrm.access`, for every request (ACCESS_LOG=all), only those answered
    with a status of 400 or more (errors), or none (off)."""

    def __init__(self, settings: Settings) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.min_status = {"all": 0, "errors": 400, "off": None}[settings.access_log]

    def wanted(self, status: int) -> bool:
        return self.min_status is not None and status >= self.min_status and self.logger.isEnabledFor(logging.INFO)

    def write(
        self, context: RequestContext, method: str, route: str, status: int, seconds: float, client: str | None
    ) -> None:
        duration_ms = round(seconds * 1000, 2)
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": context.user_id,
            "client": client,
        }
        message = f"{method} {route} {status} {duration_ms:.2f}ms user={context.user_id or '-'} client={client or '-'}"
        console = self._only_destination()
        if console is not None:
            console.write_access(time.time(), context.request_id, message, fields)
            return
        # Another configuration (more handlers, other formatters): through logging, minus logger.info's search
        # for the caller's file and line, which no format shows.
        self.logger.handle(
            self.logger.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, message, (), None, extra={"fields": fields})
        )

    def _only_destination(self) -> ConsoleHandler | None:
        """The service's ConsoleHandler when logging would hand the access line to it and nothing else (the
        configuration of logging_config, unchanged), else None."""
        if self.logger.filters:
            return None
        logger: logging.Logger | None = self.logger
        while logger is not None and logger is not logging.root:
            if logger.handlers or not logger.propagate:
                return None
            logger = logger.parent
        handlers = logging.root.handlers
        if len(handlers) != 1 or type(handlers[0]) is not ConsoleHandler:
            return None
        handler = handlers[0]
        if handler.level > logging.INFO or not all(isinstance(f, RequestIdFilter) for f in handler.filters):
            return None
        return handler
