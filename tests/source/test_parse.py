"""Parsing a 200 body: exact decimals, and every broken shape mapped to its code."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from balmon.errors import ErrorCode, InvalidResponse
from balmon.errors.exceptions import BalanceError
from balmon.source import parse_balance


def _parse(body: bytes, customer_id: str = "C1") -> Decimal:
    return parse_balance(
        body, customer_id=customer_id, balance_field="balance", customer_id_field="customer_id"
    )


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
        (b'{"customer_id": "C1", "balance": null}', ErrorCode.NULL_BALANCE),
        (b'{"customer_id": "C1", "balance": "-0.01"}', ErrorCode.NEGATIVE_BALANCE),
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
    value = parse_balance(
        b'{"balance": "7.00"}', customer_id="C1", balance_field="balance", customer_id_field=""
    )
    assert value == Decimal("7.00")
