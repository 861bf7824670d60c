"""What every HTTP client of the Balance API must do the same way: which statuses mean what,
the Retry-After header, no content encoding, framing and header limits, the body cap, which
failed requests are attempts, and the URL of one customer."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar
from urllib.parse import quote

from typing_extensions import Buffer
from yarl import URL

from balmon.clock import Clock
from balmon.errors import ApiFailure, InvalidResponse, MissingData

# No compression: a balance is a few bytes, and a compressed body could expand far beyond
# max_body_bytes (a gzip bomb) before anything counted it.
HEADERS = {"Accept": "application/json", "Accept-Encoding": "identity"}


def _digits(value: str) -> bool:
    """ASCII digits only: `str.isdigit` is true of "²" and "١٢" too, which `int` refuses."""
    text = value.strip()
    return text.isascii() and text.isdigit()


def retry_after_seconds(value: str | None, clock: Clock) -> float | None:
    """Parse a Retry-After header (delta seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    if _digits(value):
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000" (RFC 5322's unknown zone) is UTC for HTTP dates
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - clock.now()).total_seconds())


def check_status(status: int, retry_after: str | None, clock: Clock) -> None:
    """200 goes on; 404 is MISSING_DATA; anything else, a redirect included (never followed:
    another server's answer is not the bank's balance), is API_ERROR."""
    if status == 200:
        return
    if status == 404:
        raise MissingData("no balance record (HTTP 404)")
    what = " (a redirect, not followed)" if 300 <= status < 400 else ""
    raise ApiFailure(
        f"balance API answered HTTP {status}{what}",
        status=status,
        retry_after=retry_after_seconds(retry_after, clock),
    )


# How large a response's head may be, whichever client reads it: hyper's own limits (at most
# 100 header lines, and a head that fits its read buffer of 8 KiB + 100 x 4 KiB), which the
# reqwest client enforces in Rust at no cost per request; the aiohttp client is given the same
# (`http.py`). Past them the response is INVALID_RESPONSE "headers too large" on both. (hyper
# may read a head of up to about 480 KB in one go before it counts: between the two, reqwest
# may take what aiohttp refuses. Checking each line in Python instead cost reqwest 10% of its
# instructions per request.)
MAX_HEADERS = 100
MAX_HEAD_BYTES = 8192 + 100 * 4096
HEADERS_TOO_LARGE = "headers too large"
CONFLICTING_FRAMING = "bad framing headers (Content-Length, Transfer-Encoding)"


def malformed(what: str) -> InvalidResponse:
    return InvalidResponse(f"malformed HTTP response: {what}")


def check_framing(lengths: list[str], encodings: list[str]) -> None:
    """One way to find where the body ends, or none: two Content-Lengths, a list in one, or a
    Transfer-Encoding beside a Content-Length are how responses get smuggled past proxies
    (RFC 9112 6.3), so they are refused rather than guessed at."""
    if len(lengths) > 1 or (lengths and encodings) or any("," in value for value in lengths):
        raise malformed(CONFLICTING_FRAMING)


class Unanswered(Exception):
    """A request went out on a pooled connection that died before a byte of answer came back.

    The bank closed that connection after its previous answer (HTTP/1.0 habits, some load
    balancers), so it never read this request: it is not an attempt. The client sends it again
    once on a new connection, inside the same deadline, and only that request counts
    (RFC 9112 9.3.1 allows it for a GET). A request on a new connection that fails is always an
    attempt: the bank may have read it."""


Client = TypeVar("Client")
Url = TypeVar("Url")
_C = TypeVar("_C", contravariant=True)
_U = TypeVar("_U", contravariant=True)


class Exchange(Protocol[_C, _U]):
    """A client's one request: raises `Unanswered` when `reused` and the connection died."""

    def __call__(self, client: _C, url: _U, /, *, reused: bool) -> Awaitable[bytes]: ...


# A client's pool drops a connection idle this long; balmon's guess about it does too.
IDLE_SECONDS = 60.0


class IdleConnections:
    """A client's pool, as far as balmon can know it. reqwest does not say whether a request
    took an idle connection (aiohttp does, through tracing signals that cost it 12% of its
    instructions per request), and counting them from Python races with the pool (it takes a
    connection back before Python has read the end of its body), so balmon takes the safe side:
    a request may have gone out on a pooled connection (`Unanswered`) once an answer has come
    back within the pool's idle timeout, or while another request is out that may hand its
    connection back first. The cost of the guess is bounded: a request that dies
    unanswered on a new connection is sent once more, on a new one."""

    __slots__ = ("_kept_at", "_max_age", "_out")

    def __init__(self, max_age: float) -> None:
        self._kept_at = -max_age
        self._max_age = max_age
        self._out = 0

    def begin(self) -> bool:
        """A request goes out on the pooled client; whether it may reuse a connection. (Not a
        context manager: this runs once per request, and a generator costs more.)"""
        # One second short of the pool's own timeout: a connection near it may be gone.
        kept = time.monotonic() - self._kept_at < self._max_age - 1
        self._out += 1
        return kept or self._out > 1

    def end(self, *, answered: bool) -> None:
        self._out -= 1
        if answered:
            self._kept_at = time.monotonic()

    async def send(
        self, exchange: Exchange[Client, Url], url: Url, pooled: Client, fresh: Client
    ) -> bytes:
        """One request through `pooled`, and once more through `fresh` (a client with no
        pool) when a connection that may have come from the pool died unanswered."""
        answered = False
        try:
            body = await exchange(pooled, url, reused=self.begin())
            answered = True
            return body
        except Unanswered:
            return await exchange(fresh, url, reused=False)
        finally:
            self.end(answered=answered)


def check_encoding(value: str | None) -> None:
    if (value or "identity").strip().lower() not in ("", "identity"):
        # Not named: a header's value is the bank's text, and could be anything.
        raise InvalidResponse("response body has a content encoding; balmon asked for none")


class BodyCap:
    """Collects a body chunk by chunk and stops it at `limit` bytes, whatever Content-Length
    said (a trickling or endless body never grows past the cap)."""

    __slots__ = ("_body", "_limit")

    def __init__(self, limit: int, content_length: int | None) -> None:
        if content_length is not None and content_length > limit:
            raise InvalidResponse(f"response body exceeds {limit} bytes")
        self._limit = limit
        self._body = bytearray()

    def add(self, chunk: Buffer) -> None:
        self._body += chunk
        if len(self._body) > self._limit:
            raise InvalidResponse(f"response body exceeds {self._limit} bytes")

    def body(self) -> bytes:
        return bytes(self._body)


class CustomerUrls:
    """The balance URL of one customer. Both halves around the id are encoded once, as yarl
    would, and the id is one percent-encoded path segment (a `/` in it never makes another
    path), so no client needs to parse and encode the whole URL again on every request."""

    __slots__ = ("_head", "_tail")

    def __init__(self, base: str, balance_path: str) -> None:
        mark = "BALMONCUSTOMERIDMARK"
        encoded = str(URL(f"{base}{balance_path.format(customer_id=mark)}"))
        self._head, _, self._tail = encoded.partition(mark)

    def __call__(self, customer_id: str) -> str:
        return f"{self._head}{quote(customer_id, safe='')}{self._tail}"


def content_length(value: str | None) -> int | None:
    if value is None or not _digits(value):
        return None
    return int(value)
