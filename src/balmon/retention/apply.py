"""`balmon retention apply`: archive the rows past their limit, check the archive, delete them.

One transaction does it all, table by table (rows before the rows they point at): select
the table's eligible rows (`policy`), write them to the archive, read the archive back and
check it, then delete exactly those rows through the database's one deletion path (the
retention gate, open only inside this transaction). At the end the manifest is written,
its digest sealed and the application recorded in `audit_events`. Any problem rolls all of
it back and removes the archive. A dry run does the same in a scratch directory and rolls
back, so what it prints is exactly what a real run would archive and delete.

Nothing is archived while `audit verify` finds the trail broken in the dates concerned:
evidence of tampering is kept, not archived away.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, Engine, and_, delete, func, insert, or_, select

from balmon.audit.chain import Segment
from balmon.audit.events import details_text, record
from balmon.audit.manifests import RETENTION, Archived, recorded
from balmon.audit.seals import seal
from balmon.audit.verify import snapshot, verify
from balmon.config.settings import RetentionSettings
from balmon.errors import RetentionError
from balmon.retention.archive import FORMAT, MANIFEST, ArchiveWriter, check_file
from balmon.retention.policy import TABLES, Holds, Policy, Retained, holds_in_force
from balmon.storage.schema import audit_events, chain_seals, retention_gate

PAGE = 5000  # rows read per query
RANGES_PER_DELETE = 200


@dataclass
class Applied:
    name: str
    dry_run: bool
    policy: Policy
    holds: Holds
    files: list[dict[str, Any]] = field(default_factory=list)
    directory: Path | None = None
    digest: str | None = None

    def rows(self) -> dict[str, int]:
        counts = {t.name: 0 for t in TABLES}
        for entry in self.files:
            counts[entry["table"]] += entry["rows"]
        return counts


def apply(
    engine: Engine,
    settings: RetentionSettings,
    *,
    now: datetime,
    actor: str,
    dry_run: bool = False,
) -> Applied:
    """Archive and delete every row past its limit and not held; see the module's text."""
    policy = Policy.of(settings, now.date())
    _refuse_when_broken(engine, policy)
    name = f"retention-{now:%Y%m%dT%H%M%SZ}"
    scratch = Path(tempfile.mkdtemp(prefix="balmon-retention-")) if dry_run else None
    root = (scratch or settings.archive_dir) / name
    try:
        root.mkdir(parents=True)
    except FileExistsError:
        raise RetentionError(f"{root} already exists: one application per second") from None
    except OSError as exc:
        raise RetentionError(f"cannot create the archive {root}: {exc.strerror}") from None
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            applied = _archive_and_delete(connection, policy, root, name, now=now, actor=actor)
            if dry_run:
                transaction.rollback()
        applied.dry_run, applied.directory = dry_run, None if dry_run else root
        return applied
    except OSError as exc:  # a full or read-only disk: nothing was deleted
        shutil.rmtree(root, ignore_errors=True)
        raise RetentionError(
            f"cannot write the archive {root}: {exc.strerror or exc}; nothing was deleted"
        ) from None
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def last_applied(connection: Connection) -> datetime | None:
    """When retention was last applied (by hand or by a scheduler), if ever."""
    last = connection.scalar(
        select(func.max(audit_events.c.at)).where(audit_events.c.action == RETENTION)
    )
    return last.replace(tzinfo=UTC) if isinstance(last, datetime) and last.tzinfo is None else last


def _refuse_when_broken(engine: Engine, policy: Policy) -> None:
    last = max(policy.cutoff(t.name) for t in TABLES) - timedelta(days=1)
    with snapshot(engine) as connection:
        report = verify(connection, end=last)
    if not report.intact:
        raise RetentionError(
            f"`balmon audit verify --to {last}` finds {len(report.findings)} problems; "
            "nothing was archived or deleted (keep the evidence, investigate first)"
        )


def _archive_and_delete(
    connection: Connection, policy: Policy, root: Path, name: str, *, now: datetime, actor: str
) -> Applied:
    holds = holds_in_force(connection)
    applied = Applied(name, False, policy, holds)
    earlier = recorded(connection, _seals(connection)).archived
    token = secrets.token_hex(16)
    connection.execute(insert(retention_gate).values(token=token, opened_at=now))
    for retained in TABLES:
        entries = _archive(connection, retained, policy, holds, root, earlier)
        for entry in entries:
            problems = check_file(root, entry, retained.table)
            if problems:
                raise RetentionError(f"the archive read back wrong: {problems[0]}")
        archived = sum(e["rows"] for e in entries)
        deleted = _delete(connection, retained, entries)
        if deleted != archived:
            raise RetentionError(
                f"{retained.name}: archived {archived} rows but {deleted} were deleted "
                "(the table changed meanwhile); nothing was deleted"
            )
        applied.files += entries
    manifest = _manifest(applied, now=now, actor=actor, dialect=connection.dialect.name)
    text = details_text(manifest)
    (root / MANIFEST).write_text(text, encoding="utf-8")
    applied.digest = digest = _sha256(text)
    total = sum(e["rows"] for e in applied.files)
    seal(connection, Segment(RETENTION, name, None, None, total, digest), by=actor, now=now)
    record(connection, RETENTION, actor=actor, now=now, details=manifest, digest=digest)
    connection.execute(delete(retention_gate).where(retention_gate.c.token == token))
    return applied


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _seals(connection: Connection) -> dict[tuple[str, str], Any]:
    return {(s.table_name, s.segment): s for s in connection.execute(select(chain_seals))}


