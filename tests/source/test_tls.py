"""TLS to the bank against a real local HTTPS server and throwaway certificate authorities
(issue 12): every refused certificate is NETWORK_ERROR saying why, never a silent downgrade
to an unverified connection; a bank's private CA and a client certificate can be configured."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from balmon.config.settings import SourceSettings
from balmon.errors import BalanceError, ConfigError, ErrorCode
from tests.source.clients import source as client_source

pytestmark = pytest.mark.usefixtures("each_client")

NOW = datetime.now(UTC)


@asynccontextmanager
async def https_bank(
    server_cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None
) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTPS bank on 127.0.0.1 with `server_cert`; requiring a client certificate signed
    by `client_ca` when given. Yields its URL and the requests it answered."""
    answered: list[str] = []

    async def balance(request: web.Request) -> web.Response:
        answered.append(request.match_info["cid"])
        return web.json_response({"customer_id": request.match_info["cid"], "balance": "7.10"})

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/customers/{cid}/balance", balance)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}", answered
    finally:
        # A handshake the client refused is still being torn down on the server's side
        # (aiohttp does not track it yet): let it close before the loop does, or its
        # transport is left for the garbage collector to warn about.
        await asyncio.sleep(0.1)
        await runner.cleanup()


def _pem(tmp_path: Path, name: str, blob: trustme.Blob) -> Path:
    path = tmp_path / name
    blob.write_to_path(str(path))
    return path


async def _fetch(url: str, **tls: Path) -> Decimal | None:
    settings = SourceSettings(url=url, timeout_seconds=5, **tls)  # type: ignore[arg-type]
    source = client_source(settings, concurrency=1)
    try:
        return (await source.fetch("C1")).balance
    finally:
        await source.aclose()


async def test_a_certificate_from_the_configured_private_ca_is_trusted(tmp_path: Path) -> None:
    ca = trustme.CA()
    async with https_bank(ca.issue_cert("127.0.0.1")) as (url, answered):
        balance = await _fetch(url, ca_file=_pem(tmp_path, "ca.pem", ca.cert_pem))
    assert balance == Decimal("7.10") and answered == ["C1"]


Issue = Callable[[trustme.CA], trustme.LeafCert]
REFUSALS: list[tuple[str, Issue, bool, str]] = [
    (
        "expired",
        lambda ca: ca.issue_cert("127.0.0.1", not_after=NOW - timedelta(days=1)),
        True,
        "TLS certificate rejected: certificate has expired",
    ),
    (
        "wrong host",
        lambda ca: ca.issue_cert("bank.example"),
        True,
        "TLS certificate rejected: IP address mismatch, certificate is not valid for '127.0.0.1'",
    ),
    (
        "signed by an authority balmon does not trust",
        lambda ca: trustme.CA().issue_cert("127.0.0.1"),
        True,
        "TLS certificate rejected: unable to get local issuer certificate",
    ),
    (
        "a private CA without ca_file (the system's authorities only)",
        lambda ca: ca.issue_cert("127.0.0.1"),
        False,
        "TLS certificate rejected: unable to get local issuer certificate",
    ),
]


@pytest.mark.parametrize(
    ("issue", "trust_ca", "message"),
    [(i, t, m) for _, i, t, m in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_a_refused_certificate_is_a_network_error_saying_why(
    tmp_path: Path, issue: Issue, trust_ca: bool, message: str
) -> None:
    ca = trustme.CA()
    tls = {"ca_file": _pem(tmp_path, "ca.pem", ca.cert_pem)} if trust_ca else {}
    async with https_bank(issue(ca)) as (url, answered):
        with pytest.raises(BalanceError) as failure:
            await _fetch(url, **tls)
    assert failure.value.code is ErrorCode.NETWORK_ERROR
    assert failure.value.message.startswith(message), failure.value.message
    assert answered == []  # nothing was asked over a connection balmon did not trust


async def test_a_self_signed_certificate_is_refused(tmp_path: Path) -> None:
    ca = trustme.CA()
    # A self-signed server certificate: the CA's own, presented by the server itself.
    self_signed = trustme.LeafCert(
        private_key_pem=ca.private_key_pem.bytes(), server_cert_pem=ca.cert_pem.bytes(),
        chain_to_ca=[],
    )  # fmt: skip
    async with https_bank(self_signed) as (url, answered):
        with pytest.raises(BalanceError) as failure:
            await _fetch(url)
    assert failure.value.code is ErrorCode.NETWORK_ERROR
    assert failure.value.message.startswith("TLS certificate rejected: self-signed certificate")
    assert answered == []


async def test_mutual_tls_with_a_client_certificate(tmp_path: Path) -> None:
    ca, clients = trustme.CA(), trustme.CA()
    client = clients.issue_cert("balmon@bank.example")
    ca_file = _pem(tmp_path, "ca.pem", ca.cert_pem)
    async with https_bank(ca.issue_cert("127.0.0.1"), client_ca=clients) as (url, answered):
        # Without its certificate the bank refuses balmon's handshake: a network error.
        with pytest.raises(BalanceError) as failure:
            await _fetch(url, ca_file=ca_file)
        assert failure.value.code is ErrorCode.NETWORK_ERROR
        cert = _pem(tmp_path, "client.pem", client.cert_chain_pems[0])
        key = _pem(tmp_path, "client.key", client.private_key_pem)
        balance = await _fetch(url, ca_file=ca_file, client_cert_file=cert, client_key_file=key)
    assert balance == Decimal("7.10") and answered == ["C1"]


def test_an_unusable_pem_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for key in ("ca_file", "client_cert_file"):
        settings = SourceSettings(url="https://127.0.0.1:9", **{key: junk})  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as refused:
            client_source(settings, concurrency=1)
        assert str(refused.value).startswith(f"source.{key}: not a usable PEM file")
