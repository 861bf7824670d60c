"""`balmon audit verify`: recompute every chain and seal, and say where the trail was changed.

Reports, per segment, the first row that breaks it and what is wrong with it:

- **changed**: a row's fields no longer give its hash;
- **deleted**: positions missing in a segment, or every row of a sealed segment gone;
- **inserted**: a row with no hash, or a second row at a position already taken;
- **reordered**: positions swapped between rows (the ids no longer follow them);
- **re-dated**: a row whose business date is not its segment's;
- **seal missing** / **seal mismatch**: a finished segment without a seal, or whose rows do
  not end where its seal says (rows removed from or added to its end, or rewritten);
- **seal chain**: a seal changed, removed or inserted, or the newest ones removed.

A segment of a run still running is listed as open, not as a finding. Every seal is checked
whatever the date range (they are few); rows are checked for segments of the range.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, Engine, Select, false, func, null, or_, select

from balmon.audit.canonical import genesis
from balmon.audit.chain import row_hash
from balmon.audit.manifests import Archived, recorded
from balmon.audit.seals import SEAL_GENESIS, seal_hash
from balmon.storage.schema import (
    case_events,
    chain_head,
    chain_seals,
    error_log_resolutions,
    error_logs,
    verification_results,
    verification_runs,
)
from balmon.storage.states import RunStatus

BATCH = 200  # segments per query
MOST_UNHASHED = 20  # rows without a hash listed one by one, per table


@dataclass(frozen=True, slots=True)
class Finding:
    problem: str
    table: str
    detail: str
    segment: str | None = None
    row_id: int | None = None
    seq: int | None = None
    business_date: date | None = None


@dataclass
class Report:
    start: date | None
    end: date | None
    seals: int = 0
    segments: int = 0
    rows: int = 0
    open_segments: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    head: str = SEAL_GENESIS
    anchor: str | None = None
    anchor_found: bool | None = None
    manifests: int = 0
    archived_rows: int = 0

    @property
    def intact(self) -> bool:
        return not self.findings and self.anchor_found is not False

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON values (dates as YYYY-MM-DD)."""
        data = asdict(self)
        data["findings"] = [
            {k: v.isoformat() if isinstance(v, date) else v for k, v in f.items()}
            for f in data["findings"]
        ]
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        data["intact"] = self.intact
        return data


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that reads one state of the database throughout, so that verify never
    sees a seal without its rows, or rows without their seal, while balmon keeps writing."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN")  # the driver begins only before writes
            yield connection


def verify(
    connection: Connection,
    *,
    start: date | None = None,
    end: date | None = None,
    anchor: str | None = None,
) -> Report:
    """Check the seal chain and retention's manifests, then every segment of `start`..`end`
    (all when None). Positions a manifest says were archived must be gone, and the rows
    around them must link to the hashes it recorded for them."""
    report = Report(start, end, anchor=anchor)
    seals = _check_seal_chain(connection, report)
    manifests = recorded(connection, seals)
    report.manifests, report.archived_rows = manifests.manifests, manifests.rows
    for problem in manifests.problems:
        report.findings.append(Finding("archive", "audit_events", problem))
    archived = manifests.archived
    wanted = [
        s
        for s in seals.values()
        if (start is None or (s.business_date is not None and s.business_date >= start))
        and (end is None or (s.business_date is not None and s.business_date <= end))
    ]
    running = set(
        connection.scalars(
            select(verification_runs.c.id).where(verification_runs.c.status == RunStatus.RUNNING)
        )
    )
    for table in CHAINED:
        names: dict[str, set[int | None]] = {}
        for s in wanted:
            if s.table_name == table:
                names.setdefault(s.segment, set()).add(s.run_id)
        for name, run_id in _segments_with_rows_in_range(connection, table, start, end):
            names.setdefault(name, set()).add(run_id)
        _check_unhashed(connection, table, start, end, report)
        seen: set[str] = set()
        for segment, rows in _segment_rows(connection, table, names):
            seen.add(segment)
            report.segments += 1
            seal = seals.get((table, segment))
            _check_segment(table, segment, rows, seal, running, archived, report)
        if table == "error_logs":
            _check_resolutions(connection, start, end, report)
        _check_gone(table, names.keys() - seen, seals, archived, report)
    return report


