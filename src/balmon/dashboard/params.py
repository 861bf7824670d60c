"""The dashboard's request parameters, bounded: bad input is a 4xx, never a 500.

Python's integers and dates reach far beyond what the database and `timedelta` accept
(an id of 2**64 overflows SQLite; `date(1, 1, 1) - 13 days` overflows), and pydantic would
read `date=0` as 1970-01-01. Every date here is ISO 8601 (`YYYY-MM-DD`) within `FIRST_DAY`
and `LAST_DAY`, and every number has a ceiling.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Query
from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

from balmon import limits
from balmon.errors import CODES, Severity

CODES_BY_NAME = frozenset(code.value for code in CODES)

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_ID = 2**63 - 1  # BIGINT
MAX_PAGE = 1_000_000
MAX_DAYS = 366
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: Any) -> date:
    """A business date from `YYYY-MM-DD` only, between FIRST_DAY and LAST_DAY."""
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DAY.fullmatch(value.strip()):
        day = date.fromisoformat(value.strip())
    else:
        raise ValueError("expected a date as YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"expected a date between {FIRST_DAY} and {LAST_DAY}")
    return day


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must say what was found and done")
    return text


def _printable(text: str) -> str:
    # PostgreSQL refuses a NUL in any text: a 500 there, so a 422 here.
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


def _known_code(text: str) -> str:
    if text and text not in CODES_BY_NAME:
        raise ValueError("not an error code (see /codes)")
    return text


def _any_day(value: Any) -> date | None:
    """An optional date: an empty form field means "any"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_day(value)


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _severity(text: str | None) -> str | None:
    if text is not None and text.upper() not in SEVERITIES:
        raise ValueError(f"expected one of {', '.join(SEVERITIES)}")
    return text.upper() if text else None


# The document declares what the server checks: dates from 1900 to 2999 as YYYY-MM-DD
# (a pattern on top of the format, so generated dates stay in range), codes and severities
# as enums, notes that are not blank.
_DAY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": r"^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$",
    "description": f"YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}",
}
SEVERITIES = tuple(s.value for s in Severity)

Day = Annotated[date, BeforeValidator(parse_day), WithJsonSchema(_DAY_SCHEMA)]
# An optional date in a query or a form: empty means "any", as the filter forms send it.
AnyDay = Annotated[
    date | None,
    BeforeValidator(_any_day),
    WithJsonSchema({"anyOf": [_DAY_SCHEMA, {"type": "string", "maxLength": 0}]}),
]
CustomerId = Annotated[
    str,
    StringConstraints(max_length=limits.CUSTOMER_ID),
    AfterValidator(_printable),
    WithJsonSchema({"type": "string", "maxLength": limits.CUSTOMER_ID, "pattern": r"^[^\u0000]*$"}),
]
# A customer a silence names. The server applies the customer file's own rule
# (`limits.unsafe_customer_id`, no spaces around); the document states a part of it that a
# pattern can say: printable ASCII without spaces at either end, not "." or "..".
NamedCustomer = Annotated[
    str,
    StringConstraints(max_length=limits.CUSTOMER_ID),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(?!\.{1,2}$)[!-~](?:[ -~]{0,48}[!-~])?$",
            "description": "A customer id as the customer file holds it (exact match)",
        }
    ),
]
Code = Annotated[
    str,
    AfterValidator(_known_code),
    WithJsonSchema({"type": "string", "enum": ["", *sorted(CODES_BY_NAME)]}),
]
AnySeverity = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(_severity),
    WithJsonSchema({"type": "string", "enum": ["", *SEVERITIES, *(s.lower() for s in SEVERITIES)]}),
]


def _flag(value: Any) -> bool | None:
    """true / false, or "all" (or empty) for either."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "all"):
        return None
    if text not in ("true", "false"):
        raise ValueError("expected true, false or all")
    return text == "true"


# A yes/no filter where "all" (or an empty form field) means either.
Flag = Annotated[
    bool | None,
    BeforeValidator(_flag),
    WithJsonSchema({"type": "string", "enum": ["true", "false", "all", ""]}),
]
# Resolution notes: an audit record, so never empty or only spaces.
Notes = Annotated[
    str,
    StringConstraints(max_length=limits.NOTES),
    AfterValidator(_not_blank),
    AfterValidator(_printable),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": limits.NOTES,
            "pattern": r"^[^\u0000]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000]*$",
            "description": "What was found and done: not blank, no NUL character",
        }
    ),
]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS)]


def window_from() -> Any:
    """A window's first day, as the document describes it (a rule between two values has no
    schema; a new `Query` each time, as FastAPI may fill in its default)."""
    return Query(
        alias="from",
        description=f"The first business date; not after `to`, at most {MAX_DAYS} days before it",
    )


def window_to() -> Any:
    return Query(alias="to", description="The last business date (default: the latest run's)")


def window_start(start: date | None, end: date, *, days: int) -> date:
    """The first day of a window ending at `end`: `start`, or `days` days back by default."""
    first = start or max(end - timedelta(days=days - 1), FIRST_DAY)
    if first > end:
        raise HTTPException(422, "from: after to")
    if (end - first).days >= MAX_DAYS:
        raise HTTPException(422, f"from/to: at most {MAX_DAYS} days")
    return first


def known_id(row_id: int, what: str) -> int:
    """`row_id`, or 404 when no row can have it (the database would overflow on it)."""
    if not 1 <= row_id <= MAX_ID:
        raise HTTPException(404, f"no such {what}")
    return row_id
