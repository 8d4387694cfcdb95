"""The app's Request class: JSON bodies are read only when they are declared JSON and valid UTF-8.

- A body sent with another Content-Type (text/plain, form-encoded, none) to a route that takes JSON is a 415
  UNSUPPORTED_MEDIA_TYPE. Those are the content types a cross-site HTML form can send without a CORS
  preflight, so refusing them also keeps the public login from being posted to by other sites. An empty body
  is left to validation (422, "A JSON request body is required").
- A body nesting arrays and objects deeper than MAX_JSON_DEPTH is a 400 before it is decoded (the decoder
  recurses: a few thousand levels would be a RecursionError, a 500); see service/http/json_depth.py.
- Invalid UTF-8 inside a JSON string makes the decoder raise UnicodeDecodeError, which Litestar does not turn
  into a client error (it would be a 500): here it is a 400 like any malformed JSON.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

from service import errors
from service.http.json_depth import check_json_depth


def is_json_media_type(media_type: str) -> bool:
    media_type = media_type.strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class JsonRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if not is_json_media_type(self.content_type[0]) and await self.body():
            raise errors.UnsupportedMediaType()
        check_json_depth(await self.body())
        try:
            return await super().json()
        except UnicodeDecodeError as exc:
            raise ClientException("Malformed JSON in request body: text is not valid UTF-8") from exc
