"""Triage: the customer's problem of the day (a case), how operators find, resolve or silence it."""

from __future__ import annotations

from balmon.triage import ownership, silences
from balmon.triage.cases import (
    CaseFilter,
    Outcome,
    case_detail,
    cases_by_code,
    count_cases,
    describe_regression,
    list_cases,
    regressions_among,
    resolve_case,
    resolve_matching,
)

__all__ = [
    "CaseFilter",
    "Outcome",
    "case_detail",
    "cases_by_code",
    "count_cases",
    "describe_regression",
    "list_cases",
    "ownership",
    "regressions_among",
    "resolve_case",
    "resolve_matching",
    "silences",
]
