"""How long each stored or shown text may be, and the one way to cut it.

The schema's column sizes, the exceptions' messages and the cuts made before a write share
these numbers. A cut text ends in "..." so a reader knows it was cut, and `clip` is
idempotent: a text cut where it is made passes unchanged where it is written.
"""

from __future__ import annotations

import unicodedata

CUSTOMER_ID = 50  # verification_results / error_logs / alerts .customer_id
MESSAGE = 500  # error_logs.error_message: one failed attempt, in a sentence
TRACE = 8000  # error_logs.stack_trace: the most recent part of the traceback
REASON = 300  # why a run failed, why a delivery failed, a database error on one CLI line
TITLE = 255  # alert_messages.title
NOTES = 2000  # a resolution's notes, as typed by an operator
ALARM_DETAIL = 1000  # run_alarms.detail: why a date was alarmed
SMS = 300  # the short text sent to SMS channels
ACTOR = 100  # who did something: resolved_by, created_by, actor, sealed_by ...
ROW_ID = 2**63 - 1  # the largest id a BIGINT (or SQLite's INTEGER) key can hold
ELLIPSIS = "..."


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "..." when something was cut."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def clip_start(text: str, limit: int) -> str:
    """`text` keeping its last `limit` characters (a traceback's newest frames matter most)."""
    return text if len(text) <= limit else ELLIPSIS + "\n" + text[-limit:]


# Characters no customer id may hold: controls (newline, NUL...), format and unassigned ones,
# line and paragraph separators. "." and ".." are refused too: as a URL path segment they
# would address another resource of the bank.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unsafe_customer_id(customer_id: str) -> str | None:
    """Why `customer_id` cannot be sent to the bank (the customer file refuses it), or None."""
    if len(customer_id) > CUSTOMER_ID:
        return f"customer_id longer than {CUSTOMER_ID}"
    if customer_id in (".", ".."):
        return "customer_id is '.' or '..'"
    if any(unicodedata.category(ch) in _UNSAFE_CATEGORIES for ch in customer_id):
        return "customer_id holds a control character"
    return None
