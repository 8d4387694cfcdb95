"""Audit log request and response models (contract 6.5)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from service.http.dates import DateRangeQuery
from service.http.schemas import NoNul, UtcDatetime, WireModel

AuditAction = Literal["login", "logout", "create", "update", "delete", "view"]


class AuditLogOut(WireModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    user_name: str
    action: AuditAction
    resource: str
    resource_id: uuid.UUID | None
    details: str | None
    ip_address: str | None
    user_agent: str | None
    created_at: UtcDatetime


class AuditLogListQuery(DateRangeQuery):
    user_id: uuid.UUID | None = None
    action: AuditAction | None = None
    resource: Annotated[str, NoNul, Field(max_length=100)] | None = None
    resource_id: uuid.UUID | None = None


class RecentQuery(BaseModel):
    """`GET /api/audit-logs/recent?limit=N`: 1..100, default 20."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    limit: Annotated[int, Field(ge=1, le=100)] = 20
