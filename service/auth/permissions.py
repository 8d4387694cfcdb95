"""The permission model of contract 2.5 and decision 10.2.

Admins may do everything. Other users have their stored `permissions` object, or the defaults of their
role where it is null. Responses always carry the complete effective object, so the web app (which treats
managers as employees when the object is null) shows what the server enforces.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Permission(StrEnum):
    """One flag of the stored permissions object, as `group.name`."""

    PRODUCTS = "modules.products"
    CUSTOMERS = "modules.customers"
    REPORTS = "modules.reports"
    PAYMENT_METHODS = "modules.paymentMethods"
    USER_MANAGEMENT = "modules.userManagement"
    PRESALES_CREATE = "presales.canCreate"
    PRESALES_VIEW_OWN = "presales.canViewOwn"
    PRESALES_VIEW_ALL = "presales.canViewAll"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    EMPLOYEE = "employee"


FLAGS = tuple(flag.value for flag in Permission)

_ROLE_DEFAULTS: dict[str, frozenset[str]] = {
    "admin": frozenset(FLAGS),
    "manager": frozenset(
        {
            "modules.products",
            "modules.customers",
            "modules.reports",
            "presales.canCreate",
            "presales.canViewOwn",
            "presales.canViewAll",
        }
    ),
    "employee": frozenset({"modules.products", "modules.customers", "presales.canCreate", "presales.canViewOwn"}),
}


def as_object(granted: frozenset[str]) -> dict[str, dict[str, bool]]:
    result: dict[str, dict[str, bool]] = {"modules": {}, "presales": {}}
    for flag in FLAGS:
        group, name = flag.split(".")
        result[group][name] = flag in granted
    return result


def granted_flags(role: str, stored: dict[str, Any] | None) -> frozenset[str]:
    """The flags a user holds. A stored object is used as is: a flag it lacks is not granted."""
    if role == "admin":
        return _ROLE_DEFAULTS["admin"]
    if not stored:
        return _ROLE_DEFAULTS.get(role, frozenset())
    granted = set()
    for flag in FLAGS:
        group, name = flag.split(".")
        section = stored.get(group)
        if isinstance(section, dict) and section.get(name) is True:
            granted.add(flag)
    return frozenset(granted)


def effective_permissions(role: str, stored: dict[str, Any] | None) -> dict[str, dict[str, bool]]:
    return as_object(granted_flags(role, stored))
