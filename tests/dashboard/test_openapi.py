"""The API's OpenAPI document, and schemathesis generating requests from it: no 500s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import insert, select

from balmon.dashboard.auth import Role, create_token
from balmon.storage.schema import alert_messages, alerts, cases, error_logs
from balmon.triage import resolve_case, silences
from tests.dashboard.seed import DAY


def test_the_document_is_for_logged_in_users_and_lists_only_the_api(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/api/openapi.json").status_code == 401
        token = create_token(app.state.engine, "docs", Role.VIEWER, datetime.now(UTC))
        document = client.get(
            "/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
        ).json()
    paths = set(document["paths"])
    params = {p["name"]: p for p in document["paths"]["/api/cases"]["get"]["parameters"]}
    assert "at most 366 days" in params["from"]["description"]  # a rule no schema can state
    assert params["severity"]["schema"]["enum"][:2] == ["", "LOW"]
    assert "INVALID_INPUT" in params["code"]["schema"]["anyOf"][0]["enum"]
    assert {"/api/cases", "/api/cases/{case_id}", "/api/silences", "/api/fails"} <= paths
    assert all(path.startswith("/api/") for path in paths)  # no pages, no /metrics
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            (media, body), *_ = success["content"].items()
            # Every route declares what it answers: a named model, or a CSV file.
            assert "$ref" in body["schema"] or media == "text/csv", (method, path)
            assert {"401", "403", "422"} <= set(operation["responses"]), (method, path)


@pytest.fixture
def fuzzed(app: FastAPI) -> tuple[FastAPI, dict[str, str]]:
    """The seeded day plus what it lacks for every nested part of a response to be filled:
    a resolved case and its history, an alert held by a silence, an expired silence."""
    engine = app.state.engine
    now = datetime.now(UTC)
    with engine.connect() as c:
        ids = dict(c.execute(select(cases.c.customer_id, cases.c.id)).all())
        message, run_id = c.execute(select(alert_messages.c.id, alert_messages.c.run_id)).one()
    assert resolve_case(engine, ids["N1"], notes="known", actor="ops", now=now)
    held = silences.add(
        engine, silences.NewSilence("T1", None, "maintenance"), actor="ops", now=now
    )
    silences.expire(engine, held, actor="ops", now=now)
    with engine.begin() as c:
        row = {"business_date": DAY, "run_id": run_id, "attempts": 4}
        row |= {"failed_at": now, "created_at": now}
        c.execute(
            insert(alerts),
            [
                row
                | {"customer_id": "T1", "error_code": "TIMEOUT", "message_id": message}
                | {"silence_id": None},
                row
                | {"customer_id": "N1", "error_code": "NULL_BALANCE", "message_id": None}
                | {"silence_id": held},
            ],
        )
    token = create_token(engine, "fuzz", Role.ADMIN, now)
    return app, {"Authorization": f"Bearer {token}"}


# What each response must pass: no 500, and a status code, content type and body that the
# document declares for the operation (401, 403, 404, 409 and 422 included).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(operation: Any, headers: dict[str, str]) -> int:
    """Up to 100 generated requests for one operation, each response checked against the
    document; returns how many were sent."""
    sent: list[int] = []
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        sent.append(response.status_code)
        assert response.status_code < 500, (label, case.path_parameters, case.query)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()
    return len(sent)


def test_generated_requests_get_no_server_error_and_answers_the_document_declares(
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


def test_records_that_exist_answer_the_documented_shape(
    fuzzed: tuple[FastAPI, dict[str, str]],
) -> None:
    """Generated ids rarely exist: every case, attempt and silence of the seed, checked."""
    app, headers = fuzzed
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers)
    with app.state.engine.connect() as c:
        case_ids = c.scalars(select(cases.c.id)).all()
        error_ids = c.scalars(select(error_logs.c.id)).all()
    requests: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("GET", "/api/cases/{case_id}", {"case_id": n}, {}) for n in case_ids
    ]
    requests += [("GET", "/api/errors/{error_id}", {"error_id": n}, {}) for n in error_ids]
    requests += [("GET", "/api/silences", {}, {"active": "false"})]
    requests += [("GET", "/api/cases", {}, {"resolved": "all", "page_size": 500})]
    statuses = []
    for method, path, path_parameters, query in requests:
        case = schema[path][method].Case(path_parameters=path_parameters, query=query)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        statuses.append(response.status_code)
    assert statuses == [200] * len(requests) and len(case_ids) >= 4


# The rules a document cannot state per parameter: how two values relate, or what the
# database holds. Any other 4xx for a request the document calls valid is a limit it omits.
CROSS_FIELD = (
    "from: after to",
    "from/to: at most 366 days",
    "a bulk resolve needs",
    "a bulk change needs",
    "no dashboard user has that name",
    "is after today (",
    "is older than retention keeps",
    "the expiry is in the past",
    "a silence needs a customer, an error code, or both",
)


def test_requests_the_document_calls_valid_are_not_refused_as_invalid(
    fuzzed: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = fuzzed
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers)
    refused: list[str] = []

    for operation in (result.ok() for result in schema.get_all_operations()):

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code in (400, 422):
                detail = response.text
                if not any(rule in detail for rule in CROSS_FIELD):
                    refused.append(f"{case.method} {case.path}: {detail[:200]}")

        check()
    assert refused == [], "\n".join(sorted(set(refused)))
