"""Users, roles, server-side sessions and API tokens (argon2 for passwords, SHA-256 for ids)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from balmon import limits
from balmon.errors import UserError
from balmon.storage.schema import api_tokens, sessions, users

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so timing does not tell
    (made on first use: hashing takes 0.2 s, which every command importing this paid)."""
    return _HASHER.hash("not-a-password")


def warm_up() -> None:
    """Make the dummy hash now, before the server takes its first login."""
    _dummy_hash()


class Role(IntEnum):
    """Each role can do everything the ones below it can."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise UserError(f"unknown role {name!r}: use viewer, operator or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request, and how they proved it."""

    name: str
    role: Role
    user_id: int | None
    session_hash: str | None = None
    csrf_token: str | None = None

    def can(self, role: Role) -> bool:
        return self.role >= role


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def add_user(engine: Engine, name: str, password: str, role: Role, now: datetime) -> None:
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    values = {"username": name, "password_hash": _HASHER.hash(password), "role": role.label}
    try:
        with engine.begin() as c:
            c.execute(insert(users).values(created_at=now, **values))
    except IntegrityError:
        raise UserError(f"user {name!r} exists already") from None


def set_password(engine: Engine, name: str, password: str) -> None:
    with engine.begin() as c:
        c.execute(
            update(users)
            .where(users.c.username == name)
            .values(password_hash=_HASHER.hash(password), disabled=False)
        )


def disable_user(engine: Engine, name: str, now: datetime) -> None:
    """Disable the user and end their sessions."""
    with engine.begin() as c:
        user_id = c.scalar(select(users.c.id).where(users.c.username == name))
        if user_id is None:
            raise UserError(f"no user {name!r}")
        c.execute(update(users).where(users.c.id == user_id).values(disabled=True))
        c.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def list_users(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(users).order_by(users.c.username)).all())


def authenticate(engine: Engine, name: str, password: str, now: datetime) -> Any | None:
    """The user row when the password matches an enabled user, else None."""
    user = None
    # A name no user can have (PostgreSQL refuses a NUL in any text) is an unknown user,
    # verified against the dummy hash all the same so it is not answered faster.
    if "\x00" not in name and len(name) <= limits.ACTOR:
        with engine.connect() as c:
            user = c.execute(select(users).where(users.c.username == name)).first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    with engine.begin() as c:
        c.execute(update(users).where(users.c.id == user.id).values(last_login_at=now))
    return user


def open_session(engine: Engine, user_id: int, now: datetime) -> str:
    """Start a server-side session; returns the cookie value (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as c:
        c.execute(
            insert(sessions).values(
                id_hash=digest(session_id),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(24),
                created_at=now,
                last_seen_at=now,
            )
        )
    return session_id


def session_principal(
    engine: Engine, session_id: str, now: datetime, idle: timedelta
) -> Principal | None:
    """The session's user, if the session is live; touching it keeps it alive."""
    key = digest(session_id)
    query = (
        select(sessions, users.c.username, users.c.role, users.c.disabled)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.id_hash == key)
    )
    with engine.connect() as c:
        row = c.execute(query).first()
    if row is None or row.revoked_at is not None or row.disabled or now - row.last_seen_at > idle:
        return None
    if now - row.last_seen_at > timedelta(seconds=30):
        _touch(engine, key, now)
    return Principal(row.username, Role.named(row.role), row.user_id, key, row.csrf_token)


def _touch(engine: Engine, key: str, now: datetime) -> None:
    with engine.begin() as c:
        c.execute(update(sessions).where(sessions.c.id_hash == key).values(last_seen_at=now))


def end_session(engine: Engine, session_hash: str, now: datetime) -> None:
    with engine.begin() as c:
        c.execute(update(sessions).where(sessions.c.id_hash == session_hash).values(revoked_at=now))


def create_token(engine: Engine, name: str, role: Role, now: datetime) -> str:
    """A new API token; only its hash is stored, so it is shown once."""
    token = "bm_" + secrets.token_urlsafe(32)
    try:
        with engine.begin() as c:
            c.execute(
                insert(api_tokens).values(
                    name=name, token_hash=digest(token), role=role.label, created_at=now
                )
            )
    except IntegrityError:
        raise UserError(f"token {name!r} exists already") from None
    return token


def revoke_token(engine: Engine, name: str, now: datetime) -> None:
    with engine.begin() as c:
        done = c.execute(update(api_tokens).where(api_tokens.c.name == name).values(revoked_at=now))
    if done.rowcount == 0:
        raise UserError(f"no token {name!r}")


def list_tokens(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(api_tokens).order_by(api_tokens.c.name)).all())


def token_principal(engine: Engine, token: str, now: datetime) -> Principal | None:
    key = digest(token)
    with engine.connect() as c:
        row = c.execute(select(api_tokens).where(api_tokens.c.token_hash == key)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, key):
        return None
    return Principal(f"token:{row.name}", Role.named(row.role), row.user_id)


def ensure_demo_user(engine: Engine, now: datetime) -> tuple[str, str]:
    """An admin `demo` with a fresh random password (printed by `balmon demo`)."""
    password = secrets.token_urlsafe(9)
    with engine.connect() as c:
        exists = c.scalar(select(users.c.id).where(users.c.username == "demo")) is not None
    if exists:
        set_password(engine, "demo", password)
    else:
        add_user(engine, "demo", password, Role.ADMIN, now)
    return "demo", password
