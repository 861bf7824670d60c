"""The Balance API over HTTP with pyreqwest (Rust's reqwest and hyper on a tokio thread): the
same contract as the aiohttp client, at a fraction of its per-request cost in Python."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import timedelta
from typing import Any

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import (
    BuilderError,
    ConnectError,
    PyreqwestError,
    ReadError,
    RequestError,
)
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
    BodyCap,
    CustomerUrls,
    IdleConnections,
    Unanswered,
    check_encoding,
    check_framing,
    check_status,
    content_length,
    malformed,
)
from balmon.source.tls import tls_context


class ReqwestBalanceSource:
    """Fetches balances from `source.url`; every failure leaves as a `BalanceError`."""

    def __init__(
        self, *, settings: SourceSettings, concurrency: int, clock: Clock | None = None
    ) -> None:
        if settings.url is None:
            raise ConfigError("source.url", "required to fetch balances")
        tls_context(settings)  # the same one-line refusal of an unusable PEM file
        self._settings = settings
        self._fields = Fields.of(settings)
        self._clock = clock or SystemClock()
        self._urls = CustomerUrls(settings.url, settings.balance_path)
        self._host = URL(settings.url).host or ""
        self._client = _client(settings, connections=concurrency, idle=concurrency)
        # Where a request found dead in the pool goes again (`Unanswered`): a connection of
        # its own, never one from the pool.
        self._fresh = _client(settings, connections=concurrency, idle=0)
        self._idle = IdleConnections(IDLE_SECONDS)

    async def fetch(self, customer_id: str) -> Reading:
        """One attempt, bounded by one wall-clock deadline for connect, headers and body."""
        timeout = self._settings.timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                body = await self._request(customer_id)
        except TimeoutError as exc:  # pyreqwest's own timeouts are TimeoutErrors too
            raise TimeoutFailure(f"no complete response within {timeout:g}s") from exc
        except BalanceError:
            raise
        except PyreqwestError as exc:
            raise _failure(exc, self._host) from exc
        except OSError as exc:
            raise NetworkFailure(f"connection failed: {type(exc).__name__}") from exc
        return parse_reading(body, customer_id=customer_id, fields=self._fields)

    async def _request(self, customer_id: str) -> bytes:
        url = self._urls(customer_id)
        return await self._idle.send(self._exchange, url, self._client, self._fresh)

    async def _exchange(self, client: Client, url: str, *, reused: bool) -> bytes:
        answered = False
        try:
            async with client.get(url).build_streamed() as response:
                answered = True
                status = response.status
                if status != 200:
                    check_status(status, _header(response, "Retry-After"), self._clock)
                check_encoding(_header(response, "Content-Encoding", unreadable="unreadable"))
                lengths = _all(response, "Content-Length")
                check_framing(lengths, _all(response, "Transfer-Encoding"))
                cap = BodyCap(
                    self._settings.max_body_bytes, content_length(lengths[0] if lengths else None)
                )
                reader = response.body_reader
                while (chunk := await reader.read_chunk()) is not None:
                    cap.add(chunk)
                return cap.body()
        except PyreqwestError as exc:
            if reused and not answered and _connection_died(exc):
                raise Unanswered from exc
            raise

    async def aclose(self) -> None:
        await self._client.close()
        await self._fresh.close()


def _client(settings: SourceSettings, *, connections: int, idle: int) -> Client:
    """A reqwest client that keeps up to `idle` connections open between requests (0: a new
    connection for every request)."""
    headers = dict(HEADERS)
    if settings.token is not None:
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    builder = (
        ClientBuilder()
        .default_headers(headers)
        # The pool is sized to the engine's slots, so no attempt waits for a connection
        # while its deadline runs.
        .max_connections(connections)
        .pool_max_idle_per_host(idle)
        .pool_idle_timeout(timedelta(seconds=IDLE_SECONDS))
        # Never through a proxy from the environment (HTTP_PROXY...): it would see the
        # token and the customer ids, and could answer for the bank. aiohttp ignores them.
        .no_proxy()
        .follow_redirects(False)
        .gzip(False)
        .brotli(False)
        .zstd(False)
        .deflate(False)
        .error_for_status(False)
        .http1_only()
        # The Rust side stops at the same deadline as the attempt, so a request the
        # attempt gave up on never goes on reading in the background.
        .timeout(timedelta(seconds=settings.timeout_seconds))
    )
    key = "source.ca_file"
    try:
        if settings.ca_file is not None:
            builder = builder.add_root_certificate_pem(settings.ca_file.read_bytes())
        if settings.client_cert_file is not None:
            key = "source.client_cert_file"
            identity = settings.client_cert_file.read_bytes()
            if settings.client_key_file is not None:
                identity += b"\n" + settings.client_key_file.read_bytes()
            builder = builder.identity_pem(identity)
        return builder.build()
    except (BuilderError, OSError, ValueError) as exc:
        raise ConfigError(key, f"not a usable PEM file ({type(exc).__name__})") from None


def _all(response: Any, name: str) -> list[str]:
    try:
        values: list[str] = response.get_header_all(name)
    except ValueError:  # bytes that are not text: still a value, so still counted
        return ["unreadable"]
    return values


# How hyper says a connection died before any byte of the answer (a reset, or the end of the
# stream, while the request was being written or its answer awaited).
_DEAD = ("connection closed before message completed", "connection reset", "broken pipe")


def _connection_died(exc: PyreqwestError) -> bool:
    text = " | ".join(_causes(exc)).lower()
    return any(sign in text for sign in _DEAD)


def _header(response: Any, name: str, *, unreadable: str | None = None) -> str | None:
    """A header's value, or `unreadable` when its bytes are not text (pyreqwest raises
    ValueError for them): an unreadable Retry-After or Content-Length is as good as absent,
    an unreadable Content-Encoding is still an encoding, and refused."""
    try:
        value: str | None = response.get_header(name)
    except ValueError:
        return unreadable
    return value


def _causes(exc: PyreqwestError) -> list[str]:
    """reqwest's chain of causes, outermost first. The first names the URL (and so the
    customer id): only the inner ones are ever used in a message."""
    details = getattr(exc, "details", None) or {}
    return [str(cause.get("message", "")) for cause in details.get("causes") or []][1:]


def _failure(exc: PyreqwestError, host: str) -> BalanceError:
    causes = _causes(exc)
    root = causes[-1] if causes else ""
    if root.startswith("invalid peer certificate"):
        return NetworkFailure(f"TLS certificate rejected: {_certificate_problem(root, host)}")
    text = " | ".join(causes).lower()
    if any(word in text for word in ("tls", "handshake", "certificate", "alert")):
        return NetworkFailure(f"TLS handshake failed: {limits.clip(root or 'refused', 120)}")
    if isinstance(exc, ConnectError | ReadError):
        return NetworkFailure(f"connection failed: {type(exc).__name__}")
    if isinstance(exc, RequestError) and any(k in text for k in _MALFORMED_HINTS):
        return malformed(_what_was_malformed(text))
    return NetworkFailure(f"connection failed: {type(exc).__name__}")


def _certificate_problem(root: str, host: str) -> str:
    """rustls's reason for refusing the bank's certificate, in OpenSSL's words (the aiohttp
    client's), so a log reads the same whichever client made the request."""
    if "expired" in root:
        return "certificate has expired"
    if "not valid for name" in root:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"Hostname mismatch, certificate is not valid for '{host}'"
        return f"IP address mismatch, certificate is not valid for '{host}'"
    if "CaUsedAsEndEntity" in root:  # a CA's own certificate served as the bank's
        return "self-signed certificate"
    if "UnknownIssuer" in root:
        return "unable to get local issuer certificate"
    if "Revoked" in root:
        return "certificate revoked"
    if "NotValidYet" in root or "not valid before" in root:
        return "certificate is not yet valid"
    return limits.clip(root.removeprefix("invalid peer certificate: "), 120)


# hyper's parse errors name what broke ("invalid HTTP status-code parsed"); the rest of their
# text may quote the bank's bytes.
_MALFORMED_HINTS = ("parse", "invalid", "incomplete", "chunk", "header", "status", "too large")
_MALFORMED = (
    ("content-length", CONFLICTING_FRAMING),
    ("transfer-encoding", CONFLICTING_FRAMING),
    ("too large", HEADERS_TOO_LARGE),
    ("status", "a bad status line"),
    ("chunk", "a bad chunk size"),
    ("incomplete", "a body shorter than its Content-Length"),
    ("header", "a bad header"),
)


def _what_was_malformed(causes: str) -> str:
    for needle, said in _MALFORMED:
        if needle in causes:
            return said
    return "unparsable HTTP"
