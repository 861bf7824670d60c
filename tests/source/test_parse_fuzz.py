"""The response parser, fuzzed with hypothesis (issue 12): whatever the bank's body, the
answer is a balance or a known error code, never another exception; and a balance is exact:
never 0, never rounded, unless the bank said so."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from balmon.config import Settings
from balmon.errors import BalanceError, ErrorCode
from balmon.money import OutOfRange, storable
from balmon.rules import Judge, Reject
from balmon.source.parse import Fields, parse_reading

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BODY_CODES = {ErrorCode.INVALID_RESPONSE, ErrorCode.NULL_BALANCE, ErrorCode.NEGATIVE_BALANCE}


_JUDGE = Judge.for_date(Settings(), date(2026, 12, 4))


def _parse(body: bytes, customer_id: str = "C1") -> Decimal | ErrorCode:
    """What the source and the rules make of a body: a balance or a code."""
    failure: BalanceError | None = None
    try:
        reading = parse_reading(body, customer_id=customer_id, fields=Fields())
    except BalanceError as exc:
        failure = exc
    else:
        verdict = _JUDGE(reading, min_balance=Decimal(0))
        if not isinstance(verdict, Reject):
            assert reading.balance is not None
            return reading.balance
        assert verdict.code in BODY_CODES
        assert verdict.message and "\n" not in verdict.message
        return verdict.code
    assert failure.code in BODY_CODES
    assert failure.message and "\n" not in failure.message
    return failure.code


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(st.binary(max_size=300))
@example(b'{"balance": 1e999999999}')
@example(b'{"balance": 1' + b"0" * 5000 + b"}")
@example(b'{"balance": "\\u0661"}')
@example(b"[" * 100_000)
def test_any_bytes_give_a_balance_or_a_known_code(body: bytes) -> None:
    _parse(body)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["balance", "customer_id", "currency", "as_of", "x"]),
        json_values,
        max_size=5,
    )
)
def test_any_json_object_gives_a_balance_or_a_known_code(document: dict[str, object]) -> None:
    outcome = _parse(json.dumps(document).encode())
    if isinstance(outcome, Decimal):
        assert outcome >= 0 and outcome.is_finite()


amounts = st.decimals(min_value=0, max_value=Decimal("1e17"), allow_nan=False, places=None)


@FUZZ
@given(amounts, st.booleans())
@example(Decimal("0.3"), False)
@example(Decimal("0.1"), True)
@example(Decimal("123456789012345678.5"), False)
@example(Decimal("1E-7"), False)
def test_a_balance_is_exactly_what_the_bank_wrote(amount: Decimal, as_string: bool) -> None:
    """As a JSON number or a string, the value parsed is the written one, digit for digit
    (no binary float on the way); only storing rounds it, to six places, half up, as
    documented, and a non-zero balance is stored as 0 only when it is under half a millionth."""
    text = format(amount, "f")
    raw = f'"{text}"' if as_string else text
    parsed = _parse(f'{{"customer_id": "C1", "balance": {raw}}}'.encode())
    assert isinstance(parsed, Decimal) and parsed.as_tuple() == Decimal(text).as_tuple()
    try:
        stored = storable(parsed)
    except OutOfRange:
        assert parsed >= Decimal("1e18")
        return
    assert abs(stored - parsed) <= Decimal("0.0000005")
    if stored == 0:
        assert parsed < Decimal("0.0000005")
