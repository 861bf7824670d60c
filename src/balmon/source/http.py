"""The Balance API over HTTP with aiohttp: one request per attempt under one deadline."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp
from yarl import URL

from balmon import limits
from balmon.clock import Clock, SystemClock
from balmon.config.settings import SourceSettings
from balmon.errors import (
    ApiFailure,
    BalanceError,
    ConfigError,
    InvalidResponse,
    MissingData,
    NetworkFailure,
    TimeoutFailure,
)
from balmon.source.parse import parse_balance

_CHUNK = 64 * 1024


def retry_after_seconds(value: str | None, clock: Clock) -> float | None:
    """Parse a Retry-After header (delta seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000" (RFC 5322's unknown zone) is UTC for HTTP dates
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - clock.now()).total_seconds())


def tls_context(settings: SourceSettings) -> ssl.SSLContext:
    """Verified TLS, always: the system's authorities, or only `ca_file`'s (a bank's private
    CA), and the client certificate for mutual TLS when one is configured."""
    key = "source.ca_file"
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.client_cert_file is not None:
            key = "source.client_cert_file"
            context.load_cert_chain(
                settings.client_cert_file,
                settings.client_key_file,
                password=lambda: b"",  # an encrypted key fails here instead of prompting
            )
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(key, f"not a usable PEM file ({reason})") from None
    return context


def _tls_problem(exc: aiohttp.ClientSSLError) -> str:
    """OpenSSL's own words for why the bank's certificate was refused (fixed texts, and
    at most the host name balmon asked for)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
        return f"TLS certificate rejected: {limits.clip(str(reason or 'unverified'), 120)}"
    reason = getattr(exc.os_error, "reason", None) or type(exc.os_error).__name__
    return f"TLS handshake failed: {limits.clip(str(reason), 120)}"


class HttpBalanceSource:
    """Fetches balances from `source.url`; every failure leaves as a `BalanceError`."""

    def __init__(
        self, *, settings: SourceSettings, concurrency: int, clock: Clock | None = None
    ) -> None:
        if settings.url is None:
            raise ConfigError("source.url", "required to fetch balances")
        self._settings = settings
        self._clock = clock or SystemClock()
        self._halves = _url_halves(settings.url, settings.balance_path)
        # No compression: a balance is a few bytes, and a compressed body could expand far
        # beyond max_body_bytes (a gzip bomb) before anything counted it.
        self._headers: Mapping[str, str] = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        if settings.token is not None:
            token = settings.token.get_secret_value()
            self._headers = {**self._headers, "Authorization": f"Bearer {token}"}
        # The pool is sized to the engine's slots, so no attempt waits for a connection
        # while its deadline runs.
        connector = aiohttp.TCPConnector(
            limit=concurrency, limit_per_host=concurrency, ssl=tls_context(settings)
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            auto_decompress=False,
        )
        # aiohttp resends an idempotent request once after a reset (aio-libs/aiohttp#10790);
        # the bank must see exactly one request per attempt so the error log's counts are true.
        self._session._retry_connection = False

    def _url(self, customer_id: str) -> URL:
        # Both halves were encoded once (`_url_halves`) and the id is percent-encoded here:
        # yarl need not parse and encode the whole URL again on every request.
        head, tail = self._halves
        return URL(f"{head}{quote(customer_id, safe='')}{tail}", encoded=True)

    async def fetch(self, customer_id: str) -> Decimal:
        """One attempt, bounded by one wall-clock deadline for connect, headers and body."""
        timeout = self._settings.timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                body = await self._request(customer_id)
        except TimeoutError as exc:
            raise TimeoutFailure(f"no complete response within {timeout:g}s") from exc
        except BalanceError:
            raise
        except aiohttp.ClientResponseError as exc:
            raise InvalidResponse(f"malformed HTTP response: {_what_was_malformed(exc)}") from exc
        except aiohttp.ClientSSLError as exc:
            raise NetworkFailure(_tls_problem(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkFailure(f"connection failed: {type(exc).__name__}") from exc
        return parse_balance(
            body,
            customer_id=customer_id,
            balance_field=self._settings.balance_field,
            customer_id_field=self._settings.customer_id_field,
        )

    async def _request(self, customer_id: str) -> bytes:
        # Never follow a redirect: another server's answer is not the bank's balance, and a
        # loop would send several requests for one attempt.
        async with self._session.get(
            self._url(customer_id), headers=self._headers, allow_redirects=False
        ) as response:
            self._check_status(response)
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # Not named: a header's value is the bank's text, and could be anything.
                raise InvalidResponse("response body has a content encoding; balmon asked for none")
            return await self._read_bounded(response)

    def _check_status(self, response: aiohttp.ClientResponse) -> None:
        status = response.status
        if status == 200:
            return
        if status == 404:
            raise MissingData("no balance record (HTTP 404)")
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), self._clock)
        what = " (a redirect, not followed)" if 300 <= status < 400 else ""
        raise ApiFailure(
            f"balance API answered HTTP {status}{what}", status=status, retry_after=retry_after
        )

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._settings.max_body_bytes
        length = response.content_length
        if length is not None and length > limit:
            raise InvalidResponse(f"response body exceeds {limit} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise InvalidResponse(f"response body exceeds {limit} bytes")
        return bytes(body)

    async def aclose(self) -> None:
        await self._session.close()


def _url_halves(base: str, balance_path: str) -> tuple[str, str]:
    """The balance URL before and after the customer id, each encoded as yarl would."""
    mark = "BALMONCUSTOMERIDMARK"
    encoded = str(URL(f"{base}{balance_path.format(customer_id=mark)}"))
    head, _, tail = encoded.partition(mark)
    return head, tail


# aiohttp's parser errors name what broke; the rest of their text may quote the bank's bytes.
_MALFORMED = (
    ("status line", "a bad status line"),
    ("chunk", "a bad chunk size"),
    ("content length", "a body shorter than its Content-Length"),
    ("header", "a bad header"),
)


def _what_was_malformed(exc: aiohttp.ClientResponseError) -> str:
    text = str(exc.message).lower()
    for needle, said in _MALFORMED:
        if needle in text:
            return said
    return "unparsable HTTP"
