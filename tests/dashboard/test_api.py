"""The dashboard's JSON API and security, against a real migrated database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert, select, update

from balmon.dashboard.auth import Role, create_token, revoke_token
from balmon.dashboard.security import RequireRole
from balmon.scheduling.launcher import LaunchState
from balmon.storage.schema import (
    error_log_resolutions,
    error_logs,
    sessions,
    verification_runs,
)
from tests.dashboard.conftest import RecordingStarter, log_in, login_data
from tests.dashboard.seed import DAY, XSS_ID

Login = Callable[[str], tuple[TestClient, str]]
PUBLIC = {"/healthz", "/login"}


def _required_role(route: APIRoute) -> Role | None:
    for dependency in route.dependant.dependencies:
        for inner in [dependency, *dependency.dependencies]:
            if isinstance(inner.call, RequireRole):
                return inner.call.role
    return None


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as wrappers)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(list(route.original_router.routes))
    return found


def _routes(app: FastAPI) -> list[tuple[str, str, Role | None]]:
    found = []
    for route in _api_routes(list(app.routes)):
        path = route.path.replace("{error_id}", "1")
        found += [(method, path, _required_role(route)) for method in sorted(route.methods)]
    return found


def test_every_route_but_health_and_login_declares_a_role(app: FastAPI) -> None:
    routes = _routes(app)
    assert len(routes) > 20
    missing = [(m, p) for m, p, role in routes if role is None and p not in PUBLIC]
    assert missing == []


def test_role_matrix(app: FastAPI, anonymous: TestClient, as_role: Login) -> None:
    clients = {role: as_role(role.label) for role in Role}
    # Logging out ends the session, so it goes last.
    for method, path, required in sorted(_routes(app), key=lambda r: r[1] == "/logout"):
        if required is None:
            continue
        anon = anonymous.request(method, path)
        api = path.startswith(("/api/", "/metrics"))
        assert anon.status_code == (401 if api else 303), (method, path)
        for role, (client, csrf) in clients.items():
            response = client.request(method, path, headers={"X-CSRF-Token": csrf})
            allowed = role >= required
            assert (response.status_code == 403) == (not allowed), (
                role,
                method,
                path,
                response.status_code,
            )


def test_health_needs_no_login(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").text == "ok"


def test_summary_counts_and_run(as_role: Login) -> None:
    client, _ = as_role("viewer")
    body = client.get(f"/api/summary?date={DAY}").json()
    assert (body["date"], body["pass"], body["fail"], body["unavailable"]) == (
        DAY.isoformat(),
        6,
        2,
        3,
    )
    assert body["errors_by_code"] == {
        "TIMEOUT": 4,
        "NULL_BALANCE": 1,
        "API_ERROR": 1,
        "MISSING_DATA": 3,
    }
    assert body["unavailable_by_code"] == {"TIMEOUT": 1, "NULL_BALANCE": 1, "MISSING_DATA": 1}
    assert body["run"]["status"] == "completed" and body["run"]["duration"] == 42.0
    assert body["alerts_pending"] == 1


def test_errors_filter_sort_page_and_hide_traces_from_non_admins(as_role: Login) -> None:
    viewer, _ = as_role("viewer")
    body = viewer.get(
        f"/api/errors?date={DAY}&code=TIMEOUT&sort=logged_at&page=2&page_size=3"
    ).json()
    assert body["total"] == 4 and [i["retry_count"] for i in body["items"]] == [3]
    item = body["items"][0]
    assert item["severity"] == "HIGH" and item["resolved"] is False and "stack_trace" not in item
    assert viewer.get("/api/errors?severity=LOW").json()["total"] == 1
    assert viewer.get("/api/errors?customer_id=F1").json()["items"][0]["error_code"] == "API_ERROR"
    assert viewer.get("/api/errors?resolved=true").json()["total"] == 0
    admin, _ = as_role("admin")
    traced = admin.get("/api/errors?code=TIMEOUT").json()["items"][0]
    assert traced["stack_trace"] == "Traceback: secret internals"


def test_detail_has_the_other_attempts_and_history(engine: Engine, as_role: Login) -> None:
    client, csrf = as_role("operator")
    first = client.get("/api/errors?code=TIMEOUT&sort=logged_at").json()["items"][0]
    resolved = client.post(
        f"/api/errors/{first['id']}/resolve",
        json={"notes": "bank restarted the API"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resolved.status_code == 200
    detail = client.get(f"/api/errors/{first['id']}").json()
    assert [a["retry_count"] for a in detail["attempts"]] == [1, 2, 3]
    assert detail["resolved"] is True and detail["resolution_notes"] == "bank restarted the API"
    assert detail["history"][0]["actor"] == "operator" and detail["history"][0]["resolved"] is True
    assert detail["code"]["suggested_action"].startswith("Retry")
    assert client.get("/api/errors/999999").status_code == 404


def test_session_changes_need_the_csrf_token(as_role: Login) -> None:
    client, _ = as_role("operator")
    error_id = client.get("/api/errors").json()["items"][0]["id"]
    refused = client.post(f"/api/errors/{error_id}/resolve", json={"notes": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = client.post(f"/errors/{error_id}/resolve", data={"notes": "x", "csrf_token": "forged"})
    assert forged.status_code == 403


def test_bulk_resolve_by_filter_appends_history_per_row(engine: Engine, as_role: Login) -> None:
    client, csrf = as_role("operator")
    response = client.post(
        f"/api/errors/resolve?date={DAY}&code=MISSING_DATA",
        json={"notes": "sync fixed"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.json() == {"resolved": 3}
    with engine.connect() as c:
        assert len(c.execute(select(error_log_resolutions)).all()) == 3
    unfiltered = client.post(
        "/api/errors/resolve", json={"notes": "all"}, headers={"X-CSRF-Token": csrf}
    )
    assert unfiltered.status_code == 422


def test_trends_top_customers_runs_and_csv(as_role: Login) -> None:
    client, _ = as_role("viewer")
    hours = client.get(f"/api/trends?granularity=hour&from={DAY}&to={DAY}").json()["items"]
    assert {"period": "2026-11-27 06:00", "code": "TIMEOUT", "count": 4} in hours
    days = client.get(f"/api/trends?granularity=day&from={DAY}&to={DAY}&code=MISSING_DATA").json()[
        "items"
    ]
    assert days == [{"period": "2026-11-27", "code": "MISSING_DATA", "count": 3}]
    top = client.get(f"/api/top-customers?n=2&from={DAY}&to={DAY}").json()["items"]
    assert [(t["customer_id"], t["errors"], t["codes"]) for t in top] == [
        ("T1", 4, ["TIMEOUT"]),
        (XSS_ID, 3, ["MISSING_DATA"]),
    ]
    assert client.get("/api/runs").json()["items"][0]["status"] == "completed"
    csv = client.get("/api/errors.csv?code=TIMEOUT")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,run_id,business_date,customer_id,error_code") and len(lines) == 5
    assert "secret internals" not in csv.text and ",false," in lines[1]


def test_metrics_need_a_token_and_follow_prometheus_naming(
    engine: Engine, anonymous: TestClient
) -> None:
    assert anonymous.get("/metrics").status_code == 401
    token = create_token(engine, "prometheus", Role.VIEWER, datetime.now(UTC))
    text = anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'balmon_runs{status="completed"} 1.0' in text
    assert 'balmon_error_logs_total{code="TIMEOUT"} 4.0' in text
    assert 'balmon_alert_deliveries{status="pending"} 1.0' in text
    assert "balmon_alerts_pending 1.0" in text
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }
    assert values["balmon_latest_business_date_timestamp_seconds"] == _midnight(DAY)
    assert "balmon_latest_business_date_completed 1.0" in text
    assert 'balmon_latest_business_date_customers{status="UNAVAILABLE"} 3.0' in text
    assert 'balmon_build_info{python="' in text and 'version="' in text
    assert "balmon_scheduler_heartbeat_timestamp_seconds 0.0" in text  # no scheduler ran
    assert "balmon_schedule_next_firing_timestamp_seconds" in text
    families = list(text_string_to_metric_families(text))
    assert all(f.name.startswith("balmon_") for f in families)
    counters = [f for f in families if f.type == "counter"]
    assert {f.name for f in counters} == {
        "balmon_error_logs",
        "balmon_retries",
        "balmon_quality_alarms",
    }
    assert all(s.name.endswith("_total") for f in counters for s in f.samples)
    gauges = [f for f in families if f.type == "gauge"]
    assert all(not s.name.endswith("_total") for f in gauges for s in f.samples)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def test_revoked_tokens_stop_working(engine: Engine, anonymous: TestClient) -> None:
    token = create_token(engine, "ci", Role.ADMIN, datetime.now(UTC))
    header = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/api/runs", headers=header).status_code == 200
    revoke_token(engine, "ci", datetime.now(UTC))
    assert anonymous.get("/api/runs", headers=header).status_code == 401


def test_admin_starts_a_run_and_sees_the_claims_real_outcome(
    as_role: Login, started_runs: RecordingStarter
) -> None:
    client, csrf = as_role("admin")
    response = client.post("/api/runs", json={"date": "2026-11-28"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 202 and started_runs.dates == [date(2026, 11, 28)]
    assert response.json()["state"] == "running" and response.json()["run_id"] == 7
    started_runs.state = LaunchState.REFUSED
    refused = client.post("/api/runs", json={"date": "2026-11-28"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 409 and refused.json()["reason"] == "no"
    started_runs.state = LaunchState.FAILED
    page = client.post("/runs", data={"date": "2026-11-28", "csrf_token": csrf})
    shown = client.get(page.headers["location"]).text
    assert "run for 2026-11-28 failed (run 7): no" in shown and 'class="flash bad"' in shown


def test_a_run_is_refused_for_a_date_after_today_or_older_than_retention_keeps(
    as_role: Login, started_runs: RecordingStarter
) -> None:
    client, csrf = as_role("admin")
    today = datetime.now(UTC).date()  # the schedule's time zone is UTC by default
    for day, says in [
        ("2999-12-31", f"2999-12-31 is after today ({today} in UTC)"),
        ((today + timedelta(days=1)).isoformat(), "there are no balances for it yet"),
        ("1900-01-01", "1900-01-01 is older than retention keeps (retention.keep_days: from "),
    ]:
        answer = client.post("/api/runs", json={"date": day}, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 422 and says in answer.json()["detail"], answer.text
        page = client.post("/runs", data={"date": day, "csrf_token": csrf})
        shown = client.get(page.headers["location"]).text
        assert "No run started: " in shown and 'class="flash bad"' in shown
    assert started_runs.dates == []
    ok = client.post("/api/runs", json={"date": today.isoformat()}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 202 and started_runs.dates == [today]


def test_logout_really_ends_the_session(anonymous: TestClient) -> None:
    csrf = log_in(anonymous, "viewer")
    cookie = anonymous.cookies.get("balmon_session")
    assert anonymous.post("/logout", data={"csrf_token": csrf}).status_code == 303
    anonymous.cookies.set("balmon_session", cookie or "")
    assert anonymous.get("/api/runs").status_code == 401


def test_idle_sessions_expire(engine: Engine, anonymous: TestClient) -> None:
    log_in(anonymous, "viewer")
    assert anonymous.get("/api/runs").status_code == 200
    with engine.begin() as c:
        c.execute(update(sessions).values(last_seen_at=datetime.now(UTC) - timedelta(hours=2)))
    assert anonymous.get("/api/runs").status_code == 401


def test_login_is_rate_limited_and_cookies_are_locked_down(anonymous: TestClient) -> None:
    for _ in range(5):
        assert (
            anonymous.post(
                "/login", data=login_data(anonymous, **{"username": "viewer", "password": "wrong"})
            ).status_code
            == 200
        )
    blocked = anonymous.post(
        "/login",
        data=login_data(anonymous, **{"username": "viewer", "password": "correct horse battery"}),
    )
    assert blocked.status_code == 429
    ok = anonymous.post(
        "/login",
        data=login_data(anonymous, **{"username": "admin", "password": "correct horse battery"}),
    )
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_headers_escaping_and_no_open_redirect(as_role: Login, anonymous: TestClient) -> None:
    client, _ = as_role("viewer")
    page = client.get("/errors?code=MISSING_DATA")
    assert XSS_ID not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    headers = page.headers
    assert (
        "script-src 'self'" in headers["content-security-policy"]
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )
    assert (
        headers["x-content-type-options"] == "nosniff"
        and headers["referrer-policy"] == "same-origin"
    )
    response = anonymous.post(
        "/login",
        data=login_data(
            anonymous, username="admin", password="correct horse battery", next="//evil.example/"
        ),
    )
    assert response.headers["location"] == "/"


def test_a_crash_shows_a_correlation_id_never_a_traceback(
    as_role: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    from balmon.dashboard import queries

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("database exploded: secret details")

    monkeypatch.setattr(queries, "summary", broken)
    client, _ = as_role("viewer")
    for path in ("/", "/api/summary"):
        response = client.get(path)
        assert response.status_code == 500
        assert "secret details" not in response.text and "Traceback" not in response.text
        assert re.search(r"[0-9a-f]{12}", response.text)


def test_pages_render_for_a_viewer(as_role: Login) -> None:
    client, _ = as_role("viewer")
    for path in ("/", "/trends", "/top-customers", "/errors", "/codes", "/runs", f"/?date={DAY}"):
        response = client.get(path)
        assert response.status_code == 200, path
    overview = client.get(f"/?date={DAY}").text
    assert (
        'data-testid="count-pass">6<' in overview
        and 'data-testid="count-unavailable">3<' in overview
    )
    error_id = client.get("/api/errors?code=TIMEOUT").json()["items"][0]["id"]
    detail = client.get(f"/errors/{error_id}").text
    assert (
        "Suggested action" in detail
        and "secret internals" not in detail
        and "Mark resolved" not in detail
    )


def test_unresolved_errors_keep_original_fields(engine: Engine, as_role: Login) -> None:
    client, csrf = as_role("admin")
    error_id = client.get("/api/errors").json()["items"][0]["id"]
    client.post(f"/errors/{error_id}/resolve", data={"notes": "checked", "csrf_token": csrf})
    with engine.connect() as c:
        row = c.execute(select(error_logs).where(error_logs.c.id == error_id)).one()
    assert row.resolved is True and row.resolved_by == "admin" and row.error_message


def test_overview_shows_a_missed_date_until_it_completes(as_role: Login, engine: Engine) -> None:
    from balmon.config.settings import AlertSettings
    from balmon.scheduling.alarms import Alarm, raise_alarm
    from balmon.storage.states import AlarmReason

    now = datetime.now(UTC)
    for day in (DAY, DAY + timedelta(days=1)):
        alarm = Alarm(day, AlarmReason.MISSED, "not completed by the deadline")
        assert raise_alarm(engine, alarm, settings=AlertSettings(), raised_by="t", now=now)
    client, _ = as_role("viewer")
    page = client.get(f"/?date={DAY}").text
    banner = page.split('data-testid="run-problems"')[1].split("</section>")[0]
    assert str(DAY + timedelta(days=1)) in banner  # no run at all: shown
    assert str(DAY) not in banner  # DAY's run completed: the alarm is closed


def test_runs_page_shows_each_schedulers_heartbeat_and_next_firing(
    as_role: Login, engine: Engine
) -> None:
    from sqlalchemy import insert

    from balmon.storage.schema import scheduler_instances

    beat = datetime(2026, 11, 28, 7, 0, 5, tzinfo=UTC)
    with engine.begin() as c:
        c.execute(
            insert(scheduler_instances).values(
                name="ops1:4242",
                started_at=beat,
                heartbeat_at=beat,
                last_fired_at=beat,
                next_firing_at=datetime(2026, 11, 29, 6, tzinfo=UTC),
                next_business_date=date(2026, 11, 28),
            )
        )
    client, _ = as_role("viewer")
    page = client.get("/runs").text
    assert page.count('data-testid="schedulers"') == 1
    assert "<section" not in page.split("<title>")[1].split("</title>")[0]
    table = page.split('data-testid="schedulers"')[1].split("</table>")[0]
    assert "ops1:4242" in table and "running" in table
    assert "2026-11-29 06:00:00" in table and "2026-11-28" in table


def test_an_attempt_with_only_the_required_fields_is_listed_and_shown(
    engine: Engine, as_role: Login
) -> None:
    """Run, date, customer and message may be empty in error_logs (a row logged before any
    run, or without a message): the API answers with nulls, not a 500."""
    with engine.begin() as c:
        key = c.execute(
            insert(error_logs).values(
                error_code="INTERNAL_ERROR", retry_count=0, logged_at=datetime.now(UTC)
            )
        ).inserted_primary_key
    assert key is not None
    viewer, _ = as_role("viewer")
    listed = viewer.get("/api/errors?code=INTERNAL_ERROR").json()["items"]
    shown = viewer.get(f"/api/errors/{key[0]}")
    assert [(i["run_id"], i["customer_id"], i["error_message"]) for i in listed] == [
        (None, None, None)
    ]
    assert shown.status_code == 200 and shown.json()["business_date"] is None
    assert viewer.get(f"/errors/{key[0]}").status_code == 200


def test_runs_come_a_page_at_a_time_on_the_api_and_the_page(engine: Engine, as_role: Login) -> None:
    with engine.begin() as c:
        template = c.execute(select(verification_runs)).first()
        assert template is not None
        row = {k: v for k, v in template._mapping.items() if k != "id"}
        for n in range(1, 131):
            c.execute(
                insert(verification_runs).values(
                    row | {"business_date": date(2025, 1, 1) + timedelta(days=n)}
                )
            )
    client, _ = as_role("viewer")
    first = client.get("/api/runs").json()
    assert first["total"] >= 131 and len(first["items"]) == 100 and first["page"] == 1
    rest = client.get("/api/runs?page=2").json()["items"]
    assert len(rest) == first["total"] - 100
    assert {r["id"] for r in rest}.isdisjoint(r["id"] for r in first["items"])
    assert max(r["id"] for r in rest) < min(r["id"] for r in first["items"])
    page = client.get("/runs?page=2").text
    assert "page 2 of 2" in page and "&larr; newer" in page
    assert client.get("/api/runs?page=0").status_code == 422
