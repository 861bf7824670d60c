"""The API's OpenAPI document, and schemathesis generating requests from it: no 500s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from balmon.dashboard.auth import Role, create_token


def test_the_document_is_for_logged_in_users_and_lists_only_the_api(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/api/openapi.json").status_code == 401
        token = create_token(app.state.engine, "docs", Role.VIEWER, datetime.now(UTC))
        document = client.get(
            "/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
        ).json()
    paths = set(document["paths"])
    assert {"/api/cases", "/api/cases/{case_id}", "/api/silences", "/api/fails"} <= paths
    assert all(path.startswith("/api/") for path in paths)  # no pages, no /metrics


@pytest.fixture
def fuzzed(app: FastAPI) -> tuple[FastAPI, dict[str, str]]:
    token = create_token(app.state.engine, "fuzz", Role.ADMIN, datetime.now(UTC))
    return app, {"Authorization": f"Bearer {token}"}


def _fuzz(operation: Any, headers: dict[str, str]) -> int:
    """Up to 100 generated requests for one operation; returns how many were sent."""
    sent: list[int] = []
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        sent.append(response.status_code)
        assert response.status_code < 500, (label, case.path_parameters, case.query)

    check()
    return len(sent)


def test_generated_requests_never_get_a_server_error(
    fuzzed: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = fuzzed
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers)
    sent = {
        f"{op.method} {op.path}": _fuzz(op, headers)
        for op in (result.ok() for result in schema.get_all_operations())
    }
    assert len(sent) >= 15 and all(n >= 1 for n in sent.values())
    assert sum(sent.values()) > 100
