"""Amounts as balmon stores them: one range and one precision on every database.

Balances and minimums are kept in NUMERIC(24,6) columns on PostgreSQL and MariaDB (and as
text on SQLite): at most 18 digits before the point and 6 after. An amount is rounded to six
places, half away from zero, before it is compared or stored, so a result never shows a
balance and a minimum that disagree with its PASS or FAIL; one beyond the columns' range is
refused (INVALID_RESPONSE from the bank, INVALID_INPUT from the customer file) instead of
failing the batch's INSERT.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

INTEGER_DIGITS = 18
PLACES = 6
QUANTUM = Decimal(1).scaleb(-PLACES)
LIMIT = Decimal(10) ** INTEGER_DIGITS
_WIDE = Context(prec=INTEGER_DIGITS + PLACES + 10)


# One grammar for amounts written as text (the customer file's minimums, a bank's balance
# sent as a string): ASCII digits, an optional sign, point and exponent; no "1_000", no other
# scripts' digits, no "Infinity" or "NaN", no spaces inside.
AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def shown(value: Decimal | str) -> str:
    """An amount as people read it: thousands separated, at least two decimals, and no
    trailing zeros past them ("1,234,567.50", "0.125")."""
    amount = Decimal(value)
    text = f"{amount:,.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def parse_amount(text: str) -> Decimal:
    """The amount `text` writes, exactly; `InvalidOperation` when it is not one."""
    if not AMOUNT.fullmatch(text):
        raise InvalidOperation(text)
    return Decimal(text)


class OutOfRange(ValueError):
    """Not an amount balmon can store."""


def storable(value: Decimal) -> Decimal:
    """`value` rounded to six places as the columns round it; `OutOfRange` when it is not
    finite or its size is 10^18 or more."""
    if not value.is_finite():
        raise OutOfRange("not a finite number")
    if abs(value) >= LIMIT:  # before rounding: 1E+999 must not be quantized
        raise OutOfRange(f"more than {INTEGER_DIGITS} digits before the decimal point")
    rounded = value.quantize(QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE)
    if abs(rounded) >= LIMIT:
        raise OutOfRange(f"more than {INTEGER_DIGITS} digits before the decimal point")
    return rounded if rounded else QUANTUM * 0  # no negative zero
