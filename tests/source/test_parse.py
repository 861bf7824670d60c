"""Parsing a 200 body: exact decimals, and every broken shape mapped to its code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from balmon.errors import ErrorCode, InvalidResponse
from balmon.errors.exceptions import BalanceError
from balmon.source import Reading, parse_reading
from balmon.source.parse import Fields


def _read(body: bytes, customer_id: str = "C1") -> Reading:
    return parse_reading(body, customer_id=customer_id, fields=Fields())


def _parse(body: bytes, customer_id: str = "C1") -> Decimal | None:
    return _read(body, customer_id).balance


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"customer_id": "C1", "balance": "1234.56"}', Decimal("1234.56")),
        (b'{"customer_id": "C1", "balance": 0.1}', Decimal("0.1")),
        (
            b'{"customer_id": "C1", "balance": 12345678901234567890.12}',
            Decimal("12345678901234567890.12"),
        ),
        (b'{"customer_id": "C1", "balance": 7}', Decimal(7)),
        (b'{"customer_id": "C1", "balance": " 0.00 "}', Decimal("0.00")),
    ],
)
def test_balances_are_exact(body: bytes, expected: Decimal) -> None:
    value = _parse(body)
    assert value == expected
    assert str(value) == str(expected)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<html>oops</html>", ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": ', ErrorCode.INVALID_RESPONSE),
        (b"[1, 2]", ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1"}', ErrorCode.INVALID_RESPONSE),
        (b'{"error": "maintenance window"}', ErrorCode.INVALID_RESPONSE),  # a 200 that is not
        (b'{"customer_id": "C1", "balance": "12,50"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": "NaN"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": NaN}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": "Infinity"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": true}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": {"v": 1}}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C2", "balance": "5.00"}', ErrorCode.INVALID_RESPONSE),
        (b"\xff\xfe", ErrorCode.INVALID_RESPONSE),
        # What a reading's currency and as_of must be, when the answer has them.
        (b'{"customer_id": "C1", "balance": 1, "currency": 840}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": 1, "as_of": "yesterday"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": 1, "as_of": 1733600000}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": 1, "as_of": "2026-12-04"}', ErrorCode.INVALID_RESPONSE),
        (
            b'{"customer_id": "C1", "balance": 1, "as_of": "2026-12-04T10:00:00"}',
            ErrorCode.INVALID_RESPONSE,
        ),
        # Two values for one key: whichever a parser keeps, the body is not to be trusted.
        (b'{"customer_id": "C1", "balance": "-5", "balance": "50"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": null, "balance": "50"}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C9", "customer_id": "C1", "balance": "5"}', ErrorCode.INVALID_RESPONSE),
        (
            b'{"customer_id": "C1", "balance": "5", "x": {"a": 1, "a": 2}}',
            ErrorCode.INVALID_RESPONSE,
        ),
        # The id echo the configuration reference promises: missing, null or misnamed.
        (b'{"balance": 7}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": null, "balance": 7}', ErrorCode.INVALID_RESPONSE),
        (b'{"customerId": "C1", "balance": 7}', ErrorCode.INVALID_RESPONSE),
        # Exponents no Decimal holds: the bank's data, not balmon's fault (was INTERNAL_ERROR).
        (b'{"customer_id": "C1", "balance": 1e9999999999999999999}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": 1e-9999999999999999999}', ErrorCode.INVALID_RESPONSE),
        (b'{"customer_id": "C1", "balance": "1e9999999999999999999"}', ErrorCode.INVALID_RESPONSE),
    ],
)
def test_broken_bodies_map_to_codes(body: bytes, code: ErrorCode) -> None:
    with pytest.raises(BalanceError) as caught:
        _parse(body)
    assert caught.value.code is code


def test_messages_never_repeat_the_body() -> None:
    with pytest.raises(InvalidResponse) as caught:
        _parse(b'{"customer_id": "C1", "balance": "secret-99.5x"}')
    assert "secret" not in caught.value.message


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0662", "Infinity", "1 000", "0x10", "+-1"])
def test_a_balance_written_outside_the_amount_grammar_is_invalid(text: str) -> None:
    body = json.dumps({"customer_id": "C1", "balance": text}).encode()
    with pytest.raises(BalanceError) as caught:
        _parse(body)
    assert caught.value.code is ErrorCode.INVALID_RESPONSE


def test_an_empty_id_field_turns_the_echo_check_off() -> None:
    reading = parse_reading(b'{"balance": "7.00"}', customer_id="C1", fields=Fields(customer_id=""))
    assert reading.balance == Decimal("7.00")


def test_null_and_negative_balances_are_read_as_they_are_and_judged_by_the_rules() -> None:
    """The parser no longer decides NULL_BALANCE or NEGATIVE_BALANCE (`balmon.rules` does)."""
    assert _parse(b'{"customer_id": "C1", "balance": null}') is None
    assert _parse(b'{"customer_id": "C1", "balance": "-0.01"}') == Decimal("-0.01")


def test_currency_and_as_of_are_read_with_the_balance() -> None:
    reading = _read(
        b'{"customer_id": "C1", "balance": "5", "currency": " eur ", '
        b'"as_of": "2026-12-04T23:30:00+01:00"}'
    )
    assert reading.currency == "EUR"
    assert reading.as_of == datetime(2026, 12, 4, 22, 30, tzinfo=UTC)
    bare = _read(b'{"customer_id": "C1", "balance": "5"}')
    assert (bare.currency, bare.as_of) == (None, None)
    ignored = parse_reading(
        b'{"customer_id": "C1", "balance": "5", "currency": 1, "as_of": 2}',
        customer_id="C1",
        fields=Fields(currency="", as_of=""),
    )
    assert (ignored.currency, ignored.as_of) == (None, None)
