"""One contract for both clients about connections and HTTP framing: an attempt is logged only
for a request the bank may have received, and malformed framing is INVALID_RESPONSE whichever
client read it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from balmon.config.settings import SourceSettings
from balmon.errors import ApiFailure, BalanceError, ErrorCode
from balmon.source import BalanceSource
from tests.source.clients import source as client_source
from tests.source.rawbank import BODY, RawBank, ok

pytestmark = pytest.mark.usefixtures("each_client")


def _source(url: str, *, concurrency: int = 4) -> BalanceSource:
    settings = SourceSettings.model_validate({"url": url, "timeout_seconds": 2.0})
    return client_source(settings, concurrency=concurrency)


async def test_a_bank_that_closes_after_answering_sees_one_request_per_customer() -> None:
    """Pooled connections the bank already closed are sent again on a new one, uncounted:
    every customer passes and the bank received exactly one request each (the bank's own
    count, not balmon's)."""
    customers = [f"C{n}" for n in range(400)]
    async with RawBank(close_after_answer=True).running() as bank:
        source = _source(bank.url, concurrency=8)
        slots = asyncio.Semaphore(8)

        async def one(cid: str) -> Decimal | str:
            async with slots:
                try:
                    balance = (await source.fetch(cid)).balance
                    assert balance is not None
                    return balance
                except BalanceError as exc:
                    return f"{exc.code}: {exc.message}"

        try:
            outcomes = await asyncio.gather(*(one(cid) for cid in customers))
        finally:
            await source.aclose()
    failures = [outcome for outcome in outcomes if not isinstance(outcome, Decimal)]
    assert failures == []
    assert bank.received == dict.fromkeys(customers, 1)


async def test_a_reset_after_a_kept_alive_answer_is_sent_once_more_on_a_new_connection() -> None:
    """The bank answered C1 on a kept-alive connection, then dropped C2 unanswered: C2 may have
    found a dead pooled connection, so it goes again on a new one; when that one fails too the
    attempt is one NETWORK_ERROR."""

    def answer(cid: str) -> bytes:
        if cid == "C2":
            return b""  # read, never answered: the connection closes with nothing said
        return ok(cid)

    async with RawBank(answer).running() as bank:
        source = _source(bank.url, concurrency=1)
        try:
            assert (await source.fetch("C1")).balance == Decimal("12.34")
            with pytest.raises(BalanceError) as caught:
                await source.fetch("C2")
        finally:
            await source.aclose()
    assert caught.value.code is ErrorCode.NETWORK_ERROR
    assert bank.received["C2"] == 2


def _framed(headers: bytes, body: bytes | None = None) -> bytes:
    payload = body if body is not None else BODY % b"C1"
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + payload


_LENGTH = b"%d" % len(BODY % b"C1")
_CHUNKED = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY % b"C1"), BODY % b"C1")

# Each row: what the bank sends, what balmon logs. The same table runs on both clients.
FRAMING = {
    "duplicate Content-Length": (
        _framed(b"Content-Length: " + _LENGTH + b"\r\nContent-Length: " + _LENGTH + b"\r\n"),
        "malformed HTTP response: bad framing headers (Content-Length, Transfer-Encoding)",
    ),
    "comma-joined Content-Length": (
        _framed(b"Content-Length: " + _LENGTH + b", " + _LENGTH + b"\r\n"),
        "malformed HTTP response: bad framing headers (Content-Length, Transfer-Encoding)",
    ),
    "Transfer-Encoding with Content-Length": (
        _framed(b"Transfer-Encoding: chunked\r\nContent-Length: " + _LENGTH + b"\r\n", _CHUNKED),
        "malformed HTTP response: bad framing headers (Content-Length, Transfer-Encoding)",
    ),
    "a Content-Length in other digits": (
        _framed("Content-Length: ²\r\n".encode()),
        "malformed HTTP response: bad framing headers (Content-Length, Transfer-Encoding)",
    ),
    "one header of 1 MB": (
        _framed(b"X-Pad: " + b"a" * 1_000_000 + b"\r\nContent-Length: " + _LENGTH + b"\r\n"),
        "malformed HTTP response: headers too large",
    ),
    "three headers of 200 KB": (
        _framed(
            b"".join(b"X-Pad%d: %s\r\n" % (n, b"a" * 200_000) for n in range(3))
            + b"Content-Length: "
            + _LENGTH
            + b"\r\n"
        ),
        "malformed HTTP response: headers too large",
    ),
    "300 headers": (
        _framed(b"".join(b"X-H%d: v\r\n" % n for n in range(300)) + b"Content-Length: 10\r\n"),
        "malformed HTTP response: headers too large",
    ),
}


async def _failure(raw: bytes) -> tuple[BalanceError, RawBank]:
    """How one fetch of C1 fails against a bank that sends `raw` and closes."""
    async with RawBank(lambda cid: raw, close_after_answer=True).running() as bank:
        source = _source(bank.url)
        try:
            with pytest.raises(BalanceError) as caught:
                await source.fetch("C1")
        finally:
            await source.aclose()
    return caught.value, bank


@pytest.mark.parametrize("case", sorted(FRAMING))
async def test_malformed_framing_is_an_invalid_response_on_every_client(case: str) -> None:
    raw, message = FRAMING[case]
    failure, bank = await _failure(raw)
    assert (failure.code, failure.message) == (ErrorCode.INVALID_RESPONSE, message)
    assert bank.received["C1"] == 1


async def test_a_large_head_within_the_limits_is_read_alike() -> None:
    """A 100 KB header fits hyper's limits, which both clients keep: the balance stands."""
    raw = _framed(b"X-Pad: " + b"a" * 100_000 + b"\r\nContent-Length: " + _LENGTH + b"\r\n")
    async with RawBank(lambda cid: raw, close_after_answer=True).running() as bank:
        source = _source(bank.url)
        try:
            assert (await source.fetch("C1")).balance == Decimal("12.34")
        finally:
            await source.aclose()


@pytest.mark.parametrize("value", ["²", "١٢", "1e9999999999999999999"])
async def test_a_retry_after_the_client_cannot_read_is_absent(value: str) -> None:
    """A 503 stays an API_ERROR, retried on balmon's own backoff (was INTERNAL_ERROR on
    aiohttp for "²": never retried)."""
    raw = b"HTTP/1.1 503 Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n"
    failure, _ = await _failure(raw % value.encode())
    assert isinstance(failure, ApiFailure) and failure.code is ErrorCode.API_ERROR
    assert failure.retry_after is None
