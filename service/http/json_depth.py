"""A bound on how deeply a JSON request body may nest arrays and objects.

msgspec decodes nested values recursively, and a few thousand levels (`[[[[...]]]]`, a few KiB) end in a
RecursionError: a 500 with a traceback. Every body this API takes nests a handful of levels (a pre-sale's
items are the deepest, at 3), so anything deeper than MAX_JSON_DEPTH is refused before decoding, with a 400.

The check is linear in the body and runs in C except for one pass over the brackets: strings are removed by
one regular expression (a bracket inside a string does not nest anything), the rest is reduced to its
brackets by `bytes.translate`, and the running depth is an `itertools.accumulate`: on a 1 MiB body about
what msgspec takes to decode it (bench/README.md); a body with fewer than
MAX_JSON_DEPTH opening brackets (nearly every real request) skips the scan after two `bytes.count` calls.
"""

from __future__ import annotations

import itertools
import re

from service import errors

MAX_JSON_DEPTH = 64

# A complete JSON string, escapes included. An unterminated one is left in place: the body is malformed and
# the decoder refuses it anyway (its brackets can only make this check refuse it first, also with a 400).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
for _byte in b"[{":
    _STEP[_byte] = 1
for _byte in b"]}":
    _STEP[_byte] = -1


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_depth(body: bytes) -> None:
    """400 BAD_REQUEST when the body nests deeper than MAX_JSON_DEPTH."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return  # too few brackets to nest that deep, whatever their order
    if json_depth(body) > MAX_JSON_DEPTH:
        raise errors.BadRequest(f"JSON nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects")
