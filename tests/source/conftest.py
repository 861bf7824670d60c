from __future__ import annotations

import pytest

from tests.source import clients


@pytest.fixture(params=clients.CLIENTS)
def each_client(request: pytest.FixtureRequest) -> str:
    client: str = request.param
    clients.choose(client)
    return client
