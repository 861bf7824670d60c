"""The canonical encoding every audit hash is computed over, the same on every database.

A row's hash is SHA-256 over its chain's previous hash and the row's immutable fields,
encoded as one line of JSON (UTF-8, no spaces, fields in a fixed order) where:

- text is itself; a missing value is `null`; integers and booleans are JSON's own;
- a date is `"YYYY-MM-DD"`;
- a timestamp is UTC with microseconds: `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` (all three databases
  keep microseconds: PostgreSQL's timestamp, MariaDB's DATETIME(6), SQLite's text);
- an amount is a decimal string with exactly six places, rounded half away from zero as
  PostgreSQL's and MariaDB's NUMERIC(24,6) columns round it (`"12.500000"`), and a zero
  never has a sign (`"-0.0000004"` is `"0.000000"`, as the columns store it).

    hash = sha256(previous_hash + "\\n" + json).hexdigest()

The first row of a chain links to `genesis(segment)`, so a row cannot be moved into another
chain. `docs/audit.md` has a worked example an auditor can recompute by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from json.encoder import encode_basestring as _string  # json's own, in C
from typing import Any

SIX_PLACES = Decimal("0.000001")
# Wide enough to quantize any amount a column or a bank can hold without InvalidOperation.
_WIDE = Context(prec=100)


def amount(item: Decimal) -> str:
    """An amount with exactly six places, rounded half away from zero; zero has no sign
    (NUMERIC columns store -0 as 0)."""
    text = f"{item.quantize(SIX_PLACES, rounding=ROUND_HALF_UP, context=_WIDE):f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def value(item: Any) -> Any:
    """One field as the canonical encoding writes it."""
    if item is None or type(item) in (str, int, bool):
        return item
    if isinstance(item, bool):
        return bool(item)
    if isinstance(item, str):  # an enum's value, say
        return str.__str__(item)
    if isinstance(item, int):
        return int(item)
    if isinstance(item, datetime):
        if item.tzinfo is None:
            raise ValueError("naive timestamp in an audit hash")
        return item.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, Decimal):
        return amount(item)
    raise TypeError(f"no canonical form for {type(item).__name__}")


def json_text(item: Any) -> str:
    """One field as JSON text: what `json.dumps(value(item), ensure_ascii=False)` gives,
    written out because it runs for every field of every row the engine writes."""
    kind = type(item)
    if kind is str:
        return _string(item)
    if item is None:
        return "null"
    if kind is int:
        return int.__repr__(item)
    if kind is bool:
        return "true" if item else "false"
    if kind is Decimal:
        return '"' + amount(item) + '"'
    if kind is datetime and item.tzinfo is UTC:
        return '"' + str(item.isoformat(timespec="microseconds"))[:-6] + 'Z"'
    if kind is date:
        return '"' + str(item.isoformat()) + '"'
    return json.dumps(value(item), ensure_ascii=False)


def encode(fields: Iterable[Any]) -> bytes:
    """The fields as one canonical JSON line."""
    return ("[" + ",".join(map(json_text, fields)) + "]").encode()


def link(previous: str, fields: Iterable[Any]) -> str:
    """The hash of a row whose chain's previous hash is `previous`."""
    return hashlib.sha256(previous.encode() + b"\n" + encode(fields)).hexdigest()


def genesis(segment: str) -> str:
    """What the first row of `segment` links to."""
    return hashlib.sha256(b"balmon chain\n" + segment.encode()).hexdigest()
