"""Turn a 200 response body into a `Reading` (an exact `Decimal` balance, its currency and
when it was taken), or INVALID_RESPONSE. Whether the balance is acceptable (null, negative,
stale, another currency) is for the verification rules (`balmon.rules`) to judge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from balmon.config.settings import SourceSettings
from balmon.errors import InvalidResponse
from balmon.money import parse_amount
from balmon.source.base import Reading


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


@dataclass(frozen=True, slots=True)
class Fields:
    """Where a response keeps what balmon reads (an empty name: not read)."""

    balance: str = "balance"
    customer_id: str = "customer_id"
    currency: str = "currency"
    as_of: str = "as_of"

    @classmethod
    def of(cls, settings: SourceSettings) -> Fields:
        return cls(
            settings.balance_field,
            settings.customer_id_field,
            settings.currency_field,
            settings.as_of_field,
        )


def _currency(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidResponse(f"currency has unexpected type {type(raw).__name__}")
    return raw.strip().upper()


def _as_of(raw: object) -> datetime | None:
    """A timestamp with its UTC offset: without one, "as of when" has no answer."""
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 64:
        raise InvalidResponse("as_of is not a timestamp")
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidResponse("as_of is not a timestamp") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidResponse("as_of has no UTC offset")
    return moment


def _check_owner(document: dict[str, Any], customer_id: str, field: str) -> None:
    """The body must echo the customer id: a balance that does not say whose it is cannot be
    told from another customer's."""
    if not field:
        return
    returned_id = document.get(field)
    if returned_id is None:
        raise InvalidResponse(f"response does not echo the customer id in {field!r}")
    if str(returned_id) != customer_id:
        raise InvalidResponse("response is for a different customer")


def parse_reading(body: bytes, *, customer_id: str, fields: Fields) -> Reading:
    """Validate the body against the Balance API contract and return what it says."""
    document = _load_object(body)
    if fields.balance not in document:
        raise InvalidResponse(f"response has no {fields.balance!r} field")
    _check_owner(document, customer_id, fields.customer_id)
    raw = document[fields.balance]
    return Reading(
        balance=None if raw is None else _to_decimal(raw),
        currency=_currency(document.get(fields.currency)) if fields.currency else None,
        as_of=_as_of(document.get(fields.as_of)) if fields.as_of else None,
    )
