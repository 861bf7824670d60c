"""Cases: one customer on one business date with at least one failed attempt.

The `cases` rows are kept by database triggers as error-log rows and results are written
(migration 0008); `error_logs` stays the audit record. A case is open while any of its
attempts is unresolved; resolving the case resolves every attempt in one transaction, and
the database appends each change to the resolution history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from balmon import audit
from balmon.errors import CODES, ErrorCode, Severity
from balmon.errors.taxonomy import DATA_QUALITY, FLAGS
from balmon.storage.schema import case_events, cases, error_log_resolutions, error_logs
from balmon.storage.statements import days_before
from balmon.storage.states import Status
from balmon.triage import silences

C, E = cases.c, error_logs.c
_NOT_RECOVERED = frozenset({ErrorCode.INVALID_INPUT, *FLAGS})
_SEVERITY_RANK = {
    Severity.CRITICAL: 0,
    Severity.HIGH: 1,
    Severity.MEDIUM: 2,
    Severity.LOW: 3,
}


class Outcome(StrEnum):
    """What the queue filters on: the customer's final state of the date."""

    # What an operator must act on: no balance (UNAVAILABLE), or a customer the run could
    # not check at all (a bad line of the customer file).
    ACTION = "action"
    UNAVAILABLE = "unavailable"
    RECOVERED = "recovered"  # a retry (or a later run) got the balance: PASS or FAIL
    ALL = "all"


@dataclass(frozen=True, slots=True)
class CaseFilter:
    day: date | None = None
    start: date | None = None
    end: date | None = None
    outcome: str = Outcome.ALL
    code: str | None = None
    severity: str | None = None
    customer_id: str | None = None
    resolved: bool | None = False
    page: int = 1
    page_size: int = 50
    regression: bool | None = None
    regression_days: int = 30
    silenced: bool | None = None
    now: datetime | None = None  # when a silence must be in force (default: now)
    # True: only data-quality cases (the data was wrong, `taxonomy.DATA_QUALITY`); False: none.
    quality: bool | None = None
    owner: str | None = None  # a user's name ("" : nobody's)
    acknowledged: bool | None = None

    def conditions(self, dialect: str) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.day is not None:
            where.append(C.business_date == self.day)
        if self.start is not None:
            where.append(C.business_date >= self.start)
        if self.end is not None:
            where.append(C.business_date <= self.end)
        where += _outcome(self.outcome)
        if self.code:
            where.append(_code() == self.code)
        if self.severity:
            wanted = [c.value for c, e in CODES.items() if e.severity == self.severity.upper()]
            where.append(_code().in_(wanted))
        if self.customer_id:
            where.append(C.customer_id == self.customer_id)
        if self.resolved is not None:
            where.append((C.open_attempts == 0) if self.resolved else (C.open_attempts > 0))
        return where + self._yes_no(dialect)

    def _yes_no(self, dialect: str) -> list[ColumnElement[bool]]:
        """The yes/no filters: regression, silenced, data quality."""
        where: list[ColumnElement[bool]] = []
        if self.regression is not None:
            prior = regression_of(self.regression_days, dialect)
            where.append(prior.is_not(None) if self.regression else prior.is_(None))
        if self.silenced is not None:
            held = silenced_by(self.now or datetime.now(UTC))
            where.append(held.is_not(None) if self.silenced else held.is_(None))
        if self.quality is not None:
            quality = _code().in_([code.value for code in DATA_QUALITY])
            where.append(quality if self.quality else ~quality)
        if self.acknowledged is not None:
            acked = C.acknowledged_at.is_not(None)
            where.append(acked if self.acknowledged else ~acked)
        if self.owner is not None:
            where.append(C.owner == self.owner if self.owner else C.owner.is_(None))
        return where


def needs_action() -> ColumnElement[bool]:
    """A case an operator must act on (the rest recovered by themselves): no balance, a line
    of the customer file never checked, or a balance a rule flagged (BALANCE_JUMP: the PASS
    or FAIL stands, and a person confirms it)."""
    return or_(
        C.outcome == Status.UNAVAILABLE,
        C.last_code.in_([ErrorCode.INVALID_INPUT.value, *(code.value for code in FLAGS)]),
    )


def _outcome(outcome: str) -> list[ColumnElement[bool]]:
    if outcome == Outcome.ACTION:
        return [needs_action()]
    if outcome in (Outcome.UNAVAILABLE, Status.UNAVAILABLE):
        return [C.outcome == Status.UNAVAILABLE]
    if outcome == Outcome.RECOVERED:
        return [C.outcome.in_([Status.PASS, Status.FAIL]), ~needs_action()]
    if outcome in (Status.PASS, Status.FAIL):
        return [C.outcome == outcome]
    return []


def _code() -> Any:
    """The code a case is about: its final code, or the last failed attempt's when recovered."""
    return func.coalesce(C.final_code, C.last_code)


