"""Request ids and request-scoped logs (service/ops/logs.py, service/ops/observe.py): every response carries
`X-Request-ID` (a valid incoming one, else a new one), every error body its `requestId`, every log line written
while a request is served its id, and one access line per request as ACCESS_LOG asks."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import re
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from service.config import Settings
from service.ops.logs import (
    ACCESS_LOGGER,
    AccessLog,
    ConsoleHandler,
    JsonFormatter,
    RequestContext,
    RequestIdFilter,
    TextFormatter,
    begin_request,
    end_request,
    logging_config,
    uses_json,
)
from tests.conftest import make_settings
from tests.factories import bearer, create_user
from tests.routes_for_tests import serve_with_test_routes
from tests.support import wait_until

GENERATED = re.compile(r"[0-9a-f]{32}")


class Records(logging.Handler):
    """Every record that reaches the root logger, through the same filter as the service's own handler."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def access(self) -> list[logging.LogRecord]:
        return [record for record in self.records if record.name == ACCESS_LOGGER]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root, access = logging.getLogger(), logging.getLogger(ACCESS_LOGGER)
    root.addHandler(handler)
    access.setLevel(logging.INFO)  # pytest leaves the root at WARNING
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        access.setLevel(logging.NOTSET)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve_with_test_routes(settings):
        yield http


@pytest.mark.parametrize("path", ["/api/test", "/health", "/api/customers", "/no/such/route"])
async def test_every_response_gets_a_new_id_unless_it_sent_a_valid_one(client: httpx.AsyncClient, path: str) -> None:
    first, second = await client.get(path), await client.get(path)
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    kept = "req-7f3a.b:c_9"
    assert (await client.get(path, headers={"X-Request-ID": kept})).headers["x-request-id"] == kept
    assert (await client.get(path, headers={"X-Request-ID": "x" * 128})).headers["x-request-id"] == "x" * 128


@pytest.mark.parametrize("sent", ["x" * 129, "has space", 'quote"d', "semi;colon", "new\\nline", "é"])
async def test_an_invalid_incoming_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/api/test", headers={"X-Request-ID": sent.encode("utf-8")})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_preflights_and_wrong_methods_carry_the_id_too(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/customers", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code in (200, 204) and GENERATED.fullmatch(preflight.headers["x-request-id"])
    wrong = await client.delete("/api/test", headers={"X-Request-ID": "mine"})
    assert wrong.status_code == 405 and wrong.headers["x-request-id"] == "mine"
    assert wrong.json()["error"]["requestId"] == "mine"


async def test_every_error_body_names_the_request(api: httpx.AsyncClient) -> None:
    responses = [
        await api.get("/api/customers"),  # 401
        await api.get("/no/such/route"),  # 404
        await api.post("/test/echo", json={"name": "", "quantity": 1}),  # 422
        await api.get("/test/duplicate-cpf"),  # 409 from the database
        await api.get("/test/boom", headers={"X-Request-ID": "boom-1"}),
    ]  # 500
    assert [response.status_code for response in responses] == [401, 404, 422, 409, 500]
    for response in responses:
        assert response.json()["error"]["requestId"] == response.headers["x-request-id"]
    assert responses[-1].json()["error"]["requestId"] == "boom-1"


async def test_log_lines_written_while_serving_carry_the_id_and_errors_their_traceback(
    api: httpx.AsyncClient, records: Records
) -> None:
    response = await api.get("/test/boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    [error] = [record for record in records.records if record.levelno == logging.ERROR]
    assert error.request_id == "trace-me"  # type: ignore[attr-defined]
    assert error.exc_info is not None and "internal detail" in logging.Formatter().formatException(error.exc_info)
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "outside a request", None, None)
    assert RequestIdFilter().filter(outside) and outside.request_id == "-"  # type: ignore[attr-defined]


