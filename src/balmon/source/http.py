"""The Balance API over HTTP with aiohttp: one request per attempt under one deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp

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
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - clock.now()).total_seconds())


class HttpBalanceSource:
    """Fetches balances from `source.url`; every failure leaves as a `BalanceError`."""

    def __init__(
        self, *, settings: SourceSettings, concurrency: int, clock: Clock | None = None
    ) -> None:
        if settings.url is None:
            raise ConfigError("source.url", "required to fetch balances")
        self._settings = settings
        self._clock = clock or SystemClock()
        self._base = settings.url
        self._headers: Mapping[str, str] = {"Accept": "application/json"}
        if settings.token is not None:
            token = settings.token.get_secret_value()
            self._headers = {**self._headers, "Authorization": f"Bearer {token}"}
        # The pool is sized to the engine's slots, so no attempt waits for a connection
        # while its deadline runs.
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None), raise_for_status=False
        )
        # aiohttp resends an idempotent request once after a reset (aio-libs/aiohttp#10790);
        # the bank must see exactly one request per attempt so the error log's counts are true.
        self._session._retry_connection = False

    def _url(self, customer_id: str) -> str:
        path = self._settings.balance_path.format(customer_id=quote(customer_id, safe=""))
        return f"{self._base}{path}"

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
            raise InvalidResponse(f"malformed HTTP response ({exc.status})") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkFailure(f"connection failed: {type(exc).__name__}") from exc
        return parse_balance(
            body,
            customer_id=customer_id,
            balance_field=self._settings.balance_field,
            customer_id_field=self._settings.customer_id_field,
        )

    async def _request(self, customer_id: str) -> bytes:
        async with self._session.get(self._url(customer_id), headers=self._headers) as response:
            self._check_status(response)
            return await self._read_bounded(response)

    def _check_status(self, response: aiohttp.ClientResponse) -> None:
        status = response.status
        if status == 200:
            return
        if status == 404:
            raise MissingData("no balance record (HTTP 404)")
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), self._clock)
        raise ApiFailure(
            f"balance API answered HTTP {status}", status=status, retry_after=retry_after
        )

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._settings.max_body_bytes
        length = response.content_length
        if length is not None and length > limit:
            raise InvalidResponse(f"response body exceeds {limit} bytes")
        if length is not None:
            return await response.read()  # aiohttp stops at Content-Length: bounded
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise InvalidResponse(f"response body exceeds {limit} bytes")
        return bytes(body)

    async def aclose(self) -> None:
        await self._session.close()