def _severity_rank() -> Any:
    whens = [(_code() == code.value, _SEVERITY_RANK[e.severity]) for code, e in CODES.items()]
    return case(*whens, else_=len(_SEVERITY_RANK))


def _order() -> tuple[Any, ...]:
    action_first = case((needs_action(), 0), else_=1)
    return (action_first, _severity_rank(), C.first_seen, C.id)


def regression_of(days: int, dialect: str) -> Any:
    """The id of the same customer's latest resolved case with the same final code, within
    `days` days before the case's date; NULL when the case is not a regression."""
    prior = aliased(cases)
    return (
        select(func.max(prior.c.id))
        .where(
            prior.c.customer_id == C.customer_id,
            prior.c.final_code == C.final_code,
            prior.c.open_attempts == 0,
            prior.c.business_date < C.business_date,
            prior.c.business_date >= days_before(C.business_date, days, dialect),
        )
        .scalar_subquery()
    )


def silenced_by(now: datetime) -> Any:
    """The id of a silence in force at `now` covering the case's customer and code, or NULL."""
    covered = silences.covering(C.customer_id, _code())
    return select(func.min(silences.S.id)).where(silences.active_at(now), covered).scalar_subquery()


def case_item(row: Any) -> dict[str, Any]:
    code = row.final_code or row.last_code
    return {
        "id": row.id,
        "business_date": row.business_date.isoformat(),
        "customer_id": row.customer_id,
        "outcome": row.outcome,
        # A flagged balance (BALANCE_JUMP) was not "recovered": it arrived and looks wrong.
        "recovered": row.outcome in (Status.PASS, Status.FAIL)
        and row.last_code not in _NOT_RECOVERED,
        "flagged": row.outcome in (Status.PASS, Status.FAIL) and row.last_code in FLAGS,
        "final_code": row.final_code,
        "last_code": row.last_code,
        "code": code,
        "severity": CODES[ErrorCode(code)].severity.value,
        "attempts": row.attempts,
        "open_attempts": row.open_attempts,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "resolved": row.open_attempts == 0,
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution_notes": row.resolution_notes,
        "regression": getattr(row, "regression_of", None) is not None,
        "regression_of": getattr(row, "regression_of", None),
        "silenced": getattr(row, "silenced_by", None) is not None,
        "silenced_by": getattr(row, "silenced_by", None),
        "owner": row.owner,
        "acknowledged": row.acknowledged_at is not None,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by,
        "escalations": row.escalations,
    }


def _annotated(days: int, dialect: str, now: datetime | None) -> Any:
    """Cases with the case each regresses and the silence holding its alerts back."""
    return select(
        cases,
        regression_of(days, dialect).label("regression_of"),
        silenced_by(now or datetime.now(UTC)).label("silenced_by"),
    )


def list_cases(c: Connection, f: CaseFilter) -> tuple[list[dict[str, Any]], int]:
    """One page of the matching cases, UNAVAILABLE first, then by severity and age."""
    where = f.conditions(c.dialect.name)
    total = c.scalar(select(func.count()).select_from(cases).where(*where)) or 0
    # The page's ids first, from the covering index; then the regression and silence of
    # those cases only (annotating before the sort costs a subquery per matching case).
    page = select(C.id).where(*where).order_by(*_order())
    ids = c.scalars(page.limit(f.page_size).offset((f.page - 1) * f.page_size)).all()
    annotated = _annotated(f.regression_days, c.dialect.name, f.now).where(C.id.in_(ids))
    rows = {r.id: r for r in c.execute(annotated)} if ids else {}
    return [case_item(rows[n]) for n in ids], int(total)


def count_cases(c: Connection, f: CaseFilter) -> int:
    where = f.conditions(c.dialect.name)
    return int(c.scalar(select(func.count()).select_from(cases).where(*where)) or 0)


# The customer of a case made for a line of the customer file whose id could not be read
# (migration 0016).
_LINE = re.compile(r"\(line (\d+)\)")


def _attempts_of(row: Any) -> Any:
    """The error-log rows of a case: its customer's failed attempts and bad lines of the date."""
    line = _LINE.fullmatch(row.customer_id)
    of_line = and_(E.customer_id.is_(None), E.source_line == int(line[1])) if line else false()
    return (
        E.business_date == row.business_date,
        or_(E.customer_id == row.customer_id, of_line),
    )


