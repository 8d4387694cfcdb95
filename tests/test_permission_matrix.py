"""The permission matrix: every /api route x every kind of caller, against README's permission table
(contract 7.9 / decision 10.2), written out here by hand so a change of rule or a new route shows up.

Outcomes are classes: 401 (no token), 403, or "allowed" (anything else: 200/201/204/404/409/422 all passed
authorization). Bodies are `{}`: authorization comes before body validation, so a forbidden caller gets 403,
never 422. No answer anywhere may carry password-hash material.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from decimal import Decimal

import asyncpg
import bcrypt
import httpx

from service.app import create_app
from service.config import Settings
from tests.factories import create_customer, create_presale, create_product, create_user, token_for

PUBLIC = {("GET", "/api/test"), ("POST", "/api/auth/login"), ("POST", "/api/auth/logout")}

# The flags each kind of caller holds, from README ("employee: products, customers, create and view own
# pre-sales; manager: also reports and all pre-sales"); admins hold everything.
ALL_FLAGS = {
    "modules.products",
    "modules.customers",
    "modules.reports",
    "modules.paymentMethods",
    "modules.userManagement",
    "presales.canCreate",
    "presales.canViewOwn",
    "presales.canViewAll",
}
CALLERS: dict[str, tuple[str, set[str]]] = {
    "admin": ("admin", ALL_FLAGS),
    "manager": (
        "manager",
        {
            "modules.products",
            "modules.customers",
            "modules.reports",
            "presales.canCreate",
            "presales.canViewOwn",
            "presales.canViewAll",
        },
    ),
    "employee": ("employee", {"modules.products", "modules.customers", "presales.canCreate", "presales.canViewOwn"}),
    "employee-nothing": ("employee", set()),  # a stored object with every flag false
    # pre-sales only (no module): tells "customers read = modules.customers OR presales.canCreate" apart
    "employee-presales-only": ("employee", {"presales.canCreate", "presales.canViewOwn"}),
}
NOTHING = {
    "modules": {name: False for name in ("products", "customers", "reports", "paymentMethods", "userManagement")},
    "presales": {name: False for name in ("canCreate", "canViewOwn", "canViewAll")},
}
PRESALES_ONLY = {
    "modules": dict(NOTHING["modules"]),
    "presales": {"canCreate": True, "canViewOwn": True, "canViewAll": False},
}
STORED = {"employee-nothing": NOTHING, "employee-presales-only": PRESALES_ONLY}

Rule = Callable[[str, set[str]], bool]  # (role, flags) -> allowed


def anyone(role: str, flags: set[str]) -> bool:
    return True


def roles(*names: str) -> Rule:
    return lambda role, flags: role in names


def any_flag(*names: str) -> Rule:
    return lambda role, flags: role == "admin" or bool(flags & set(names))


CUSTOMERS_READ = any_flag("modules.customers", "presales.canCreate")
PRESALES_READ = any_flag("presales.canViewAll", "presales.canViewOwn")
PRESALES_WRITE = any_flag("presales.canCreate")

EXPECTED: dict[tuple[str, str], Rule] = {
    ("GET", "/api/auth/me"): anyone,
    ("GET", "/api/auth/profile"): anyone,
    ("POST", "/api/auth/refresh"): anyone,
    ("POST", "/api/auth/register"): roles("admin"),
    ("GET", "/api/users"): roles("admin", "manager"),
    ("GET", "/api/users/{id}"): roles("admin", "manager"),
    ("PUT", "/api/users/{id}"): roles("admin"),
    ("DELETE", "/api/users/{id}"): roles("admin"),
    ("GET", "/api/customers"): CUSTOMERS_READ,
    ("GET", "/api/customers/{id}"): CUSTOMERS_READ,
    ("POST", "/api/customers"): any_flag("modules.customers"),
    ("PUT", "/api/customers/{id}"): any_flag("modules.customers"),
    ("DELETE", "/api/customers/{id}"): any_flag("modules.customers"),
    ("GET", "/api/products"): anyone,
    ("GET", "/api/products/{id}"): anyone,
    ("POST", "/api/products"): any_flag("modules.products"),
    ("PUT", "/api/products/{id}"): any_flag("modules.products"),
    ("DELETE", "/api/products/{id}"): any_flag("modules.products"),
    ("GET", "/api/presales"): PRESALES_READ,
    ("GET", "/api/presales/{id}"): PRESALES_READ,
    ("POST", "/api/presales"): PRESALES_WRITE,
    ("PUT", "/api/presales/{id}"): PRESALES_WRITE,
    ("DELETE", "/api/presales/{id}"): PRESALES_WRITE,
    ("PATCH", "/api/presales/{id}/status"): PRESALES_WRITE,
    ("POST", "/api/presales/{id}/convert"): PRESALES_WRITE,
    ("GET", "/api/payment-methods"): anyone,
    ("GET", "/api/payment-methods/{id}"): anyone,
    ("POST", "/api/payment-methods"): any_flag("modules.paymentMethods"),
    ("PUT", "/api/payment-methods/{id}"): any_flag("modules.paymentMethods"),
    ("PATCH", "/api/payment-methods/{id}/status"): any_flag("modules.paymentMethods"),
    ("DELETE", "/api/payment-methods/{id}"): any_flag("modules.paymentMethods"),
    ("POST", "/api/products/{id}/stock-adjustment"): anyone,
    ("GET", "/api/stock-adjustments"): anyone,
    ("GET", "/api/reports/payment-methods"): any_flag("modules.reports"),
    ("GET", "/api/reports/summary"): any_flag("modules.reports"),
    ("GET", "/api/dashboard"): anyone,
    ("GET", "/api/audit-logs"): roles("admin"),
    ("GET", "/api/audit-logs/recent"): roles("admin"),
}

HASH_MARKERS = ("$argon2", "$2b$", "$2a$", "$2y$")


def app_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, template) of every protected /api route the app serves, path parameters as {id}."""
    found = set()
    for route in create_app(settings).routes:
        if not route.path.startswith("/api"):
            continue
        for method in getattr(route, "methods", ()):
            if method not in {"HEAD", "OPTIONS"} and (method, route.path) not in PUBLIC:
                found.add((method, re.sub(r"\{[^}]+\}", "{id}", route.path)))
    return sorted(found)