def _check_gone(
    table: str,
    gone_names: set[str],
    seals: dict[tuple[str, str], Any],
    archived: Archived,
    report: Report,
) -> None:
    """Segments with no row left: fine when retention archived every position as sealed."""
    for name in sorted(gone_names):
        seal = seals.get((table, name))
        report.segments += 1
        if seal is None:
            continue
        gaps = _gaps(archived, table, name)
        previous, expected = _skip_archived(gaps, genesis(name), 1)
        if expected == 1:
            detail = "every row of this sealed segment is gone"
            report.findings.append(Finding("deleted", table, detail, name))
        elif expected - 1 != seal.rows or previous != seal.last_hash:
            detail = "the archive manifests do not end where the seal of the segment ends"
            report.findings.append(Finding("seal mismatch", table, detail, name))


def _gaps(archived: Archived, table: str, segment: str) -> dict[int, list[Any]]:
    """The archived runs of positions of a segment, by first position."""
    return {run[0]: run for run in archived.get((table, segment), [])}


def _skip_archived(gaps: dict[int, list[Any]], previous: str, expected: int) -> tuple[str, int]:
    """Move past archived runs that start at `expected` and link to `previous`."""
    while expected in gaps and gaps[expected][2] == previous:
        run = gaps.pop(expected)
        previous, expected = run[3], run[1] + 1
    return previous, expected


def _check_seal_chain(connection: Connection, report: Report) -> dict[tuple[str, str], Any]:
    seals: dict[tuple[str, str], Any] = {}
    previous = SEAL_GENESIS
    found_anchor = False
    for seal in connection.execute(select(chain_seals).order_by(chain_seals.c.id)):
        report.seals += 1
        if seal.prev_hash != previous:
            report.findings.append(
                Finding(
                    "seal chain",
                    "chain_seals",
                    f"seal {seal.id} does not follow the seal "
                    "before it: a seal was removed or inserted",
                    seal.segment,
                    seal.id,
                )
            )
        elif seal_hash(previous, seal) != seal.seal_hash:
            report.findings.append(
                Finding(
                    "seal chain",
                    "chain_seals",
                    f"seal {seal.id} was changed",
                    seal.segment,
                    seal.id,
                )
            )
        previous = seal.seal_hash
        found_anchor = found_anchor or seal.seal_hash == report.anchor
        seals[(seal.table_name, seal.segment)] = seal
    count, head = connection.execute(select(chain_head.c.seals, chain_head.c.head)).one()
    report.head = previous
    if head != previous or count != report.seals:
        report.findings.append(
            Finding(
                "seal chain",
                "chain_seals",
                f"the chain head records {count} seals ending "
                f"in {head[:12]}…, the table has {report.seals} ending in {previous[:12]}…: "
                "the newest seals were removed or added",
            )
        )
    if report.anchor is not None:
        report.anchor_found = found_anchor
        if not found_anchor:
            report.findings.append(
                Finding(
                    "anchor",
                    "chain_seals",
                    "no seal has this digest: the seals were "
                    "rewritten since the anchor was taken, or the digest is wrong",
                )
            )
    return seals


# The hash-chained tables, in the order verify reads them.
CHAINED = ("error_logs", "verification_results", "error_log_resolutions", "case_events")
_DATED = {t.name: t for t in (error_logs, verification_results, case_events)}
# Histories whose segments belong to no run: read through their own chain index.
_RUNLESS = ("error_log_resolutions", "case_events")


def _dated(table: str) -> tuple[Any, Any]:
    """The table and the business date each of its rows belongs to."""
    if table == "error_log_resolutions":
        joined = error_log_resolutions.outerjoin(
            error_logs, error_logs.c.id == error_log_resolutions.c.error_log_id
        )
        return joined, error_logs.c.business_date
    t = _DATED[table]
    return t, t.c.business_date