def _manifest(applied: Applied, *, now: datetime, actor: str, dialect: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": applied.name,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "actor": actor,
        "database": dialect,
        "today": applied.policy.today.isoformat(),
        "keep_days": applied.policy.keep_days,
        "cutoffs": {t.name: applied.policy.cutoff(t.name).isoformat() for t in TABLES},
        "holds": list(applied.holds.rows),
        "rows": applied.rows(),
        "files": applied.files,
    }


def _eligible_rows(
    connection: Connection, retained: Retained, policy: Policy, holds: Holds
) -> Iterator[Any]:
    t = retained.table
    columns = [*t.columns, *retained.extra, retained.day.label("_day")]
    if retained.logged is not None:
        columns.append(retained.logged.label("_logged"))
    query = select(*columns).select_from(retained.source).where(policy.eligible(retained, holds))
    if retained.keys != ("id",):
        yield from connection.execute(query.order_by(*(t.c[k] for k in retained.keys)))
        return
    last = 0
    while True:
        page = connection.execute(query.where(t.c.id > last).order_by(t.c.id).limit(PAGE)).all()
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].id


def _without_kept_children(
    connection: Connection, retained: Retained, rows: list[Any]
) -> list[Any]:
    """A row another row of the same table points at (a rerun's original run) goes only with
    every row pointing at it."""
    t, parent = retained.table, retained.table.c[retained.parent or ""]
    children = connection.execute(select(t.c.id, parent).where(parent.is_not(None))).all()
    going = {row.id for row in rows}
    changed = True
    while changed:
        staying = {pointed for child, pointed in children if child not in going}
        changed = bool(going & staying)
        going -= staying
    return [row for row in rows if row.id in going]


def _archive(
    connection: Connection,
    retained: Retained,
    policy: Policy,
    holds: Holds,
    root: Path,
    earlier: Archived,
) -> list[dict[str, Any]]:
    writer = ArchiveWriter(root, retained.name)
    rows: Any = _eligible_rows(connection, retained, policy, holds)
    if retained.parent is not None:
        rows = _without_kept_children(connection, retained, list(rows))
    names = [c.name for c in retained.table.columns] + [c.name for c in retained.extra]
    for row in rows:
        m = row._mapping
        data = {n: m[n] for n in names}
        day: date = m["_day"] if m["_day"] is not None else m["_logged"].date()
        before = None
        if retained.chained:

            def before(row: Any = row) -> str:
                return _hash_before(connection, retained, row, earlier)

        writer.write(f"{day:%Y-%m}", data, [data[k] for k in retained.keys], before)
    return writer.close()


def _hash_before(connection: Connection, retained: Retained, row: Any, earlier: Archived) -> str:
    """The hash at the position before `row` in its segment: in the database, or in the
    manifest that archived it earlier."""
    t = retained.table
    segment, seq = row.chain_segment, row.chain_seq
    where = [t.c.chain_segment == segment, t.c.chain_seq == seq - 1]
    if "run_id" in t.c:  # attempts and results are found through their run's index
        where.append(t.c.run_id.is_(None) if row.run_id is None else t.c.run_id == row.run_id)
    found = connection.scalar(select(t.c.chain_hash).where(*where))
    if found is not None:
        return str(found)
    for run in earlier.get((t.name, segment), []):
        if run[1] == seq - 1:
            return str(run[3])
    raise RetentionError(f"{t.name} segment {segment}: position {seq - 1} is nowhere")


def _delete(connection: Connection, retained: Retained, entries: list[dict[str, Any]]) -> int:
    t = retained.table
    deleted = 0
    if retained.parent is not None:  # few rows: one by one, newest first (reruns first)
        ids = sorted(
            (i for e in entries for a, b in e["ids"] for i in range(a, b + 1)), reverse=True
        )
        for i in ids:
            deleted += connection.execute(delete(t).where(t.c.id == i)).rowcount
        return deleted
    if retained.keys == ("id",):
        ranges = [t.c.id.between(a, b) for e in entries for a, b in e["ids"]]
        for i in range(0, len(ranges), RANGES_PER_DELETE):
            statement = delete(t).where(or_(*ranges[i : i + RANGES_PER_DELETE]))
            deleted += connection.execute(statement).rowcount
        return deleted
    keys = [t.c[k] for k in retained.keys]
    for entry in entries:
        for values in entry["keys"]:
            # Keys come back from the archive's JSON as text: a date column's as its ISO form.
            typed = [
                date.fromisoformat(v) if isinstance(k.type, Date) else v
                for k, v in zip(keys, values, strict=True)
            ]
            where = and_(*(k == v for k, v in zip(keys, typed, strict=True)))
            deleted += connection.execute(delete(t).where(where)).rowcount
    return deleted
