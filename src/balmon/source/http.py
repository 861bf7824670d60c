"""The Balance API over HTTP with aiohttp: one request per attempt under one deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from yarl import URL

from balmon import limits
from balmon.clock import Clock, SystemClock
from balmon.config.settings import SourceSettings
from balmon.errors import (
    BalanceError,
    ConfigError,
    NetworkFailure,
    TimeoutFailure,
)
from balmon.source.base import Reading
from balmon.source.parse import Fields, parse_reading
from balmon.source.rules import (
    CONFLICTING_FRAMING,
    HEADERS,
    HEADERS_TOO_LARGE,
    IDLE_SECONDS,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    BodyCap,
    CustomerUrls,
    IdleConnections,
    Unanswered,
    check_encoding,
    check_status,
    malformed,
    retry_after_seconds,
)
from balmon.source.tls import tls_context

__all__ = ["HttpBalanceSource", "retry_after_seconds"]

_CHUNK = 64 * 1024


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
        self._fields = Fields.of(settings)
        self._clock = clock or SystemClock()
        self._urls = CustomerUrls(settings.url, settings.balance_path)
        self._headers: Mapping[str, str] = HEADERS
        if settings.token is not None:
            token = settings.token.get_secret_value()
            self._headers = {**self._headers, "Authorization": f"Bearer {token}"}
        tls = tls_context(settings)
        self._session = self._open(
            aiohttp.TCPConnector(limit=concurrency, ssl=tls, keepalive_timeout=IDLE_SECONDS)
        )
        self._idle = IdleConnections(IDLE_SECONDS)
        # Where a request found dead in the pool goes again (`Unanswered`): a connection of
        # its own, never one from the pool.
        self._fresh = self._open(aiohttp.TCPConnector(limit=concurrency, force_close=True, ssl=tls))

    @staticmethod
    def _open(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        # The pool is sized to the engine's slots, so no attempt waits for a connection
        # while its deadline runs.
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            auto_decompress=False,
            max_line_size=MAX_HEAD_BYTES,
            max_field_size=MAX_HEAD_BYTES,
            max_headers=MAX_HEADERS,
        )
        # aiohttp resends any idempotent request once after a reset (aio-libs/aiohttp#10790),
        # one on a new connection included, which the bank may have read. balmon resends only
        # what a dead pooled connection swallowed (`Unanswered`), so the log's counts are true.
        session._retry_connection = False
        return session

    def _url(self, customer_id: str) -> URL:
        return URL(self._urls(customer_id), encoded=True)

    async def fetch(self, customer_id: str) -> Reading:
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
            raise malformed(_what_was_malformed(exc)) from exc
        except aiohttp.ClientSSLError as exc:
            raise NetworkFailure(_tls_problem(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkFailure(f"connection failed: {type(exc).__name__}") from exc
        return parse_reading(body, customer_id=customer_id, fields=self._fields)

    async def _request(self, customer_id: str) -> bytes:
        url = self._url(customer_id)
        return await self._idle.send(self._exchange, url, self._session, self._fresh)

    async def _exchange(self, session: aiohttp.ClientSession, url: URL, *, reused: bool) -> bytes:
        try:
            # Never follow a redirect: another server's answer is not the bank's balance, and
            # a loop would send several requests for one attempt.
            response = await session.get(url, headers=self._headers, allow_redirects=False)
        except aiohttp.ClientConnectorError:
            raise  # connecting failed: a new connection, never a pooled one
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if reused:
                raise Unanswered from exc
            raise
        async with response:
            # hyper's limit on the whole head, which aiohttp checks per line only.
            if sum(len(k) + len(v) + 4 for k, v in response.raw_headers) > MAX_HEAD_BYTES:
                raise malformed(HEADERS_TOO_LARGE)
            check_status(response.status, response.headers.get("Retry-After"), self._clock)
            check_encoding(response.headers.get("Content-Encoding"))
            cap = BodyCap(self._settings.max_body_bytes, response.content_length)
            async for chunk in response.content.iter_chunked(_CHUNK):
                cap.add(chunk)
            return cap.body()

    async def aclose(self) -> None:
        await self._session.close()
        await self._fresh.close()


# aiohttp's parser errors name what broke; the rest of their text may quote the bank's bytes.
_MALFORMED = (
    ("content-length", CONFLICTING_FRAMING),
    ("transfer-encoding", CONFLICTING_FRAMING),
    ("got more than", HEADERS_TOO_LARGE),
    ("too many headers", HEADERS_TOO_LARGE),
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
