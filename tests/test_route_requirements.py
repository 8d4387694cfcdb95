"""Typed permission requirements: a protected route without a valid one stops the app from being built."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.di import Provide

from service.app import create_app
from service.auth.current_user import SessionDependency, provide_session
from service.auth.permissions import Permission, Role
from service.auth.requirements import REQUIRES, Requirement, check_route_requirements, requires
from service.config import Settings
from service.dashboard.routes import DashboardController


def app_with(opt: dict[str, object], *, protected: bool = True) -> Litestar:
    if protected:

        @get("/probe", opt=opt)
        async def probe(session: SessionDependency) -> None:
            return None
    else:

        @get("/probe", opt=opt)
        async def probe() -> None:
            return None

    return Litestar(route_handlers=[probe], dependencies={"session": Provide(provide_session)})


def test_a_protected_route_with_a_requirement_passes() -> None:
    check_route_requirements(app_with(requires(Permission.CUSTOMERS)))
    check_route_requirements(app_with(requires()))  # any signed-in user, said explicitly
    check_route_requirements(app_with({}, protected=False))  # public


@pytest.mark.parametrize(
    "opt",
    [
        {},  # forgotten
        {REQUIRES: "modules.customers"},  # a string, not a Requirement
        {"permission": "modules.customers"},  # the old untyped form
        {**requires(Permission.CUSTOMERS), "roles": ("admin",)},  # an untyped key next to a typed one
    ],
    ids=["missing", "string", "old-form", "stray-key"],
)
def test_a_protected_route_without_a_valid_requirement_is_refused(opt: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="/probe"):
        check_route_requirements(app_with(opt))


def test_a_requirement_on_a_public_route_is_refused_as_never_checked() -> None:
    with pytest.raises(ValueError, match="takes no session"):
        check_route_requirements(app_with(requires(roles=(Role.ADMIN,)), protected=False))


def test_a_misspelt_or_untyped_permission_fails_at_import_time() -> None:
    with pytest.raises(ValueError):
        Permission("modules.customer")
    with pytest.raises(TypeError):
        Requirement(permissions=("modules.customers",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Requirement(roles=("admin",))  # type: ignore[arg-type]


def test_restricted_routes_document_their_403() -> None:
    assert requires(Permission.REPORTS)["errors"] == [403]
    assert "errors" not in requires()


def test_create_app_refuses_a_protected_route_without_a_requirement(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_app(settings)  # every real route declares one
    monkeypatch.setattr(DashboardController.dashboard, "opt", {})
    with pytest.raises(ValueError, match="dashboard"):
        create_app(settings)
