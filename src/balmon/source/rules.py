"""What every HTTP client of the Balance API must do the same way: which statuses mean what,
the Retry-After header, no content encoding, framing and header limits, the body cap, which
failed requests are attempts, and the URL of one customer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from email.utils import parsedate_to_datetime
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


# The most header bytes one line may hold and the most header lines one response may have;
# past either the response is refused, whichever client read it (aiohttp's line limit, hyper's
# count), so that both log the same code for the same bytes.
MAX_HEADER_LINE = 8190
MAX_HEADERS = 100
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


def check_header_sizes(headers: Iterable[tuple[str, str]]) -> None:
    for count, (name, value) in enumerate(headers, start=1):
        if count > MAX_HEADERS or len(name) + len(value) + 2 > MAX_HEADER_LINE:
            raise malformed(HEADERS_TOO_LARGE)


class Unanswered(Exception):
    """A request went out on a pooled connection that died before a byte of answer came back.

    The bank closed that connection after its previous answer (HTTP/1.0 habits, some load
    balancers), so it never read this request: it is not an attempt. The client sends it again
    once on a new connection, inside the same deadline, and only that request counts
    (RFC 9112 9.3.1 allows it for a GET). A request on a new connection that fails is always an
    attempt: the bank may have read it."""


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
