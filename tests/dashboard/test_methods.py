"""HEAD where GET is (load balancers probe with it), and OPTIONS / 405 naming every method a
path takes, through TestClient and through a real uvicorn server."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient

from balmon.dashboard.auth import Role, create_token
from tests.dashboard.browser import live_server

Login = Callable[[str], tuple[TestClient, str]]


def test_head_answers_wherever_get_does_without_a_body(
    anonymous: TestClient, as_role: Login
) -> None:
    for path in ("/healthz", "/login"):
        get, head = anonymous.get(path), anonymous.head(path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"]
    assert anonymous.head("/api/summary").status_code == 401  # the same rules as GET
    viewer, _ = as_role("viewer")
    assert viewer.head("/api/summary").status_code == 200
    assert viewer.head("/api/errors.csv").status_code == 200


def test_options_and_405_name_every_method_of_the_path(anonymous: TestClient) -> None:
    options = anonymous.options("/api/runs")
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, HEAD, POST, OPTIONS"
    assert anonymous.options("/healthz").headers["allow"] == "GET, HEAD, OPTIONS"
    assert anonymous.options("/no-such-path").status_code == 404
    wrong = anonymous.delete("/api/runs")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, POST, OPTIONS"


def test_a_real_server_answers_head(app: FastAPI) -> None:
    token = create_token(app.state.engine, "probe", Role.VIEWER, datetime.now(UTC))
    with live_server(app) as url:
        for path in ("/healthz", "/api/summary"):
            request = urllib.request.Request(
                url + path, method="HEAD", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200 and response.read() == b""
