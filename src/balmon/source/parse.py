"""Turn a 200 response body into an exact `Decimal` balance, or the right failure."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from balmon.errors import InvalidResponse, NegativeBalance, NullBalance
from balmon.money import parse_amount


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different. Parsers disagree on `{"balance": "-5",
    "balance": "50"}` (Python keeps the last, others the first), so a body that says two things
    says nothing trustworthy."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKey
    return document


# parse_float keeps JSON numbers exact: they never pass through a binary float. One decoder
# for every response (`json.loads` with these options builds a new one per call).
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_unique
)


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        # As `json.loads` reads bytes: UTF-8, -16 or -32, told apart by their first bytes.
        document = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except _DuplicateKey:
        raise InvalidResponse("response has a duplicate key") from None
    except InvalidOperation:  # a number whose exponent no Decimal holds (1e9999999999999999999)
        raise InvalidResponse("response has a number out of any range") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidResponse("response body is not valid JSON") from exc
    except RecursionError:  # nested deeper than Python's parser goes: no balance is that deep
        raise InvalidResponse("response body is JSON nested too deep") from None
    if not isinstance(document, dict):
        raise InvalidResponse(f"response is a JSON {type(document).__name__}, not an object")
    return document


def _to_decimal(raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise InvalidResponse(f"balance has unexpected type {type(raw).__name__}")
    try:
        value = parse_amount(raw.strip()) if isinstance(raw, str) else Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidResponse("balance is not a decimal number") from exc
    if not value.is_finite():
        raise InvalidResponse("balance is not a finite number")
    return value


def parse_balance(
    body: bytes, *, customer_id: str, balance_field: str, customer_id_field: str
) -> Decimal:
    """Validate the body against the Balance API contract and return the balance.

    The body must echo the customer id in `customer_id_field` (an empty setting turns the check
    off): a balance that does not say whose it is cannot be told from another customer's."""
    document = _load_object(body)
    if balance_field not in document:
        raise InvalidResponse(f"response has no {balance_field!r} field")
    if customer_id_field:
        returned_id = document.get(customer_id_field)
        if returned_id is None:
            where = repr(customer_id_field)
            raise InvalidResponse(f"response does not echo the customer id in {where}")
        if str(returned_id) != customer_id:
            raise InvalidResponse("response is for a different customer")
    raw = document[balance_field]
    if raw is None:
        raise NullBalance("balance is null")
    value = _to_decimal(raw)
    if value < 0:
        raise NegativeBalance("balance is negative")
    return value
