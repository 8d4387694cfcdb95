"""Security headers on every response: successes, errors, unknown routes (404), wrong methods (405) and CORS
preflights alike.

It is an ASGI send hook (Litestar's `before_send`), not a `middleware=[...]` entry: Litestar runs app-level
middleware only inside a matched route's stack, so an unknown route's 404, a 405 and a CORS preflight would go
out without the headers. The hook sees every `http.response.start` message and appends a header list encoded
once, at start; it costs a list concatenation per response.

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
  `Cross-Origin-Resource-Policy: same-origin` everywhere;
- `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` everywhere but the `/schema` pages
  (the OpenAPI viewers load their scripts and styles from a CDN);
- `Strict-Transport-Security` only with ENVIRONMENT=production (served behind HTTPS).
"""

from __future__ import annotations

from typing import Any

from service.config import Settings

CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
DOCS_PREFIX = "/schema"

Headers = list[tuple[bytes, bytes]]


def _encode(headers: dict[str, str]) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class SecurityHeaders:
    """`before_send` hook: `SecurityHeaders(settings)` in the app's `before_send` list."""

    def __init__(self, settings: Settings) -> None:
        common = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
        if settings.environment == "production":
            common["Strict-Transport-Security"] = HSTS
        self.docs_headers: Headers = _encode(common)
        self.headers: Headers = _encode({**common, "Content-Security-Policy": CSP})

    async def __call__(self, message: Any, scope: Any) -> None:
        if message["type"] != "http.response.start":
            return
        path: str = scope.get("path", "")
        extra = self.docs_headers if path.startswith(DOCS_PREFIX) else self.headers
        message["headers"] = [*message.get("headers", ()), *extra]
