"""JSON nesting depth: measured exactly, bounded before decoding, refused with a 400 in the envelope."""

from __future__ import annotations

import logging

import httpx
import pytest

from service import errors
from service.http.json_depth import MAX_JSON_DEPTH, check_json_depth, json_depth


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b'"[[[["', 0),  # brackets inside a string nest nothing
        (b'["\\"[[", [1]]', 2),  # an escaped quote does not end the string
        (b'["\\\\", [[1]]]', 3),  # an escaped backslash does not escape the closing quote
        (b'{"a": [{"b": {}}]}', 4),
        (b"[[],[],[[]]]", 3),
        (b"[" * 5000 + b"]" * 5000, 5000),
        (b'{"a":' * 300 + b"1" + b"}" * 300, 300),
    ],
)
def test_depth_is_measured(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_the_bound_is_inclusive() -> None:
    check_json_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    check_json_depth(b"[" + b"[]," * 10_000 + b"[]]")  # many brackets, shallow
    check_json_depth(b'["' + b"[" * 10_000 + b'"]')  # many brackets inside a string
    with pytest.raises(errors.BadRequest, match="at most 64 levels"):
        check_json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


@pytest.mark.parametrize(
    ("path", "who"), [("/api/auth/login", None), ("/api/customers", "admin"), ("/api/presales", "admin")]
)
@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b'{"name":' * 5000 + b"1" + b"}" * 5000, b'{"items": ' + b"[" * 65 + b"]" * 65 + b"}"],
)
async def test_a_deep_body_is_a_400(
    client: httpx.AsyncClient,
    admin_headers: dict,
    path: str,
    who: str | None,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {**(admin_headers if who else {}), "Content-Type": "application/json"}
    with caplog.at_level(logging.ERROR):
        response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] == {
        "code": "BAD_REQUEST",
        "message": "JSON nested too deeply: at most 64 levels of arrays and objects",
        "requestId": response.headers["x-request-id"],
    }
    assert payload["success"] is False and payload["path"] == path
    assert not caplog.records


async def test_a_body_at_the_bound_is_decoded(client: httpx.AsyncClient, admin_headers: dict) -> None:
    body = b'{"name": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    response = await client.post(
        "/api/customers", content=body, headers={**admin_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text  # validation: name is not an array
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