def test_the_matrix_names_every_route_and_only_those(settings: Settings) -> None:
    routes = set(app_routes(settings))
    assert routes - set(EXPECTED) == set(), "a route without an entry in the permission matrix"
    assert set(EXPECTED) - routes == set(), "a matrix entry for a route the app does not serve"


async def test_every_route_for_every_caller(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Connection
) -> None:
    users = {
        name: await create_user(db, role, name=f"Matrix {name}", permissions=STORED.get(name))
        for name, (role, _flags) in CALLERS.items()
    }
    # A user imported from the earlier backend (bcrypt): its hash must never leak either.
    legacy_hash = bcrypt.hashpw(b"legacy-password", bcrypt.gensalt(rounds=4)).decode()
    await db.execute(
        "INSERT INTO users (email, password, name, role) VALUES ('legacy@example.com', $1, 'Legacy', 'employee')",
        legacy_hash,
    )
    customer = await create_customer(db)
    product = await create_product(db, stock=50)
    presale = await create_presale(
        db, customer["id"], [(product["id"], Decimal("1"), Decimal("15.00"))], created_by=users["admin"]["id"]
    )
    method = await db.fetchval("SELECT id FROM payment_methods ORDER BY code LIMIT 1")
    # Reads name real rows (so their bodies are checked for hashes); writes name ids that do not exist.
    real = {
        "/api/users/": users["employee"]["id"],
        "/api/customers/": customer["id"],
        "/api/products/": product["id"],
        "/api/presales/": presale["id"],
        "/api/payment-methods/": method,
    }

    def url(method_: str, template: str) -> str:
        target = uuid.uuid4()
        if method_ == "GET":
            target = next((value for prefix, value in real.items() if template.startswith(prefix)), target)
        return template.replace("{id}", str(target))

    problems: list[str] = []
    leaks: list[str] = []
    for method_, template in app_routes(settings):
        path = url(method_, template)
        response = await client.request(method_, path, json={})
        if response.status_code != 401:
            problems.append(f"{method_} {template} without a token: {response.status_code}")
        for name, (role, flags) in CALLERS.items():
            # A fresh token for every request: refresh revokes the one it is called with.
            headers = {"Authorization": f"Bearer {token_for(settings, users[name])}"}
            response = await client.request(method_, path, json={}, headers=headers)
            allowed = EXPECTED[(method_, template)](role, flags)
            got = response.status_code
            if got == 401 or (got == 403) == allowed:
                problems.append(
                    f"{method_} {template} as {name}: {got}, expected "
                    f"{'allowed' if allowed else 403}: {response.text[:200]}"
                )
            if got == 403:
                body = response.json()
                if body["success"] is not False or body["error"]["code"] != "FORBIDDEN":
                    problems.append(f"{method_} {template} as {name}: 403 outside the envelope: {response.text}")
            if any(marker in response.text for marker in HASH_MARKERS):
                leaks.append(f"{method_} {template} as {name}")
    assert problems == []
    assert leaks == []
    # The reads that matter for leaks did return users (so the check above looked at real user bodies).
    listing = await client.get("/api/users", headers={"Authorization": f"Bearer {token_for(settings, users['admin'])}"})
    assert listing.status_code == 200 and len(listing.json()["data"]) == len(CALLERS) + 1
