"""`source.client`: which HTTP client a run uses, and why `auto` is not always the faster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from balmon.config.settings import SourceSettings
from balmon.source import HttpBalanceSource, ReqwestBalanceSource, open_source


def _opened(tmp_path: Path, client: str, *, private_ca: bool) -> type:
    values: dict[str, object] = {"url": "https://bank.example", "client": client}
    if private_ca:
        ca_file = tmp_path / "ca.pem"
        trustme.CA().cert_pem.write_to_path(str(ca_file))
        values["ca_file"] = ca_file
    settings = SourceSettings.model_validate(values)

    async def opened() -> type:
        source = open_source(settings, concurrency=2)  # aiohttp's session needs a loop
        await source.aclose()
        return type(source)

    return asyncio.run(opened())


@pytest.mark.parametrize(
    ("client", "private_ca", "chosen"),
    [
        ("auto", False, ReqwestBalanceSource),
        # Only aiohttp can trust a private CA alone; reqwest would add the system's authorities.
        ("auto", True, HttpBalanceSource),
        ("reqwest", True, ReqwestBalanceSource),
        ("aiohttp", False, HttpBalanceSource),
    ],
)
def test_the_client_follows_the_setting(
    tmp_path: Path, client: str, private_ca: bool, chosen: type
) -> None:
    assert _opened(tmp_path, client, private_ca=private_ca) is chosen


def test_an_unknown_client_names_the_key() -> None:
    with pytest.raises(ValueError, match="client"):
        SourceSettings.model_validate({"url": "http://x", "client": "curl"})
