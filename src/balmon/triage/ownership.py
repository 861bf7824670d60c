"""Who owns a case: acknowledging it ("I'm on it"), assigning it, and notes on it.

Each change is one `case_events` row, written with the case's own columns in one transaction
and hash-chained and sealed in it (`audit.seal_rows`), so the case's history is an audit
record as its resolutions are. A resolved case is not acknowledged or assigned (`Refused.
RESOLVED`); a note on it is a comment, never a second resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from balmon import audit
from balmon.storage.schema import case_events, cases, users
from balmon.storage.states import CaseAction
from balmon.triage.cases import CaseFilter

C, V = cases.c, case_events.c


class Refused(StrEnum):
    NO_CASE = "no such case"
    RESOLVED = "the case is resolved"
    UNKNOWN_OWNER = "no dashboard user has that name"


@dataclass(frozen=True, slots=True)
class Change:
    """What one request did: `changed` False when the case already was so (no new event)."""

    case_id: int
    changed: bool


def known_user(connection: Connection, name: str) -> bool:
    """A dashboard user who may own a case (enabled)."""
    query = select(users.c.id).where(users.c.username == name, users.c.disabled.is_(False))
    return connection.scalar(query) is not None


def _locked(connection: Connection, case_id: int) -> Any:
    return connection.execute(select(cases).where(C.id == case_id).with_for_update()).first()


def _record(
    connection: Connection,
    row: Any,
    action: CaseAction,
    *,
    actor: str,
    now: datetime,
    owner: str | None = None,
    notes: str | None = None,
) -> int:
    key = connection.execute(
        insert(case_events).values(
            case_id=row.id,
            business_date=row.business_date,
            customer_id=row.customer_id,
            action=action.value,
            owner=owner,
            notes=notes,
            actor=actor,
            at=now,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def _acknowledge(
    connection: Connection, row: Any, *, actor: str, notes: str | None, now: datetime
) -> int | None:
    if row.acknowledged_at is not None:
        return None
    connection.execute(
        update(cases).where(C.id == row.id).values(acknowledged_by=actor, acknowledged_at=now)
    )
    return _record(connection, row, CaseAction.ACKNOWLEDGED, actor=actor, now=now, notes=notes)


def _assign(
    connection: Connection, row: Any, *, owner: str | None, actor: str, now: datetime
) -> int | None:
    if row.owner == owner:
        return None
    connection.execute(update(cases).where(C.id == row.id).values(owner=owner))
    action = CaseAction.ASSIGNED if owner is not None else CaseAction.UNASSIGNED
    return _record(connection, row, action, actor=actor, now=now, owner=owner)


def _one(
    engine: Engine, case_id: int, *, actor: str, now: datetime, open_only: bool, act: Any
) -> Change | Refused:
    with engine.begin() as connection:
        row = _locked(connection, case_id)
        if row is None:
            return Refused.NO_CASE
        if open_only and row.open_attempts == 0:
            return Refused.RESOLVED
        event = act(connection, row)
        if event is not None:
            audit.seal_rows(connection, case_events, [event], by=actor, now=now)
        return Change(case_id, event is not None)


def acknowledge(
    engine: Engine, case_id: int, *, actor: str, now: datetime, notes: str | None = None
) -> Change | Refused:
    """Say "I'm on it": escalation stops. Acknowledging again changes nothing."""

    def act(connection: Connection, row: Any) -> int | None:
        return _acknowledge(connection, row, actor=actor, notes=notes, now=now)

    return _one(engine, case_id, actor=actor, now=now, open_only=True, act=act)


def assign(
    engine: Engine, case_id: int, *, owner: str | None, actor: str, now: datetime
) -> Change | Refused:
    """Give the case to `owner` (a dashboard user), or to nobody (None)."""
    if owner is not None:
        with engine.connect() as connection:
            if not known_user(connection, owner):
                return Refused.UNKNOWN_OWNER

    def act(connection: Connection, row: Any) -> int | None:
        return _assign(connection, row, owner=owner, actor=actor, now=now)

    return _one(engine, case_id, actor=actor, now=now, open_only=True, act=act)


def comment(
    engine: Engine, case_id: int, *, notes: str, actor: str, now: datetime
) -> Change | Refused:
    """A note in the case's history, on an open or a resolved case."""

    def act(connection: Connection, row: Any) -> int:
        return _record(connection, row, CaseAction.COMMENT, actor=actor, now=now, notes=notes)

    return _one(engine, case_id, actor=actor, now=now, open_only=False, act=act)


def _matching(connection: Connection, f: CaseFilter) -> Iterable[Any]:
    where = f.conditions(connection.dialect.name)
    return connection.execute(select(cases).where(*where, C.open_attempts > 0)).all()


def acknowledge_matching(
    engine: Engine, f: CaseFilter, *, actor: str, now: datetime, notes: str | None = None
) -> int:
    """Acknowledge every open case the filter matches (all pages), in one transaction;
    returns how many were not acknowledged before."""
    with engine.begin() as connection:
        events = [
            event
            for row in _matching(connection, f)
            if (event := _acknowledge(connection, row, actor=actor, notes=notes, now=now))
        ]
        audit.seal_rows(connection, case_events, events, by=actor, now=now)
    return len(events)


def assign_matching(
    engine: Engine, f: CaseFilter, *, owner: str | None, actor: str, now: datetime
) -> int | Refused:
    """Assign every open case the filter matches to `owner`; how many changed hands."""
    with engine.begin() as connection:
        if owner is not None and not known_user(connection, owner):
            return Refused.UNKNOWN_OWNER
        events = [
            event
            for row in _matching(connection, f)
            if (event := _assign(connection, row, owner=owner, actor=actor, now=now))
        ]
        audit.seal_rows(connection, case_events, events, by=actor, now=now)
    return len(events)
