"""`audit_events`: what was done to the audit trail itself (anchors taken, retention applied,
holds added and released), append-only, with who, when, what and a digest."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert

from balmon.audit.seals import head
from balmon.storage.schema import audit_events


def details_text(details: dict[str, Any]) -> str:
    """An event's details as stored: canonical JSON (sorted keys, no spaces), which is also
    what a retention manifest's digest is computed over."""
    return json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def record(
    connection: Connection,
    action: str,
    *,
    actor: str,
    now: datetime,
    details: dict[str, Any],
    digest: str | None = None,
) -> int:
    """Append one event; returns its id."""
    text = details_text(details)
    key = connection.execute(
        insert(audit_events).values(at=now, actor=actor, action=action, details=text, digest=digest)
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def take_anchor(engine: Engine, *, actor: str, now: datetime) -> tuple[int, str]:
    """The digest over every seal to date (the newest seal's hash), recorded as an event;
    returns the number of seals it covers and the digest."""
    with engine.begin() as connection:
        seals, digest = head(connection)
        record(connection, "anchor", actor=actor, now=now, details={"seals": seals}, digest=digest)
    return seals, digest