def case_detail(
    c: Connection, case_id: int, *, regression_days: int = 30, now: datetime | None = None
) -> dict[str, Any] | None:
    """The case with every attempt, the resolution history, and the case it regresses."""
    query = _annotated(regression_days, c.dialect.name, now).where(C.id == case_id)
    row = c.execute(query).first()
    if row is None:
        return None
    item = case_item(row)
    item["regression_of"] = _prior(c, row.regression_of)
    attempts = c.execute(
        select(error_logs).where(*_attempts_of(row)).order_by(E.logged_at, E.id)
    ).all()
    item["attempts_list"] = [
        {
            "id": a.id,
            "run_id": a.run_id,
            "logged_at": a.logged_at.isoformat(),
            "error_code": a.error_code,
            "error_message": a.error_message,
            "retry_count": a.retry_count,
            "resolved": bool(a.resolved),
        }
        for a in attempts
    ]
    h = error_log_resolutions.c
    history = c.execute(
        select(h.notes, h.actor, h.changed_at, h.resolved, func.count())
        .where(h.error_log_id.in_([a.id for a in attempts]))
        .group_by(h.notes, h.actor, h.changed_at, h.resolved)
        .order_by(h.changed_at)
    ).all()
    item["history"] = [
        {
            "resolved": bool(x[3]),
            "notes": x[0],
            "actor": x[1],
            "at": x[2].isoformat(),
            "attempts": x[4],
        }
        for x in history
    ]
    item["events"] = events_of(c, case_id)
    entry = CODES[ErrorCode(item["code"])]
    item["code_info"] = {
        "description": entry.description,
        "suggested_action": entry.suggested_action,
        "root_cause": entry.root_cause,
    }
    return item


def events_of(c: Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's acknowledgements, assignments and comments (`triage.ownership`), oldest
    first."""
    v = case_events.c
    rows = c.execute(select(case_events).where(v.case_id == case_id).order_by(v.at, v.id)).all()
    return [
        {
            "action": row.action,
            "owner": row.owner,
            "notes": row.notes,
            "actor": row.actor,
            "at": row.at.isoformat(),
        }
        for row in rows
    ]


def resolve_case(
    engine: Engine, case_id: int, *, notes: str, actor: str, now: datetime
) -> int | None:
    """Resolve every open attempt of the case, in one transaction; how many (0: it was
    resolved already, and its recorded resolution stays), or None when there is no such case."""
    with engine.begin() as c:
        row = c.execute(select(cases).where(C.id == case_id)).first()
        if row is None:
            return None
        done = _resolve(c, row, notes=notes, actor=actor, now=now)
        audit.seal_resolutions(c, actor=actor, now=now)
        return done


def _prior(c: Connection, case_id: int | None) -> dict[str, Any] | None:
    if case_id is None:
        return None
    row = c.execute(select(cases).where(C.id == case_id)).one()
    return {
        "id": row.id,
        "business_date": row.business_date.isoformat(),
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution_notes": row.resolution_notes,
    }


def describe_regression(prior: dict[str, Any]) -> str:
    """ "regression of case N of B, resolved on D by U", for pages and alerts (B: the earlier
    case's business date)."""
    when = (prior["resolved_at"] or "")[:10] or "an earlier date"
    who = prior["resolved_by"] or "an operator"
    return (
        f"regression of case {prior['id']} of {prior['business_date']}, resolved on {when} by {who}"
    )


def resolve_matching(
    engine: Engine, f: CaseFilter, *, notes: str, actor: str, now: datetime
) -> int:
    """Resolve every open case the filter matches (all pages), in one transaction."""
    with engine.begin() as c:
        where = f.conditions(c.dialect.name)
        rows = c.execute(select(cases).where(*where, C.open_attempts > 0)).all()
        for row in rows:
            _resolve(c, row, notes=notes, actor=actor, now=now)
        audit.seal_resolutions(c, actor=actor, now=now)
    return len(rows)


def _resolve(c: Connection, row: Any, *, notes: str, actor: str, now: datetime) -> int:
    # The trigger copies the resolution onto the case; an already resolved case is left as
    # it is, so its record always matches an entry of the attempts' history.
    done = c.execute(
        update(error_logs)
        .where(*_attempts_of(row), E.resolved.is_(False))
        .values(resolved=True, resolution_notes=notes, resolved_by=actor, resolved_at=now)
    )
    return int(done.rowcount or 0)


def cases_by_code(c: Connection, day: date) -> list[dict[str, Any]]:
    """The date's cases per code: how many are open and how many resolved."""
    code = _code().label("code")
    is_open = case((C.open_attempts > 0, 1), else_=0)
    rows = c.execute(
        select(code, func.sum(is_open), func.count())
        .where(C.business_date == day)
        .group_by(code)
        .order_by(func.count().desc(), code)
    ).all()
    return [
        {"code": str(k), "open": int(n_open or 0), "resolved": int(n) - int(n_open or 0)}
        for k, n_open, n in rows
    ]


def regressions_among(
    c: Connection, day: date, customer_ids: list[str], *, days: int
) -> dict[str, str]:
    """For those of `customer_ids` whose case of `day` is a regression, what it regresses."""
    if not customer_ids:
        return {}
    query = _annotated(days, c.dialect.name, None).where(
        C.business_date == day, C.customer_id.in_(customer_ids)
    )
    found: dict[str, str] = {}
    for row in c.execute(query).all():
        prior = _prior(c, row.regression_of)
        if prior is not None:
            found[row.customer_id] = describe_regression(prior)
    return found
