"""The pages under /schema: the OpenAPI document and the viewers Litestar serves for it.

Litestar answers an unknown `/schema/...` path with an HTML 404 page of its own (a response, not an exception,
so the app's exception handler never sees it). The docs router's `after_request` hook turns every 404 there
into a NotFoundException, which the exception handler answers with the envelope like any unknown route.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, Router
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig

DOCS_PATH = "/schema"


def _envelope_404(response: Response[Any]) -> Response[Any]:
    if response.status_code == 404:
        raise NotFoundException()
    return response


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    router = Router(DOCS_PATH, route_handlers=[], include_in_schema=False, after_request=_envelope_404)
    return OpenAPIConfig(title=title, version=version, path=DOCS_PATH, openapi_router=router)
