"""What retention archived, as its manifests recorded in `audit_events` say, checked.

Each retention application records its manifest (canonical JSON) as an `audit_events` row
with the manifest's SHA-256 as digest, and seals that digest in the seal chain (table
"retention", segment the archive's name), so an anchor taken after it covers it. Verify reads
them back to know which chain positions left the database through the archive, and checks
that retention left exactly what each manifest says: no archived row is still there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, and_, func, or_, select

from balmon.storage.schema import audit_events, metadata

RETENTION = "retention"  # the audit_events action, and the seals' table_name
# Per (table, segment): runs of archived positions, [first, last, hash before, hash at last].
Archived = dict[tuple[str, str], list[list[Any]]]


@dataclass
class Recorded:
    archived: Archived = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    manifests: int = 0
    rows: int = 0


def recorded(connection: Connection, seals: dict[tuple[str, str], Any]) -> Recorded:
    """Every recorded manifest: its digest, its seal, and that its rows are gone."""
    found = Recorded()
    events = connection.execute(
        select(audit_events.c.id, audit_events.c.details, audit_events.c.digest)
        .where(audit_events.c.action == RETENTION)
        .order_by(audit_events.c.id)
    )
    for event_id, text, digest in events:
        found.manifests += 1
        manifest = json.loads(text)
        name = manifest.get("name", "?")
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            found.problems.append(f"retention event {event_id}: its manifest was changed")
        seal = seals.get((RETENTION, name))
        if seal is None or seal.last_hash != digest:
            found.problems.append(f"manifest {name}: no seal carries its digest")
        for entry in manifest.get("files", []):
            found.rows += int(entry["rows"])
            for segment, runs in entry.get("segments", {}).items():
                found.archived.setdefault((entry["table"], segment), []).extend(runs)
            left = _still_there(connection, entry)
            if left:
                found.problems.append(
                    f"manifest {name}: {left} rows of {entry['path']} are still in "
                    f"{entry['table']}, which it says were archived and deleted"
                )
    for runs in found.archived.values():
        runs.sort()
    return found


def _still_there(connection: Connection, entry: dict[str, Any]) -> int:
    table = metadata.tables[entry["table"]]
    if "ids" in entry:
        ranges = [table.c.id.between(first, last) for first, last in entry["ids"]]
        total = 0
        for i in range(0, len(ranges), 200):
            where = or_(*ranges[i : i + 200])
            total += connection.scalar(select(func.count()).select_from(table).where(where)) or 0
        return total
    key = list(table.primary_key.columns)
    total = 0
    for values in entry.get("keys", []):
        typed = [_typed(c, v) for c, v in zip(key, values, strict=True)]
        where = and_(*(c == v for c, v in zip(key, typed, strict=True)))
        total += connection.scalar(select(func.count()).select_from(table).where(where)) or 0
    return total


def _typed(column: Any, item: Any) -> Any:
    """A key value from a manifest (dates are ISO text there) as its column takes it."""
    return date.fromisoformat(item) if isinstance(column.type, Date) and item else item
