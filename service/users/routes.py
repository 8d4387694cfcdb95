"""User routes (contract 5.2, 10.2): parse, call the service, wrap in the envelope.

Creating a user is `POST /api/auth/register` (service.sessions.routes), as the web app calls it.
"""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from service.auth.current_user import SessionDependency
from service.auth.permissions import Role
from service.auth.requirements import requires
from service.http.envelope import ok
from service.http.schemas import Envelope
from service.users.schemas import MessageEnvelope, UserOut, UserUpdate
from service.users.service import UserService

READ = requires(roles=(Role.ADMIN, Role.MANAGER))
WRITE = requires(roles=(Role.ADMIN,))


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]

    @get("/", opt=READ, summary="List users (admin or manager), ordered by name")
    async def list_users(self, session: SessionDependency) -> Response[Envelope[list[UserOut]]]:
        conn = session.conn
        return ok(await UserService(conn).list(), "Users retrieved")

    @get("/{user_id:str}", opt=READ, summary="Get a user (admin or manager)")
    async def get_user(self, user_id: FromPath[uuid.UUID], session: SessionDependency) -> Response[Envelope[UserOut]]:
        conn = session.conn
        return ok(await UserService(conn).get(user_id), "User retrieved")

    @put("/{user_id:str}", opt=WRITE, summary="Update a user (admin); a new password, email or role logs them out")
    async def update_user(
        self, user_id: FromPath[uuid.UUID], data: JSONBody[UserUpdate], session: SessionDependency, state: State
    ) -> Response[Envelope[UserOut]]:
        conn, user = session
        updated = await UserService(conn, user).update(user_id, data)
        state.tokens.forget(str(user_id))  # before the answer; other processes hear it from the database
        return ok(updated, "User updated")

    @delete("/{user_id:str}", opt=WRITE, status_code=200, summary="Delete a user (admin; not yourself)")
    async def delete_user(
        self, user_id: FromPath[uuid.UUID], session: SessionDependency, state: State
    ) -> Response[MessageEnvelope]:
        conn, user = session
        await UserService(conn, user).delete(user_id, acting_user_id=user.id)
        state.tokens.forget(str(user_id))
        return ok(message="User deleted")
