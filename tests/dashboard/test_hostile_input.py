"""What a careless user or an attacker sends the dashboard: a client error, never a 500."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from balmon.dashboard.security import LoginThrottle
from balmon.storage.schema import error_logs
from tests.conftest import on_backends
from tests.dashboard.conftest import log_in, login_data
from tests.dashboard.seed import DAY, START, XSS_ID

Login = Callable[[str], tuple[TestClient, str]]
HUGE = str(2**64)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/errors/{HUGE}",
        f"/errors/{HUGE}",
        "/api/errors/0",
        "/api/errors/-5",
    ],
)
def test_an_id_no_row_can_have_is_not_found(as_role: Login, path: str) -> None:
    client, _ = as_role("viewer")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/api/errors?page={HUGE}",
        f"/errors?page={HUGE}",
        "/api/errors?page=100000000",
        "/api/trends?to=0001-01-01",
        "/api/trends?from=0001-01-01&to=0001-01-02",
        "/api/top-customers?to=0001-01-01",
        "/trends?date=0001-01-01",
        "/top-customers?date=0001-01-01",
        "/top-customers?days=1000000000",
        "/top-customers?n=1000000000000000000000",
        "/api/summary?date=0",
        "/api/summary?date=1700000000",
        "/?date=0",
        "/api/errors?date=0",
        "/api/summary?date=2026-13-01",
        "/api/summary?date=99999-01-01",
    ],
)
def test_out_of_range_numbers_and_dates_are_client_errors(as_role: Login, path: str) -> None:
    client, _ = as_role("viewer")
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)


def test_a_date_is_iso_8601_only(as_role: Login) -> None:
    client, _ = as_role("viewer")
    assert client.get("/api/summary?date=2026-11-27").json()["date"] == "2026-11-27"
    response = client.get("/api/summary?date=0")
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.text


def test_browsers_get_html_error_pages_with_the_navigation(as_role: Login) -> None:
    client, _ = as_role("operator")
    missing = client.get("/errors/999999")
    bad = client.get("/errors?date=yesterday")
    forged = client.post("/errors/1/resolve", data={"notes": "no token"})
    for response, status, words in (
        (missing, 404, "no such error"),
        (bad, 422, "date"),
        (forged, 403, "CSRF"),
    ):
        assert response.status_code == status
        assert response.headers["content-type"].startswith("text/html")
        assert words in response.text
        assert 'href="/runs"' in response.text  # the navigation, to get back to work
        assert "{" not in response.text.split("<main>")[1][:200]  # not raw JSON


def test_the_api_keeps_json_errors(as_role: Login) -> None:
    client, _ = as_role("operator")
    for response in (
        client.get("/api/errors/999999"),
        client.get("/api/errors?date=yesterday"),
        client.post("/api/errors/1/resolve", json={"notes": "x"}),
    ):
        assert response.headers["content-type"].startswith("application/json")
        assert "detail" in response.json()


def test_a_link_cannot_put_its_own_text_in_a_banner(as_role: Login) -> None:
    client, _ = as_role("viewer")
    spoof = "Your account is locked: call +1 555 0100"
    for path in (f"/runs?message={spoof}&outcome=running", f"/errors?message={spoof}"):
        page = client.get(path)
        assert page.status_code == 200
        assert spoof not in page.text and 'data-testid="flash"' not in page.text


def test_the_servers_own_messages_show_once(as_role: Login) -> None:
    client, csrf = as_role("operator")
    done = client.post(
        f"/errors/resolve?date={DAY}&code=TIMEOUT",
        data={"notes": "API restarted", "csrf_token": csrf},
    )
    assert done.status_code == 303 and "message" not in done.headers["location"]
    first = client.get(done.headers["location"])
    assert "4 errors resolved" in first.text and 'class="flash good"' in first.text
    again = client.get(done.headers["location"])
    assert "errors resolved" not in again.text


def test_a_forged_forwarded_for_header_does_not_reset_the_login_throttle(
    anonymous: TestClient,
) -> None:
    for n in range(5):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        wrong = anonymous.post(
            "/login",
            data=login_data(anonymous, username="viewer", password="guess"),
            headers=forged,
        )
        assert wrong.status_code == 200
    elsewhere = {"X-Forwarded-For": "198.51.100.7"}
    blocked = anonymous.post(
        "/login",
        data=login_data(anonymous, username="viewer", password="correct horse battery"),
        headers=elsewhere,
    )
    assert blocked.status_code == 429  # per user, wherever the attempts seem to come from


def test_many_users_guessed_from_one_address_are_throttled_too(anonymous: TestClient) -> None:
    statuses = [
        anonymous.post(
            "/login", data=login_data(anonymous, username=f"user{n}", password="guess")
        ).status_code
        for n in range(21)
    ]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429


def test_forwarded_headers_are_trusted_only_from_configured_proxies() -> None:
    from balmon.config import load_settings
    from balmon.service import uvicorn_config

    plain = uvicorn_config(load_settings(None), app=object())
    assert plain.proxy_headers is False
    proxied = uvicorn_config(
        load_settings(None, dashboard={"trusted_proxies": ["10.0.0.5"]}), app=object()
    )
    assert proxied.proxy_headers is True and proxied.forwarded_allow_ips == "10.0.0.5"


@pytest.mark.parametrize("notes", ["", "   ", "\n\t "])
def test_blank_resolution_notes_are_refused(as_role: Login, notes: str) -> None:
    client, csrf = as_role("operator")
    api = client.post(
        "/api/errors/1/resolve", json={"notes": notes}, headers={"X-CSRF-Token": csrf}
    )
    form = client.post("/errors/1/resolve", data={"notes": notes, "csrf_token": csrf})
    bulk = client.post(
        "/api/errors/resolve?code=TIMEOUT", json={"notes": notes}, headers={"X-CSRF-Token": csrf}
    )
    assert (api.status_code, form.status_code, bulk.status_code) == (422, 422, 422)
    assert client.get("/api/errors/1").json()["resolved"] is False


def test_the_csv_escapes_formulas_and_keeps_ids_as_they_are(engine: Engine, as_role: Login) -> None:
    with engine.begin() as c:
        c.execute(
            insert(error_logs),
            [
                {"business_date": DAY, "customer_id": cid, "error_code": "MISSING_DATA",
                 "error_message": message, "retry_count": 0, "logged_at": START}
                for cid, message in [
                    ("-C001", "\t=HYPERLINK(\"http://x\")"),
                    ("+C002", "\r=1+1"),
                    ("C003", "-2+3+cmd|' /C calc'!A0"),
                    ("C004", "@SUM(A1)"),
                ]
            ],
        )  # fmt: skip
    client, _ = as_role("viewer")
    rows = list(csv.DictReader(io.StringIO(client.get("/api/errors.csv?code=MISSING_DATA").text)))
    cells = {r["customer_id"]: r["error_message"] for r in rows if r["customer_id"] != XSS_ID}
    assert set(cells) == {"-C001", "+C002", "C003", "C004"}  # ids exported exactly
    assert all(message.startswith("'") for message in cells.values())  # formulas escaped
    assert cells["C004"] == "'@SUM(A1)"


def test_static_files_are_cached_for_long_under_a_content_hash(as_role: Login) -> None:
    client, _ = as_role("viewer")
    page = client.get("/codes")
    assert page.headers["cache-control"] == "no-store"  # pages hold data: never cached
    scripts = re.findall(r'src="(/static/chart\.umd\.min\.js\?v=[0-9a-f]{12})"', page.text)
    assert len(scripts) == 1
    script = client.get(scripts[0])
    assert script.status_code == 200 and len(script.content) > 100_000
    assert "max-age=31536000" in script.headers["cache-control"]
    assert "immutable" in script.headers["cache-control"]
    unversioned = client.get("/static/chart.umd.min.js")
    assert "immutable" not in unversioned.headers["cache-control"]


def test_looking_up_unknown_names_does_not_grow_the_login_throttle() -> None:
    throttle = LoginThrottle()
    for n in range(1000):
        assert not throttle.blocked(f"guess{n}", "203.0.113.9")
    assert throttle._failures == {}


def test_a_foreign_page_cannot_log_a_browser_in_as_someone_else(anonymous: TestClient) -> None:
    """Login CSRF: a foreign page posts the login form with the attacker's password. It has
    neither the form's token nor its cookie, so no session is opened."""
    forged = {"username": "viewer", "password": "correct horse battery", "next": "/"}
    refused = anonymous.post("/login", data=forged)
    assert refused.status_code == 403 and "balmon_session" not in refused.headers.get(
        "set-cookie", ""
    )
    assert "came from another site" in refused.text
    # The token of another browser's form does not help either: it must match this cookie.
    with TestClient(anonymous.app, follow_redirects=False) as other:
        stolen = login_data(other, **forged)["login_csrf"]
    anonymous.cookies.clear()
    again = anonymous.post("/login", data={**forged, "login_csrf": stolen})
    assert again.status_code == 403
    assert anonymous.post("/login", data=login_data(anonymous, **forged)).status_code == 303


