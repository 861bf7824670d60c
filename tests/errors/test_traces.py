"""Stored and logged stack traces keep every frame and exception type, and only the messages
balmon can vouch for (issue 12, canaries): a library's text may quote the bank's bytes."""

from __future__ import annotations

import json
import logging

import pytest

from balmon.errors import InvalidResponse
from balmon.errors.traces import WITHHELD, safe_trace
from balmon.logs import JsonLines

SECRET = "DE89370400440532013000 Zebulon Canarywick"


def _raised() -> InvalidResponse:
    try:
        try:
            raise ValueError(f"Bad status line {SECRET!r}")
        except ValueError as exc:
            raise InvalidResponse("malformed HTTP response: a bad status line") from exc
    except InvalidResponse as failure:
        return failure


def test_a_foreign_message_is_withheld_and_the_rest_kept() -> None:
    trace = safe_trace(_raised())
    assert SECRET not in trace
    assert trace.count("Traceback (most recent call last):") == 2
    assert f"ValueError: {WITHHELD}" in trace
    assert "direct cause of the following exception" in trace
    assert trace.rstrip().endswith(
        "balmon.errors.exceptions.InvalidResponse: malformed HTTP response: a bad status line"
    )
    assert "in _raised" in trace  # the frames are all there


def test_messages_that_quote_nothing_of_the_bank_are_kept() -> None:
    with pytest.raises(json.JSONDecodeError) as parse:
        json.loads('{"balance": ')
    assert safe_trace(parse.value).endswith("Expecting value: line 1 column 13\n")
    with pytest.raises(ConnectionRefusedError) as refused:
        raise ConnectionRefusedError(111, "refused by " + SECRET)
    assert safe_trace(refused.value).endswith(
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
    )


def test_a_logged_exception_is_formatted_the_same_way() -> None:
    failure = _raised()
    record = logging.LogRecord(
        "balmon.engine", logging.ERROR, __file__, 1, "attempt failed", None,
        (type(failure), failure, failure.__traceback__),
    )  # fmt: skip
    line = json.loads(JsonLines().format(record))
    assert SECRET not in line["exc"] and WITHHELD in line["exc"]