def _in_range(day: Any, start: date | None, end: date | None) -> list[Any]:
    where = []
    if start is not None:
        where.append(day >= start)
    if end is not None:
        where.append(day <= end)
    return where


def _columns(table: str) -> tuple[Any, Any]:
    if table == "error_log_resolutions":
        h = error_log_resolutions
        query: Select[Any] = select(
            h, error_logs.c.chain_hash.label("attempt_hash"), error_logs.c.business_date
        ).outerjoin(error_logs, error_logs.c.id == h.c.error_log_id)
        return query, h.c
    t = _DATED[table]
    return select(t), t.c


def _segments_with_rows_in_range(
    connection: Connection, table: str, start: date | None, end: date | None
) -> list[tuple[str, int | None]]:
    """The segments (and their rows' runs) with a row dated in the range."""
    source, day = _dated(table)
    own = _columns(table)[1]
    run = own.run_id if table not in _RUNLESS else null()
    query = (
        select(own.chain_segment, run)
        .select_from(source)
        .where(own.chain_segment.is_not(None), *_in_range(day, start, end))
        .distinct()
    )
    return [(name, run_id) for name, run_id in connection.execute(query)]


def _segment_rows(
    connection: Connection, table: str, names: dict[str, set[int | None]]
) -> Iterator[tuple[str, list[Any]]]:
    """Each segment's rows in order. Attempts and results are found through their run (the
    index they have anyway); the history through its own chain index."""
    query, c = _columns(table)
    ordered = sorted(names)
    for i in range(0, len(ordered), BATCH):
        batch = ordered[i : i + BATCH]
        where = [c.chain_segment.in_(batch)]
        if table not in _RUNLESS:
            runs = {run for name in batch for run in names[name]}
            known = [run for run in runs if run is not None]
            where.append(or_(c.run_id.in_(known), c.run_id.is_(None) if None in runs else false()))
        rows = connection.execute(query.where(*where).order_by(c.chain_segment, c.chain_seq, c.id))
        current: str | None = None
        members: list[Any] = []
        for row in rows:
            if row.chain_segment != current:
                if current is not None:
                    yield current, members
                current, members = row.chain_segment, []
            members.append(row)
        if current is not None:
            yield current, members


def _check_resolutions(
    connection: Connection, start: date | None, end: date | None, report: Report
) -> None:
    """An attempt's resolution fields are not hashed (they are what may change), so each must
    match its latest hashed history row, or be unresolved when it has none."""
    e, h = error_logs.c, error_log_resolutions.c
    latest = (
        select(h.error_log_id, func.max(h.id).label("last")).group_by(h.error_log_id).subquery()
    )
    last = error_log_resolutions.alias("last")
    query = (
        select(
            e.id,
            e.business_date,
            e.resolved,
            e.resolution_notes,
            e.resolved_by,
            e.resolved_at,
            last.c.resolved.label("was"),
            last.c.notes,
            last.c.actor,
            last.c.changed_at,
        )
        .select_from(
            error_logs.outerjoin(latest, latest.c.error_log_id == e.id).outerjoin(
                last, last.c.id == latest.c.last
            )
        )
        .where(*_in_range(e.business_date, start, end))
        .order_by(e.id)
    )
    found = 0
    for row in connection.execute(query):
        if row.was is None:
            agrees = not row.resolved and row.resolution_notes is None and row.resolved_by is None
        else:
            agrees = (
                bool(row.resolved) == bool(row.was)
                and row.resolution_notes == row.notes
                and row.resolved_by == row.actor
                and (row.resolved_at is None or row.resolved_at == row.changed_at)
            )
        if not agrees:
            detail = f"attempt {row.id}'s resolution is not the one its hashed history records"
            report.findings.append(
                Finding("changed", "error_logs", detail, None, row.id, None, row.business_date)
            )
            found += 1
            if found == MOST_UNHASHED:
                return