def test_logging_in_again_ends_the_old_session(anonymous: TestClient) -> None:
    log_in(anonymous, "viewer")
    old = anonymous.cookies.get("balmon_session")
    log_in(anonymous, "admin")
    assert anonymous.get("/api/runs").status_code == 200  # the new session works
    with TestClient(anonymous.app, follow_redirects=False) as thief:
        thief.cookies.set("balmon_session", old or "")
        assert thief.get("/api/runs").status_code == 401


@on_backends("sqlite", "postgresql")
def test_a_nul_character_in_any_text_is_422_on_every_database(
    anonymous: TestClient, as_role: Login
) -> None:
    """PostgreSQL refuses a NUL in any text (a 500 unless refused first); SQLite would store it."""
    client, csrf = as_role("operator")
    headers = {"X-CSRF-Token": csrf}
    nul = "fixed\x00 it"
    answers = [
        client.post("/api/cases/1/resolve", json={"notes": nul}, headers=headers),
        client.post("/api/errors/1/resolve", json={"notes": nul}, headers=headers),
        client.post(f"/api/errors/resolve?date={DAY}", json={"notes": nul}, headers=headers),
        client.post("/api/silences", json={"customer_id": "T1", "reason": nul}, headers=headers),
        client.post("/errors/1/resolve", data={"notes": nul, "csrf_token": csrf}),
        client.get("/api/cases?customer_id=T%001"),
    ]
    assert [a.status_code for a in answers] == [422] * len(answers)
    login = anonymous.post(
        "/login", data=login_data(anonymous, username="view\x00er", password="x\x00")
    )
    assert login.status_code == 200 and "Wrong user name or password." in login.text
