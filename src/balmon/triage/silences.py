"""Silences: known issues operators chose not to be alerted about.

A silence names a customer, an error code, or both, with a reason and an optional expiry.
Silenced customers are still verified, logged and shown as cases (marked silenced); only the
alert is held back (`alerts/outbox.py` records which silence held it). Silences are never
deleted: expiring one early records who did it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update

from balmon import limits
from balmon.errors import UserError
from balmon.storage.schema import silences

S = silences.c


@dataclass(frozen=True, slots=True)
class NewSilence:
    customer_id: str | None
    error_code: str | None
    reason: str
    expires_at: datetime | None = None


def active_at(now: datetime) -> ColumnElement[bool]:
    """Silences in force at `now`: started, not past their expiry, not expired early."""
    return and_(
        S.created_at <= now,
        or_(S.expires_at.is_(None), S.expires_at > now),
        or_(S.expired_at.is_(None), S.expired_at > now),
    )


def covering(customer: Any, code: Any) -> ColumnElement[bool]:
    """Silences that cover a customer and code (columns or values)."""
    return and_(
        or_(S.customer_id.is_(None), S.customer_id == customer),
        or_(S.error_code.is_(None), S.error_code == code),
    )


def add(engine: Engine, silence: NewSilence, *, actor: str, now: datetime) -> int:
    """Record a silence; returns its id."""
    if not silence.customer_id and not silence.error_code:
        raise UserError("a silence needs a customer, an error code, or both")
    if not silence.reason.strip():
        raise UserError("a silence needs a reason")
    if silence.customer_id:
        _check_customer_id(silence.customer_id)
    if silence.expires_at is not None and silence.expires_at <= now:
        raise UserError("the expiry is in the past")
    with engine.begin() as c:
        key = c.execute(
            insert(silences).values(
                customer_id=silence.customer_id or None,
                error_code=silence.error_code or None,
                reason=silence.reason.strip(),
                created_by=actor,
                created_at=now,
                expires_at=silence.expires_at,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def _check_customer_id(customer_id: str) -> None:
    """A silence that names a customer the customer file would never hold matches nothing."""
    if customer_id != customer_id.strip():
        raise UserError(
            "customer_id has spaces at its start or end: the customer file strips them, "
            "so this silence would never match"
        )
    problem = limits.unsafe_customer_id(customer_id)
    if problem is not None:
        raise UserError(f"{problem}: the customer file refuses such an id")


def expire(engine: Engine, silence_id: int, *, actor: str, now: datetime) -> bool:
    """End an active silence now; False when there is no such active silence."""
    with engine.begin() as c:
        done = c.execute(
            update(silences)
            .where(S.id == silence_id, active_at(now))
            .values(expired_by=actor, expired_at=now)
        )
    return bool(done.rowcount)


def item(row: Any, now: datetime) -> dict[str, Any]:
    ended = [t for t in (row.expires_at, row.expired_at) if t is not None and t <= now]
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "error_code": row.error_code,
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "expired_by": row.expired_by,
        "expired_at": row.expired_at.isoformat() if row.expired_at else None,
        "active": not ended,
    }


def listing(c: Connection, *, now: datetime, active_only: bool) -> list[dict[str, Any]]:
    """Silences, newest first (all of them, or only those in force)."""
    query = select(silences).order_by(S.id.desc())
    if active_only:
        query = query.where(active_at(now))
    return [item(r, now) for r in c.execute(query)]
