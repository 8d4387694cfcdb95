"""Completes the generated OpenAPI document with what Litestar cannot see from the handlers:

- the query parameters of list endpoints (validated by pydantic models inside the handlers, declared on
  the route as `opt={"query": Model}`);
- the error answers each route really gives (400, 401, 403, 404, 409, 415, 422, 429, 503) in the error
  envelope, with an example, so client generators and API fuzzers know every status code. Litestar documents
  a 400 of its own shape (`status_code`, `detail`) for routes with parameters or a body; the service never
  sends that shape (every error goes through the envelope), so that 400 is replaced.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Schema,
)
from pydantic import BaseModel

_TYPES = {
    "integer": OpenAPIType.INTEGER,
    "string": OpenAPIType.STRING,
    "boolean": OpenAPIType.BOOLEAN,
    "number": OpenAPIType.NUMBER,
    "array": OpenAPIType.ARRAY,
}
_PUBLIC = {("POST", "/api/auth/login"), ("POST", "/api/auth/logout"), ("GET", "/api/test")}

ERROR_ENVELOPE = Schema(
    type=OpenAPIType.OBJECT,
    required=["success", "error", "message", "timestamp", "path"],
    properties={
        "success": Schema(type=OpenAPIType.BOOLEAN, const=False),
        "error": Schema(
            type=OpenAPIType.OBJECT,
            required=["code", "message"],
            properties={
                "code": Schema(type=OpenAPIType.STRING),
                "message": Schema(type=OpenAPIType.STRING),
                "details": Schema(
                    type=OpenAPIType.ARRAY,
                    items=Schema(
                        type=OpenAPIType.OBJECT,
                        properties={
                            "field": Schema(type=OpenAPIType.STRING),
                            "message": Schema(type=OpenAPIType.STRING),
                        },
                    ),
                ),
                "retryAfter": Schema(type=OpenAPIType.INTEGER),
                "requestId": Schema(type=OpenAPIType.STRING),
            },
        ),
        "message": Schema(type=OpenAPIType.STRING),
        "timestamp": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
        "path": Schema(type=OpenAPIType.STRING),
    },
)

_ERRORS = {
    400: (
        "Malformed request (a body that is not valid JSON or not UTF-8 text), or one the operation refuses: "
        "deleting yourself (CANNOT_DELETE_SELF), a status change the pre-sale's status does not allow, a "
        "discount above its total, a sale price below the stored purchase price",
        "BAD_REQUEST",
        "Malformed JSON in request body",
    ),
    401: ("Missing, invalid, expired or revoked token", "INVALID_TOKEN", "Invalid or expired token"),
    403: ("Authenticated, but without the permission", "FORBIDDEN", "You do not have permission to do this"),
    404: ("No such record (or not visible to the caller)", "NOT_FOUND", "Not found"),
    409: (
        "Conflicts with the data: duplicate, still referenced, insufficient stock",
        "CONFLICT",
        "A record with these values already exists",
    ),
    413: ("The body is larger than the service accepts (1 MiB)", "PAYLOAD_TOO_LARGE", "Request body is too large"),
    415: (
        "The body was not sent as application/json",
        "UNSUPPORTED_MEDIA_TYPE",
        "Request body must be JSON (Content-Type: application/json)",
    ),
    422: ("Validation failed; details name each field", "VALIDATION_ERROR", "Invalid CPF format or check digits"),
    429: ("Too many requests; retry after error.retryAfter seconds", "RATE_LIMIT_EXCEEDED", "Too many requests"),
    503: (
        "Database unavailable or busy; retry after the Retry-After header",
        "DATABASE_UNAVAILABLE",
        "The database is unavailable, please retry shortly",
    ),
}


def _error_response(status: int, path: str) -> OpenAPIResponse:
    description, code, message = _ERRORS[status]
    example: dict[str, Any] = {
        "success": False,
        "error": {"code": code, "message": message},
        "message": message,
        "timestamp": "2026-01-01T12:00:00.000Z",
        "path": path,
    }
    if status == 422:
        example["error"]["details"] = [{"field": "cpf", "message": message, "value": "12345678900"}]
    return OpenAPIResponse(
        description=description, content={"application/json": OpenAPIMediaType(schema=ERROR_ENVELOPE, example=example)}
    )


def _schema(field: dict[str, Any]) -> Schema:
    options = [f for f in field.get("anyOf", [field]) if f.get("type") != "null"]
    spec: dict[str, Any] = options[0] if options else {"type": "string"}
    kind = spec.get("type", "string")
    return Schema(
        type=_TYPES.get(kind, OpenAPIType.STRING),
        enum=spec.get("enum"),
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        max_length=spec.get("maxLength"),
        min_length=spec.get("minLength"),
        pattern=spec.get("pattern"),
        format=spec.get("format"),
        default=field.get("default"),
        items=_schema(spec["items"]) if kind == "array" and "items" in spec else None,
    )


# Contract 10.11: a blank query value, or one of the words the web app sends for "no value", counts as absent
# (service/http/schemas.py `blank_is_absent`). The document says so: every query parameter takes its own type
# or this, and `allowEmptyValue` (whose explicit `false` forbade `?sortOrder=`).
ABSENT_VALUE = Schema(
    type=OpenAPIType.STRING,
    pattern=r"^\s*(string|undefined|null)?\s*$",
    description="Counts as absent: blank, or the word string, undefined or null",
)


def _or_absent(schema: Schema) -> Schema:
    if schema.type == OpenAPIType.ARRAY and schema.items is not None:  # ?status=a&status= : each value on its own
        return Schema(type=OpenAPIType.ARRAY, items=Schema(any_of=[schema.items, ABSENT_VALUE]))
    return Schema(any_of=[schema, ABSENT_VALUE], default=schema.default)


def query_parameters(model: type[BaseModel]) -> list[Parameter]:
    properties = model.model_json_schema(by_alias=True)["properties"]
    return [
        Parameter(
            name=name,
            param_in="query",
            required=False,
            schema=_or_absent(_schema(field)),
            allow_empty_value=True,
            description=field.get("description"),
        )
        for name, field in properties.items()
    ]


def _statuses(method: str, path: str, operation: Operation, opt: dict[str, Any]) -> list[int]:
    statuses = [503]
    if (method, path) not in _PUBLIC:
        statuses.append(401)
    if "{" in path:
        statuses += [404, 422]
    if operation.request_body is not None or opt.get("query"):
        statuses.append(422)
    if operation.request_body is not None:
        statuses += [400, 413, 415]
    if opt.get("body_refers_to_records"):  # a customerId, productId... naming no record: 404 (contract 9)
        statuses.append(404)
    if method in {"POST", "PUT", "PATCH", "DELETE"} and (method, path) not in _PUBLIC:
        statuses.append(409)
    statuses += opt.get("errors", [])
    return sorted(set(statuses))


# Pydantic writes a `Field(ge=...)` it cannot attach to the JSON type (a validator stands before it) as "ge".
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard(node: Any) -> Any:
    if isinstance(node, dict):
        return {_BOUNDS.get(key, key): _standard(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_standard(value) for value in node]
    return node


def _refers_to_records(node: Any) -> bool:
    """Whether a body schema has a property naming another record by its id (customerId, items[].productId)."""
    if isinstance(node, dict):
        properties = node.get("properties", {})
        return any(name.endswith("Id") for name in properties) or any(
            _refers_to_records(value) for value in node.values()
        )
    return isinstance(node, list) and any(_refers_to_records(value) for value in node)


def publish_request_bodies(app: Litestar, schema: OpenAPI) -> None:
    """Each request body's schema as pydantic generates it for validation, not Litestar's reading of the model:
    pydantic's states `additionalProperties: false` (StrictInput), the rules of the shared building blocks
    (service/http/schemas.py `JsonSchema`) and those of the update bodies (`AtLeastOneField`)."""
    components = schema.components.schemas if schema.components else {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            data = handler.parsed_fn_signature.parameters.get("data")
            model = getattr(data, "annotation", None)
            if not (isinstance(model, type) and issubclass(model, BaseModel) and model.__name__ in components):
                continue
            generated = model.model_json_schema(
                by_alias=True, mode="validation", ref_template="#/components/schemas/{model}"
            )
            handler.opt["body_refers_to_records"] = _refers_to_records(generated)
            for name, definition in generated.pop("$defs", {}).items():
                components[name] = _standard(definition)
            examples = getattr(components[model.__name__], "examples", None)
            components[model.__name__] = _standard({**generated, **({"examples": examples} if examples else {})})


def _readiness_not_ready(schema: OpenAPI) -> None:
    """`GET /health/ready` answers 503 with the same report when not ready (service/http/health.py)."""
    ready = schema.paths.get("/health/ready") if schema.paths else None
    responses = ready.get.responses if ready is not None and ready.get is not None else None
    ok = (responses or {}).get("200")
    if responses is not None and isinstance(ok, OpenAPIResponse):
        responses["503"] = OpenAPIResponse(
            description="Not ready: the database does not answer, or migrations are pending", content=ok.content
        )


def complete_openapi(app: Litestar) -> OpenAPI:
    schema = app.openapi_schema
    publish_request_bodies(app, schema)
    _readiness_not_ready(schema)
    paths = schema.paths or {}
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # "/x/{id:str}" is "/x/{id}" in OpenAPI
        if not path.startswith("/api") or path not in paths:
            continue
        item = paths[path]
        for handler in getattr(route, "route_handlers", ()):
            for method in handler.http_methods:
                operation: Operation | None = getattr(item, method.lower(), None)
                if operation is None:
                    continue
                opt = handler.opt
                if model := opt.get("query"):
                    operation.parameters = [*(operation.parameters or []), *query_parameters(model)]
                operation.responses = operation.responses or {}
                statuses = _statuses(method, path, operation, opt)
                if "400" in operation.responses:  # Litestar's own 400 shape, never sent: the envelope instead
                    statuses = sorted({*statuses, 400})
                    del operation.responses["400"]
                for status in statuses:
                    operation.responses.setdefault(str(status), _error_response(status, path))
    return schema