def _check_unhashed(
    connection: Connection, table: str, start: date | None, end: date | None, report: Report
) -> None:
    source, day = _dated(table)
    own = _columns(table)[1]
    rows = connection.execute(
        select(own.id, day)
        .select_from(source)
        .where(own.chain_hash.is_(None), *_in_range(day, start, end))
        .order_by(own.id)
        .limit(MOST_UNHASHED)
    ).all()
    for row_id, row_day in rows:
        detail = f"row {row_id} has no hash: it was written outside balmon"
        report.findings.append(Finding("inserted", table, detail, None, row_id, None, row_day))


def _check_segment(
    table: str,
    segment: str,
    rows: list[Any],
    seal: Any,
    running: set[int],
    archived: Archived,
    report: Report,
) -> None:
    report.rows += len(rows)
    day = seal.business_date if seal is not None else rows[0].business_date if rows else None

    def found(problem: str, detail: str) -> None:
        report.findings.append(Finding(problem, table, detail, segment, business_date=day))

    # A segment's rows are inserted in order, so their ids rise with their positions.
    inverted = next((b for a, b in pairwise(rows) if b.id < a.id), None)
    gaps = _gaps(archived, table, segment)
    previous, expected = genesis(segment), 1
    for row in rows:
        if row.chain_seq > expected:
            previous, expected = _skip_archived(gaps, previous, expected)
        elif row.chain_seq == expected and expected in gaps:
            found("inserted", f"row {row.id} is at position {expected}, which retention archived")
            return
        problem = _first_problem(table, segment, row, previous, expected, day, inverted)
        if problem is not None:
            report.findings.append(problem)
            return
        previous, expected = row.chain_hash, expected + 1
    previous, written = _skip_archived(gaps, previous, expected)
    _against_seal(table, segment, rows, seal, running, previous, written - 1, report, found)


def _against_seal(
    table: str,
    segment: str,
    rows: list[Any],
    seal: Any,
    running: set[int],
    previous: str,
    written: int,
    report: Report,
    found: Any,
) -> None:
    """A segment's end against its seal: the number of positions and the final hash."""
    if seal is None:
        if getattr(rows[0], "run_id", None) in running:
            report.open_segments.append(f"{table}/{segment}")
        else:
            found("seal missing", f"{written} rows and no seal, and the run is not running")
    elif written != seal.rows or previous != seal.last_hash:
        if written > seal.rows:
            what = f"{written - seal.rows} rows were added after it was sealed"
        elif written < seal.rows:
            what = f"its last {seal.rows - written} rows were removed"
        else:
            what = "its rows were rewritten"
        found("seal mismatch", f"the seal says {seal.rows} rows; {what}")


def _first_problem(
    table: str,
    segment: str,
    row: Any,
    previous: str,
    expected: int,
    day: date | None,
    inverted: Any,
) -> Finding | None:
    def found(problem: str, detail: str) -> Finding:
        return Finding(problem, table, detail, segment, row.id, row.chain_seq, day)

    if row.chain_seq < expected:
        return found("inserted", f"row {row.id} takes position {row.chain_seq}, already taken")
    if row.chain_seq > expected:
        return found("deleted", f"positions {expected} to {row.chain_seq - 1} are missing")
    if day is not None and row.business_date != day:
        return found("re-dated", f"row {row.id} says {row.business_date}, its segment {day}")
    if row_hash(table, previous, segment, row.chain_seq, row._mapping) == row.chain_hash:
        return None
    if inverted is not None:
        return found(
            "reordered",
            f"row {inverted.id} was moved to position "
            f"{inverted.chain_seq}, before rows written after it",
        )
    if table == "error_log_resolutions" and row.attempt_hash is None:
        return found("changed", f"the attempt row {row.error_log_id} it resolves is gone")
    return found("changed", f"row {row.id}'s fields no longer give its hash")
