"""Password hashing: argon2id for new hashes; bcrypt hashes (from the earlier backend) still verify and are
upgraded on the next successful login. Hashing is CPU-bound, so it runs off the event loop."""

from __future__ import annotations

import asyncio

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored_hash: str, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash)."""
    if stored_hash.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            return bcrypt.checkpw(password.encode(), stored_hash.encode()), True
        except ValueError:
            return False, False
    try:
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(stored_hash)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


async def verify_password(stored_hash: str, password: str) -> tuple[bool, bool]:
    return await asyncio.to_thread(_verify, stored_hash, password)


# A real hash to verify against when the account does not exist, so timing does not reveal which emails exist.
DUMMY_HASH = _hash("flowcrm-no-such-user")
