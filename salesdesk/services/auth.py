"""Passwords, login, and the role check every service call starts with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Role, User
from salesdesk.services.errors import AuthenticationError, NotAllowedError
from salesdesk.services.records import Actor

# scrypt cost: about 50 ms per hash here, 16 MiB of memory per attempt.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, display_name=user.display_name, role=user.role)


def login(db: Database, username: str, password: str) -> Actor:
    """Check a user name and password; the same message for every failure."""
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
        if user is None or not verify_password(password, user.password_hash):
            raise AuthenticationError("Wrong user name or password.")
        if not user.active:
            raise AuthenticationError(
                "This account is deactivated. Ask your manager to reactivate it."
            )
        return actor_of(user)


MANAGERS = (Role.MANAGER.value, Role.ADMIN.value)
ADMINS = (Role.ADMIN.value,)
ANYONE = (Role.REP.value, Role.MANAGER.value, Role.ADMIN.value)


def require(session: Session, actor: Actor, roles: tuple[str, ...] = ANYONE) -> User:
    """Load the actor's row inside the transaction and check it may act.

    The role and the active flag are read from the database, not from the
    ``Actor`` the client holds, so a deactivation or demotion takes effect on
    the very next click.
    """
    user = session.get(User, actor.id)
    if user is None or not user.active:
        raise NotAllowedError("Your account is deactivated; sign in again or ask your manager.")
    if user.role not in roles:
        raise NotAllowedError(_role_refusal(roles))
    return user


def _role_refusal(roles: tuple[str, ...]) -> str:
    if roles == ADMINS:
        return "Only an admin can do this."
    if roles == MANAGERS:
        return "Only a manager or an admin can do this."
    return "Your role does not allow this."
