"""Who may call a protected route: a typed `Requirement` in the route's `opt` (under REQUIRES), checked when
the app is built, so a missing or misspelt requirement stops the start instead of failing at request time.

A route is protected when it takes the `session` dependency (service.auth.current_user); every such route
declares a Requirement (SIGNED_IN when any signed-in user may call it), and no other route declares one.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar

from service.auth.permissions import Permission, Role

REQUIRES = "requires"
_SESSION = "session"
_UNTYPED_KEYS = ("permission", "roles", "forbidden_message")  # the old string form: refused, not ignored


@dataclass(frozen=True)
class Requirement:
    """Any one of `permissions`, and one of `roles` when given; neither: any signed-in user. `forbidden_message`
    is a route's own 403 wording."""

    permissions: tuple[Permission, ...] = ()
    roles: tuple[Role, ...] = ()
    forbidden_message: str | None = None

    def __post_init__(self) -> None:
        # The types are the point: a plain string (or a typo) is refused at import, not at request time.
        if not all(isinstance(flag, Permission) for flag in self.permissions):
            raise TypeError(f"permissions must be Permission members, not {self.permissions!r}")
        if not all(isinstance(role, Role) for role in self.roles):
            raise TypeError(f"roles must be Role members, not {self.roles!r}")

    @property
    def restricted(self) -> bool:
        """True when some signed-in users are refused (a 403 is possible)."""
        return bool(self.permissions or self.roles)


SIGNED_IN = Requirement()


def requires(
    *permissions: Permission,
    roles: tuple[Role, ...] = (),
    forbidden_message: str | None = None,
) -> dict[str, Requirement | list[int]]:
    """The `opt` of a protected route: `opt=requires(Permission.CUSTOMERS)`; no argument: any signed-in user.
    A restricted route also lists 403 among its `errors`, for the OpenAPI document (service.http.openapi)."""
    requirement = Requirement(permissions, roles, forbidden_message)
    return {REQUIRES: requirement, **({"errors": [403]} if requirement.restricted else {})}


def check_route_requirements(app: Litestar) -> None:
    """Refuse to build an app where a protected route lacks a valid Requirement, or another route has one
    (it would never be checked)."""
    problems = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            name = f"{handler.handler_name} ({', '.join(sorted(handler.paths))})"
            protected = _SESSION in handler.parsed_fn_signature.parameters
            requirement = handler.opt.get(REQUIRES)
            if protected and not isinstance(requirement, Requirement):
                problems.append(f"{name} takes a session but its opt has no Requirement under {REQUIRES!r}")
            if not protected and requirement is not None:
                problems.append(f"{name} declares a Requirement but takes no session, so nothing checks it")
            if untyped := [key for key in _UNTYPED_KEYS if key in handler.opt]:
                problems.append(f"{name} uses untyped opt keys {untyped}: use requires(...)")
    if problems:
        raise ValueError("routes with invalid permission requirements: " + "; ".join(problems))