async def test_one_access_line_per_request_with_its_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, records: Records
) -> None:
    user = await create_user(db, "admin")
    response = await client.get(f"/api/customers/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=bearer(settings, user))
    assert response.status_code == 404
    anonymous = await client.get("/api/customers")
    await wait_until(lambda: len(records.access()) == 2, within=30, what="two access lines")
    line, other = records.access()
    assert line.levelno == logging.INFO
    assert line.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    fields = line.fields  # type: ignore[attr-defined]
    assert {key: fields[key] for key in ("method", "route", "status", "user_id", "client")} == {
        "method": "GET",
        "route": "/api/customers/{customer_id}",
        "status": 404,
        "user_id": str(user["id"]),
        "client": "127.0.0.1",
    }
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0
    assert other.fields["user_id"] is None and other.fields["status"] == 401  # type: ignore[attr-defined]
    assert other.request_id == anonymous.headers["x-request-id"]  # type: ignore[attr-defined]
    # In JSON: one object per line, the fields at top level.
    entry = json.loads(JsonFormatter().format(line))
    assert {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "user_id",
        "client",
    } <= set(entry)
    assert entry["time"].endswith("Z") and entry["logger"] == "flowcrm.access"
    assert entry["request_id"] == response.headers["x-request-id"] and entry["route"] == "/api/customers/{customer_id}"


@pytest.mark.parametrize(("mode", "statuses"), [("all", [200, 404]), ("errors", [404]), ("off", [])])
async def test_access_log_levels(database_url: str, records: Records, mode: str, statuses: list[int]) -> None:
    async for http in serve_with_test_routes(make_settings(database_url, ACCESS_LOG=mode)):
        assert (await http.get("/api/test")).status_code == 200
        last = await http.get("/no/such/route")
        assert last.status_code == 404
        if statuses:
            await wait_until(lambda: len(records.access()) == len(statuses), within=30, what="the access lines")
        else:  # nothing to wait for: a line that would be written is written before the next request's
            assert (await http.get("/api/test")).status_code == 200
    assert [record.fields["status"] for record in records.access()] == statuses  # type: ignore[attr-defined]


def test_log_format_defaults_to_json_in_production_only() -> None:
    url = "postgresql://x@localhost/x"
    secret = "s" * 40
    assert uses_json(Settings(DATABASE_URL=url, ENVIRONMENT="production", JWT_SECRET=secret))
    assert not uses_json(Settings(DATABASE_URL=url, ENVIRONMENT="production", JWT_SECRET=secret, LOG_FORMAT="text"))
    assert not uses_json(Settings(DATABASE_URL=url))
    assert uses_json(Settings(DATABASE_URL=url, LOG_FORMAT="json"))
    with pytest.raises(ValueError):
        Settings(DATABASE_URL=url, ACCESS_LOG="some")
    # Plain data: `flowcrm serve` hands it to its lean main process as JSON (service/ops/supervisor.py).
    config = json.loads(json.dumps(logging_config(Settings(DATABASE_URL=url, LOG_FORMAT="json"))))
    assert logging.config.DictConfigurator(config).resolve(config["formatters"]["flowcrm"]["()"]) is JsonFormatter
    assert config["handlers"]["console"]["filters"] == ["request_id"]


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
def test_the_access_line_shortcut_writes_what_logging_would(formatter: logging.Formatter) -> None:
    stream = io.StringIO()
    console = ConsoleHandler(stream)
    console.setFormatter(formatter)
    console.addFilter(RequestIdFilter())
    fields = {
        "method": "GET",
        "route": "/api/customers/{customer_id}",
        "status": 200,
        "duration_ms": 1.5,
        "user_id": "u-1",
        "client": "10.0.0.9",
    }
    message = "GET /api/customers/{customer_id} 200 1.50ms user=u-1 client=10.0.0.9"
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, message, None, None)
    record.fields = fields
    token = begin_request(RequestContext("rid-1"))
    try:
        console.handle(record)
    finally:
        end_request(token)
    console.write_access(record.created, "rid-1", message, fields)
    through_logging, shortcut = stream.getvalue().splitlines()
    assert shortcut == through_logging and "rid-1" in shortcut


def test_the_shortcut_is_taken_only_when_the_console_is_the_lines_one_destination(settings: Settings) -> None:
    access, root, parent = AccessLog(settings), logging.getLogger(), logging.getLogger("flowcrm")
    console, other = ConsoleHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    console.addFilter(RequestIdFilter())
    saved = root.handlers[:]
    root.handlers = [console]
    try:
        assert access._only_destination() is console
        parent.addHandler(other)  # an operator's handler on the way: every line must reach it
        assert access._only_destination() is None
        parent.removeHandler(other)
        root.addHandler(other)
        assert access._only_destination() is None
        root.removeHandler(other)
        console.addFilter(logging.Filter("nothing"))
        assert access._only_destination() is None
    finally:
        root.handlers = saved


async def test_access_lines_are_written_together_at_the_loops_next_turn_and_before_any_other_line() -> None:
    class Writes(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[str] = []

        def write(self, text: str) -> int:
            self.writes.append(text)
            return super().write(text)

    stream = Writes()
    console = ConsoleHandler(stream)
    console.setFormatter(TextFormatter())
    console.addFilter(RequestIdFilter())
    fields: dict = {}
    console.write_access(1.0e9, "a", "first", fields)
    console.write_access(1.0e9, "b", "second", fields)
    assert stream.writes == []  # gathered until the loop turns
    await asyncio.sleep(0)  # one turn of the loop (the flush is queued before this task), not a wait on time
    assert len(stream.writes) == 1 and [line.rsplit(" ", 1)[-1] for line in stream.getvalue().splitlines()] == [
        "first",
        "second",
    ]
    console.write_access(1.0e9, "c", "third", fields)
    console.handle(logging.LogRecord("flowcrm", logging.ERROR, "", 0, "an error", None, None))
    assert [line.rsplit(" ", 1)[-1] for line in stream.getvalue().splitlines()] == ["first", "second", "third", "error"]
