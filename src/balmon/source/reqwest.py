"""The Balance API over HTTP with pyreqwest (Rust's reqwest and hyper on a tokio thread): the
same contract as the aiohttp client, at a fraction of its per-request cost in Python."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pyreqwest.client import ClientBuilder
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
    InvalidResponse,
    NetworkFailure,
    TimeoutFailure,
)
from balmon.source.parse import parse_balance
from balmon.source.rules import (
    HEADERS,
    BodyCap,
    CustomerUrls,
    check_encoding,
    check_status,
    content_length,
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
        self._clock = clock or SystemClock()
        self._urls = CustomerUrls(settings.url, settings.balance_path)
        self._host = URL(settings.url).host or ""
        headers = dict(HEADERS)
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        deadline = timedelta(seconds=settings.timeout_seconds)
        builder = (
            ClientBuilder()
            .default_headers(headers)
            # The pool is sized to the engine's slots, so no attempt waits for a connection
            # while its deadline runs.
            .max_connections(concurrency)
            .pool_max_idle_per_host(concurrency)
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
            .timeout(deadline)
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
            self._client = builder.build()
        except (BuilderError, OSError, ValueError) as exc:
            raise ConfigError(key, f"not a usable PEM file ({type(exc).__name__})") from None

    async def fetch(self, customer_id: str) -> Decimal:
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
        return parse_balance(
            body,
            customer_id=customer_id,
            balance_field=self._settings.balance_field,
            customer_id_field=self._settings.customer_id_field,
        )

    async def _request(self, customer_id: str) -> bytes:
        request = self._client.get(self._urls(customer_id)).build_streamed()
        async with request as response:
            status = response.status
            if status != 200:
                check_status(status, _header(response, "Retry-After"), self._clock)
            check_encoding(_header(response, "Content-Encoding", unreadable="unreadable"))
            length = content_length(_header(response, "Content-Length"))
            cap = BodyCap(self._settings.max_body_bytes, length)
            reader = response.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                cap.add(chunk)
            return cap.body()

    async def aclose(self) -> None:
        await self._client.close()


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
        return InvalidResponse(f"malformed HTTP response: {_what_was_malformed(text)}")
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
_MALFORMED_HINTS = ("parse", "invalid", "incomplete", "chunk", "header", "status")
_MALFORMED = (
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
