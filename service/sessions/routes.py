"""Auth routes (contract 2.3, 2.4, 10.1): parse, call the service, wrap in the envelope."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from service.auth.current_user import SessionDependency, client_ip, client_user_agent
from service.auth.permissions import Role
from service.auth.ratelimit import login_limiter_for
from service.auth.requirements import requires
from service.http.envelope import ok
from service.http.schemas import Envelope
from service.sessions.schemas import LoginData, LoginRequest, TokenData
from service.sessions.service import AuthService, current_user_wire
from service.users.schemas import MessageEnvelope, UserCreate, UserOut
from service.users.service import UserService

Conn = NamedDependency[asyncpg.Connection]


def _presented_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization") or ""
    if not header.startswith("Bearer "):
        return None
    return header[7:].strip() or None


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        opt={"errors": [401, 429]},
        summary="Log in with email and password (public; rate limited per account and per client)",
    )
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest], conn: Conn, state: State
    ) -> Response[Envelope[LoginData]]:
        result = await AuthService(conn, state.settings).login(
            data, ip_address=client_ip(request), user_agent=client_user_agent(request), limiter=login_limiter_for(state)
        )
        return ok(result, "Login successful")

    @get(["/me", "/profile"], opt=requires(), summary="The current user")
    async def me(self, session: SessionDependency) -> Response[Envelope[UserOut]]:
        return ok(current_user_wire(session.user), "User retrieved")

    @post("/logout", status_code=200, summary="Log out: revokes the presented token, if any (public, no body)")
    async def logout(self, request: Request[Any, Any, Any], conn: Conn, state: State) -> Response[MessageEnvelope]:
        token = _presented_token(request)
        await AuthService(conn, state.settings).logout(
            token, ip_address=client_ip(request), user_agent=client_user_agent(request)
        )
        state.tokens.drop(token)  # before the answer: this process never accepts it again (other processes: NOTIFY)
        return ok(message="Logout successful")

    @post(
        "/refresh",
        status_code=200,
        opt=requires(),
        summary="A new token for the current one, which is revoked (no body)",
    )
    async def refresh(
        self, request: Request[Any, Any, Any], state: State, session: SessionDependency
    ) -> Response[Envelope[TokenData]]:
        conn, user = session
        result = await AuthService(conn, state.settings).refresh(user)
        state.tokens.drop(_presented_token(request))  # revoked: as for logout
        return ok(result, "Token refreshed")

    @post("/register", opt=requires(roles=(Role.ADMIN,)), summary="Create a user (admin)")
    async def register(self, data: JSONBody[UserCreate], session: SessionDependency) -> Response[Envelope[UserOut]]:
        conn, user = session
        return ok(await UserService(conn, user).create(data), "User created successfully", status_code=201)
