"""The work queue, the case page and the cases API on the seeded day."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update

from balmon.storage.schema import (
    alert_deliveries,
    alerts,
    error_log_resolutions,
    error_logs,
    verification_results,
    verification_runs,
)
from tests.dashboard.seed import DAY, START, XSS_ID

Login = Callable[[str], tuple[TestClient, str]]


def _case_id(client: TestClient, customer: str) -> int:
    items = client.get(f"/api/cases?date={DAY}&customer_id={customer}&resolved=all").json()
    return int(items["items"][0]["id"])


def test_one_row_per_customer_unavailable_first_then_by_severity(as_role: Login) -> None:
    client, _ = as_role("viewer")
    body = client.get(f"/api/cases?date={DAY}").json()
    rows = [(i["customer_id"], i["outcome"], i["final_code"], i["attempts"]) for i in body["items"]]
    assert body["total"] == 4
    assert rows == [
        ("T1", "UNAVAILABLE", "TIMEOUT", 4),  # HIGH
        (XSS_ID, "UNAVAILABLE", "MISSING_DATA", 3),  # MEDIUM
        ("N1", "UNAVAILABLE", "NULL_BALANCE", 1),  # LOW
        ("F1", "FAIL", None, 1),  # recovered on a retry: after every UNAVAILABLE
    ]
    recovered = client.get(f"/api/cases?date={DAY}&outcome=recovered").json()["items"]
    assert [(i["customer_id"], i["recovered"], i["code"]) for i in recovered] == [
        ("F1", True, "API_ERROR")
    ]
    assert client.get(f"/api/cases?date={DAY}&outcome=bogus").status_code == 422


def test_a_case_has_every_attempt_and_resolving_it_resolves_them_all(as_role: Login) -> None:
    viewer, _ = as_role("viewer")
    operator, csrf = as_role("operator")
    case_id = _case_id(viewer, "T1")
    detail = viewer.get(f"/api/cases/{case_id}").json()
    assert len(detail["attempts_list"]) == 4 and detail["code_info"]["suggested_action"]
    refused = viewer.post(f"/api/cases/{case_id}/resolve", json={"notes": "x"})
    assert refused.status_code in (401, 403)
    blank = operator.post(
        f"/api/cases/{case_id}/resolve", json={"notes": "  "}, headers={"X-CSRF-Token": csrf}
    )
    assert blank.status_code == 422
    done = operator.post(
        f"/api/cases/{case_id}/resolve",
        json={"notes": "bank restarted the API"},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.json() == {"id": case_id, "resolved": True, "attempts_resolved": 4}
    attempts = viewer.get("/api/errors?customer_id=T1").json()["items"]
    assert len(attempts) == 4 and all(a["resolved"] for a in attempts)
    assert [i["customer_id"] for i in viewer.get(f"/api/cases?date={DAY}").json()["items"]] == [
        XSS_ID,
        "N1",
        "F1",
    ]
    assert viewer.get("/api/cases/999999").status_code == 404


def test_the_queue_page_bulk_resolves_the_count_it_announced(as_role: Login) -> None:
    client, csrf = as_role("operator")
    queue = client.get(f"/cases?date={DAY}&outcome=all")
    assert queue.status_code == 200
    assert len(re.findall(r'data-testid="case-row"', queue.text)) == 4
    assert "Resolve the 4 open cases matching these filters" in queue.text
    step = client.get(f"/cases/resolve?date={DAY}&outcome=all")  # shows what it will close
    assert step.status_code == 200 and step.text.count('<tr><td><a href="/cases/') == 4
    assert "Resolve 4 cases</button>" in step.text
    unavailable = client.get(f"/cases/resolve?date={DAY}&outcome=unavailable")
    assert "Resolve 3 cases</button>" in unavailable.text
    done = client.post(
        f"/cases/resolve?date={DAY}&outcome=unavailable",
        data={"notes": "known outage", "csrf_token": csrf},
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "3 cases resolved" in after.text and "No cases match" in after.text
    left = client.get(f"/cases?date={DAY}&outcome=all").text
    assert len(re.findall(r'data-testid="case-row"', left)) == 1


def test_the_case_page_shows_attempts_meaning_and_resolves(as_role: Login) -> None:
    client, csrf = as_role("operator")
    case_id = _case_id(client, "T1")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert page.text.count("/errors/") >= 4 and "Suggested action" in page.text
    assert "+00:" not in page.text  # times read 2026-11-27 06:00:00, not a cut-off offset
    assert "+00:" not in client.get("/errors/1").text
    done = client.post(f"/cases/{case_id}/resolve", data={"notes": "fixed", "csrf_token": csrf})
    assert done.status_code == 303
    after = client.get(done.headers["location"]).text
    assert 'data-testid="status">resolved' in after and "resolved 4 attempts: fixed" in after


def test_logging_in_lands_on_the_work_queue(anonymous: TestClient) -> None:
    form = anonymous.get("/login")
    assert 'name="next" value="/cases"' in form.text


def test_the_overview_shows_open_and_resolved_cases_per_code_with_links(as_role: Login) -> None:
    client, csrf = as_role("operator")
    before = client.get(f"/?date={DAY}").text
    assert 'data-testid="open-NULL_BALANCE">1<' in before
    assert 'data-testid="resolved-NULL_BALANCE">0<' in before
    assert f'href="/fails?date={DAY}"' in before
    case_id = _case_id(client, "N1")
    client.post(f"/cases/{case_id}/resolve", data={"notes": "data fixed", "csrf_token": csrf})
    after = client.get(f"/?date={DAY}").text
    assert 'data-testid="open-NULL_BALANCE">0<' in after  # the Overview shows the progress
    assert 'data-testid="resolved-NULL_BALANCE">1<' in after


def test_the_fail_list_page_api_and_csv(as_role: Login) -> None:
    client, _ = as_role("viewer")
    body = client.get(f"/api/fails?date={DAY}").json()
    assert body["total"] == 2
    assert [
        (i["customer_id"], i["balance"], i["min_balance"], i["shortfall"]) for i in body["items"]
    ] == [("F0", "12.50", "100.00", "87.50"), ("F1", "12.50", "100.00", "87.50")]
    page = client.get(f"/fails?date={DAY}")
    assert page.text.count('data-testid="fail-row"') == 2
    exported = client.get(f"/api/fails.csv?date={DAY}&customer_id=F1").text.splitlines()
    assert exported[0].startswith(
        "business_date,customer_id,balance,min_balance,shortfall,currency"
    )
    assert len(exported) == 2 and exported[1].startswith(f"{DAY},F1,12.50,100.00,87.50,,")


def test_amounts_show_their_currency_when_one_is_known(engine: Engine, as_role: Login) -> None:
    """Issue 22: the currency beside the amounts (the bank's, else the customer's)."""
    with engine.begin() as c:
        run_id = c.scalar(select(verification_results.c.run_id).limit(1))
        c.execute(
            insert(verification_results).values(
                run_id=run_id, business_date=DAY, customer_id="F2", status="FAIL", attempts=1,
                checked_at=START, balance=Decimal("1234.50"), min_balance=Decimal("5000.00"),
                currency="EUR",
            )
        )  # fmt: skip
    client, _ = as_role("viewer")
    items = client.get(f"/api/fails?date={DAY}").json()["items"]
    assert [(i["customer_id"], i["currency"]) for i in items] == [
        ("F2", "EUR"), ("F0", None), ("F1", None)
    ]  # fmt: skip
    page = client.get(f"/fails?date={DAY}").text
    assert "1,234.50 EUR" in page and "5,000.00 EUR" in page and "3,765.50 EUR" in page
    assert "12.50 EUR" not in page
    exported = client.get(f"/api/fails.csv?date={DAY}&customer_id=F2").text.splitlines()
    assert exported[1].startswith(f"{DAY},F2,1234.50,5000.00,3765.50,EUR,")


def test_a_regression_is_flagged_in_the_api_queue_and_case_page(
    engine: Engine, as_role: Login
) -> None:
    earlier = DAY - timedelta(days=3)
    with engine.begin() as c:  # T1 failed the same way three days before
        run = c.execute(
            insert(verification_runs).values(
                business_date=earlier, status="completed", started_at=START - timedelta(days=3)
            )
        ).inserted_primary_key[0]
        c.execute(
            insert(error_logs).values(
                business_date=earlier,
                customer_id="T1",
                error_code="TIMEOUT",
                retry_count=0,
                error_message="no answer",
                logged_at=START - timedelta(days=3),
            )
        )
        c.execute(insert(verification_results).values(
            run_id=run, business_date=earlier, customer_id="T1", status="UNAVAILABLE",
            error_code="TIMEOUT", attempts=1, checked_at=START - timedelta(days=3),
            min_balance=Decimal(0)))  # fmt: skip
    client, csrf = as_role("operator")
    prior = client.get(f"/api/cases?date={earlier}").json()["items"][0]["id"]
    assert not client.get(f"/api/cases?date={DAY}&regression=true").json()["items"]
    client.post(f"/cases/{prior}/resolve", data={"notes": "API fixed", "csrf_token": csrf})
    flagged = client.get(f"/api/cases?date={DAY}&regression=true").json()["items"]
    assert [(i["customer_id"], i["regression"], i["regression_of"]) for i in flagged] == [
        ("T1", True, prior)
    ]
    queue = client.get(f"/cases?date={DAY}").text
    assert queue.count('class="pill regression"') == 1
    page = client.get(f"/cases/{flagged[0]['id']}").text
    assert f"regression of case {prior} of " in page and "by operator" in page


def test_operators_silence_from_the_case_page_and_the_api(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    viewer, _ = as_role("viewer")
    case_id = _case_id(operator, "N1")
    done = operator.post(
        f"/cases/{case_id}/silence",
        data={"scope": "both", "customer_id": "N1", "error_code": "NULL_BALANCE",
              "reason": "vendor fix due Friday", "expires": "2999-01-01", "csrf_token": csrf},
    )  # fmt: skip
    assert done.status_code == 303
    page = operator.get(done.headers["location"]).text
    assert 'data-testid="silenced"' in page and "recorded: no alerts for it" in page
    listed = viewer.get("/api/silences").json()["items"]
    assert [(s["customer_id"], s["error_code"], s["created_by"]) for s in listed] == [
        ("N1", "NULL_BALANCE", "operator")
    ]
    assert viewer.get(f"/api/cases?date={DAY}&silenced=true").json()["items"][0]["id"] == case_id
    assert viewer.post("/api/silences", json={"customer_id": "X", "reason": "r"}).status_code in (
        401,
        403,
    )
    bad = operator.post(
        "/api/silences", json={"reason": "no target"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 422
    code_wide = operator.post(
        "/api/silences",
        json={"error_code": "TIMEOUT", "reason": "bank maintenance"},
        headers={"X-CSRF-Token": csrf},
    )
    assert code_wide.status_code == 201
    expired = operator.post(
        f"/api/silences/{listed[0]['id']}/expire", headers={"X-CSRF-Token": csrf}
    )
    assert expired.json() == {"id": listed[0]["id"], "expired": True}
    assert [s["error_code"] for s in viewer.get("/api/silences").json()["items"]] == ["TIMEOUT"]
    assert len(viewer.get("/api/silences?active=false").json()["items"]) == 2


def test_trends_are_zero_filled_with_one_colour_per_code(as_role: Login) -> None:
    client, _ = as_role("viewer")
    body = client.get(f"/api/trends?granularity=day&to={DAY}").json()
    assert len(body["periods"]) == 14 and body["periods"][-1] == str(DAY)
    assert {i["period"] for i in body["items"]} == {str(DAY)}  # the other 13 days are zero
    hourly = client.get(f"/api/trends?granularity=hour&from={DAY}&to={DAY}").json()
    assert len(hourly["periods"]) == 24 and hourly["periods"][6] == f"{DAY} 06:00"
    assert {i["period"] for i in hourly["items"]} <= set(hourly["periods"])
    colours = body["colours"]
    assert set(colours) >= {"TIMEOUT", "NULL_BALANCE"} and len(set(colours.values())) == len(
        colours
    )
    assert colours == hourly["colours"]  # the same colour for a code on every chart


def test_top_customers_rank_recurring_problems_first(engine: Engine, as_role: Login) -> None:
    with engine.begin() as c:  # N1 failed once on each of the three days before, too
        for back in (1, 2, 3):
            c.execute(
                insert(error_logs).values(
                    business_date=DAY - timedelta(days=back),
                    customer_id="N1",
                    error_code="NULL_BALANCE",
                    retry_count=0,
                    error_message="null",
                    logged_at=START - timedelta(days=back),
                )
            )
    client, _ = as_role("viewer")
    items = client.get(f"/api/top-customers?from={DAY - timedelta(days=6)}&to={DAY}").json()
    ranked = [(i["customer_id"], i["days"], i["errors"]) for i in items["items"]]
    assert ranked[0] == ("N1", 4, 4)  # four dates beat T1's four attempts on one date
    assert ranked[1] == ("T1", 1, 4)
    page = client.get(f"/top-customers?date={DAY}").text
    assert page.index(">N1<") < page.index(">T1<")


def test_the_alerts_page_shows_messages_per_channel_with_their_cases(as_role: Login) -> None:
    client, _ = as_role("viewer")
    [message] = client.get("/api/alerts").json()["items"]
    assert message["error_code"] == "TIMEOUT"
    assert [(d["channel"], d["status"], d["attempts"]) for d in message["deliveries"]] == [
        ("json://x #1", "pending", 3)
    ]
    page = client.get("/alerts").text
    assert 'data-testid="alert-message"' in page and "json://x #1" in page


def test_every_page_says_when_alerting_is_degraded(engine: Engine, as_role: Login) -> None:
    client, _ = as_role("viewer")
    for path in ("/cases", f"/?date={DAY}", "/runs", "/codes"):
        banner = client.get(path).text
        assert 'data-testid="alerting-degraded"' in banner, path
        assert "1 delivery is failing and will be retried" in banner
    with engine.begin() as c:
        c.execute(update(alert_deliveries).values(status="sent"))
    assert 'data-testid="alerting-degraded"' not in client.get("/cases").text


def test_a_case_shows_its_alerts_and_the_customers_last_business_dates(
    engine: Engine, as_role: Login
) -> None:
    with engine.begin() as c:  # T1's two previous dates: PASS, then FAIL
        for back, status in ((2, "PASS"), (1, "FAIL")):
            run = c.execute(
                insert(verification_runs).values(
                    business_date=DAY - timedelta(days=back),
                    status="completed",
                    started_at=START - timedelta(days=back),
                )
            ).inserted_primary_key[0]
            c.execute(
                insert(verification_results).values(
                    run_id=run, business_date=DAY - timedelta(days=back), customer_id="T1",
                    status=status, attempts=1, checked_at=START, min_balance=Decimal(0),
                    balance=Decimal(1),
                )
            )  # fmt: skip
        c.execute(
            insert(alerts).values(
                business_date=DAY, customer_id="T1", error_code="TIMEOUT", run_id=1,
                attempts=4, failed_at=START, created_at=START, message_id=1,
            )
        )  # fmt: skip
    client, _ = as_role("viewer")
    case_id = _case_id(client, "T1")
    detail = client.get(f"/api/cases/{case_id}").json()
    assert [(h["business_date"], h["outcome"]) for h in detail["dates"]] == [
        (str(DAY - timedelta(days=2)), "PASS"),
        (str(DAY - timedelta(days=1)), "FAIL"),
        (str(DAY), "UNAVAILABLE"),
    ]
    [alert] = detail["alerts"]
    assert alert["message_id"] == 1 and alert["deliveries"] == [
        {"channel": "json://x #1", "status": "pending", "attempts": 3}
    ]
    page = client.get(f"/cases/{case_id}").text
    assert page.count('class="UNAVAILABLE here"') == 1 and 'class="FAIL"' in page
    assert 'data-testid="case-alert"' in page and "json://x #1" in page


def test_review_findings_on_cases_and_silences(engine: Engine, as_role: Login) -> None:
    operator, csrf = as_role("operator")
    headers = {"X-CSRF-Token": csrf}
    case_id = _case_id(operator, "N1")
    first = operator.post(f"/api/cases/{case_id}/resolve", json={"notes": "fixed"}, headers=headers)
    assert first.json()["attempts_resolved"] == 1
    # Resolving again changes nothing and says so: the record matches the attempts' history.
    again = operator.post(f"/api/cases/{case_id}/resolve", json={"notes": "x"}, headers=headers)
    assert again.status_code == 409
    assert operator.get(f"/api/cases/{case_id}").json()["resolution_notes"] == "fixed"
    # A new failed attempt reopens the case; its old resolution is not shown as current.
    with engine.begin() as c:
        c.execute(insert(error_logs).values(
            business_date=DAY, customer_id="N1", error_code="NULL_BALANCE", retry_count=0,
            error_message="null again", logged_at=START + timedelta(hours=1)))  # fmt: skip
    page = operator.get(f"/cases/{case_id}").text
    assert 'data-testid="status">open' in page and "<dt>Resolution</dt>" not in page
    # No silence is recorded for a case that does not exist.
    missing = operator.post(
        "/cases/999999/silence",
        data={"scope": "both", "customer_id": "N1", "error_code": "NULL_BALANCE",
              "reason": "r", "csrf_token": csrf},
    )  # fmt: skip
    assert missing.status_code == 404
    assert operator.get("/api/silences?active=false").json()["items"] == []
    long_id = operator.post(
        "/api/silences", json={"customer_id": "C" * 51, "reason": "r"}, headers=headers
    )
    assert long_id.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases?customer_id=a%00b",
        "/api/errors?customer_id=a%00b",
        "/api/fails?customer_id=a%00b",
        "/api/cases?code=NOT_A_CODE",
        "/api/errors?code=%00",
        f"/api/cases?customer_id={'C' * 51}",
    ],
)
def test_values_no_database_accepts_are_refused(as_role: Login, path: str) -> None:
    client, _ = as_role("viewer")
    assert client.get(path).status_code == 422


def test_the_landing_queue_is_the_latest_business_dates_work(
    engine: Engine, as_role: Login
) -> None:
    with engine.begin() as c:  # an older open case must not crowd today's
        c.execute(insert(error_logs).values(
            business_date=DAY - timedelta(days=5), customer_id="OLD1", error_code="TIMEOUT",
            retry_count=0, error_message="slow", logged_at=START - timedelta(days=5)))  # fmt: skip
    client, _ = as_role("operator")
    landing = client.get("/cases").text
    # What needs action first: the 3 UNAVAILABLE of the latest date, not the recovered one.
    assert landing.count('data-testid="case-row"') == 3 and "OLD1" not in landing
    assert f'value="{DAY}"' in landing
    assert f'href="/cases/resolve?date={DAY}&amp;outcome=action"' in landing
    tabs = re.findall(r'<span class="count">(\d+)</span>', landing)
    assert tabs == ["3", "1"]  # needs action, recovered
    everything = client.get("/cases?outcome=all").text
    assert everything.count('data-testid="case-row"') == 4
    assert "OLD1" in client.get("/cases?customer_id=OLD1").text  # any date when asked


def test_a_case_still_undecided_has_no_outcome_yet(engine: Engine, as_role: Login) -> None:
    """Attempts logged, no result yet (a run in progress, or one interrupted before resuming):
    the case is there, its outcome null in the API and "pending" on the pages, never a 500."""
    with engine.begin() as c:
        run_id = c.scalar(select(verification_runs.c.id))
        c.execute(
            insert(error_logs).values(
                run_id=run_id, business_date=DAY, customer_id="W1", error_code="TIMEOUT",
                retry_count=0, error_message="attempt 1 failed", logged_at=START,
            )
        )  # fmt: skip
    viewer, _ = as_role("viewer")
    case_id = _case_id(viewer, "W1")
    item = viewer.get(f"/api/cases?date={DAY}&customer_id=W1").json()["items"][0]
    detail = viewer.get(f"/api/cases/{case_id}")
    assert (item["outcome"], item["recovered"], item["final_code"]) == (None, False, None)
    assert detail.status_code == 200 and detail.json()["outcome"] is None
    assert "pending" in viewer.get(f"/cases/{case_id}").text
    assert "pending" in viewer.get(f"/cases?date={DAY}&customer_id=W1").text


def test_an_empty_filter_field_means_any(as_role: Login) -> None:
    """The work queue's own form, as it loads, sends every field, most of them empty."""
    client, _ = as_role("viewer")
    form = "outcome=all&code=&severity=&customer_id=&resolved=false&regression=all"
    assert client.get(f"/cases?date={DAY}&{form}").status_code == 200
    assert client.get(f"/cases?date=&{form}").status_code == 200
    everything = client.get("/api/cases?resolved=all").json()["total"]
    for query in ("severity=", "date=", "code=&severity=&date=&from=&to=", "severity=high"):
        response = client.get(f"/api/cases?resolved=all&{query}")
        assert response.status_code == 200, (query, response.text)
        if "high" not in query:
            assert response.json()["total"] == everything
    assert client.get("/api/errors?severity=&date=").status_code == 200
    assert client.get("/api/cases?severity=urgent").status_code == 422
    assert client.get("/api/cases?date=2026-02-30").status_code == 422


def test_two_operators_resolving_one_case_the_second_is_told_and_keeps_the_draft(
    as_role: Login,
) -> None:
    first, first_csrf = as_role("operator")
    second, second_csrf = as_role("admin")
    case_id = _case_id(first, "T1")
    done = first.post(
        f"/cases/{case_id}/resolve", data={"notes": "bank fixed", "csrf_token": first_csrf}
    )
    after = first.get(done.headers["location"]).text
    assert f"Case {case_id} resolved (4 attempts)" in after and 'data-testid="next-case"' in after
    late = second.post(
        f"/cases/{case_id}/resolve", data={"notes": "my <long> draft", "csrf_token": second_csrf}
    )
    assert late.status_code == 409
    assert "Not recorded:" in late.text and "operator resolved this at" in late.text
    assert "my &lt;long&gt; draft</textarea>" in late.text
    api = second.post(
        f"/api/cases/{case_id}/resolve",
        json={"notes": "again"},
        headers={"X-CSRF-Token": second_csrf},
    )
    assert api.status_code == 409
    case = first.get(f"/api/cases/{case_id}").json()
    assert (case["resolved_by"], case["resolution_notes"]) == ("operator", "bank fixed")


def test_a_resolved_error_is_not_resolved_again_on_the_api_or_the_page(
    engine: Engine, as_role: Login
) -> None:
    client, csrf = as_role("operator")
    headers = {"X-CSRF-Token": csrf}
    assert (
        client.post("/api/errors/1/resolve", json={"notes": "one"}, headers=headers).status_code
        == 200
    )
    again = client.post("/api/errors/1/resolve", json={"notes": "two"}, headers=headers)
    assert again.status_code == 409 and again.json()["detail"] == "the error: resolved already"
    page = client.post("/errors/1/resolve", data={"notes": "three", "csrf_token": csrf})
    assert page.status_code == 409 and "three</textarea>" in page.text
    missing = client.post("/api/errors/999999/resolve", json={"notes": "x"}, headers=headers)
    assert missing.status_code == 404
    with engine.connect() as c:
        row = c.execute(select(error_logs).where(error_logs.c.id == 1)).one()
        history = c.execute(
            select(error_log_resolutions).where(error_log_resolutions.c.error_log_id == 1)
        ).all()
    assert row.resolution_notes == "one" and len(history) == 1


def test_bulk_resolve_of_errors_states_its_count_and_needs_a_date_or_customer(
    as_role: Login,
) -> None:
    client, csrf = as_role("operator")
    only_code = client.get("/errors?code=TIMEOUT").text
    assert "Resolve all" not in only_code and 'data-testid="bulk-hint"' in only_code
    refused = client.post(
        "/api/errors/resolve?code=TIMEOUT", json={"notes": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 422
    dated = client.get(f"/errors?date={DAY}&code=TIMEOUT").text
    assert 'data-confirm="Resolve 4 open errors matching these filters?"' in dated
    assert "Resolve 4 errors</button>" in dated
    done = client.post(
        f"/errors/resolve?date={DAY}&code=TIMEOUT", data={"notes": "ok", "csrf_token": csrf}
    )
    assert "4 errors resolved" in client.get(done.headers["location"]).text


def test_silences_are_listed_and_ended_on_their_page(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    viewer, _ = as_role("viewer")
    headers = {"X-CSRF-Token": csrf}
    made = operator.post(
        "/api/silences", json={"customer_id": "T1", "reason": "migration"}, headers=headers
    ).json()["id"]
    shown = viewer.get("/silences").text
    assert "1 in force" in shown and "migration" in shown and "no end" in shown
    assert "End now" not in shown  # a viewer cannot end it
    page = operator.get("/silences").text
    assert f'action="/silences/{made}/expire"' in page and "data-confirm=" in page
    ended = operator.post(f"/silences/{made}/expire", data={"csrf_token": csrf})
    after = operator.get(ended.headers["location"]).text
    assert f"silence {made} ended" in after and "0 in force" in after
    again = operator.post(f"/silences/{made}/expire", data={"csrf_token": csrf})
    assert "is not in force" in operator.get(again.headers["location"]).text
    assert 'href="/silences"' in viewer.get("/cases").text  # in the navigation


def test_a_silence_of_a_code_for_every_customer_without_end_asks_first(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    case_id = _case_id(operator, "T1")
    form = {"scope": "code", "customer_id": "T1", "error_code": "TIMEOUT"}
    form |= {"reason": "bank maintenance", "expires": "", "csrf_token": csrf}
    asked = operator.post(f"/cases/{case_id}/silence", data=form)
    assert asked.status_code == 200
    assert "every TIMEOUT alert, for any customer" in asked.text
    assert operator.get("/api/silences").json()["items"] == []  # nothing recorded yet
    done = operator.post(f"/cases/{case_id}/silence", data=form | {"confirmed": "yes"})
    assert done.status_code == 303
    silenced = operator.get("/api/silences").json()["items"]
    assert [(s["customer_id"], s["error_code"]) for s in silenced] == [(None, "TIMEOUT")]
    dated = operator.post(
        f"/cases/{case_id}/silence", data=form | {"expires": "2999-01-01", "scope": "both"}
    )
    assert dated.status_code == 303  # bounded or narrower: no extra step


@pytest.mark.parametrize("customer", ["C0000205 ", "C1\n", "\u202eC1", " C1", "."])
def test_a_silence_for_an_id_the_customer_file_refuses_is_422(
    as_role: Login, customer: str
) -> None:
    operator, csrf = as_role("operator")
    answer = operator.post(
        "/api/silences",
        json={"customer_id": customer, "reason": "r"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 422 and "customer" in answer.json()["detail"]


def test_a_line_the_run_could_not_read_is_work_in_the_queue(engine: Engine, as_role: Login) -> None:
    with engine.begin() as c:
        run = c.execute(select(verification_runs.c.id)).scalars().first()
        c.execute(insert(error_logs).values(
            run_id=run, business_date=DAY, customer_id=None, source_line=7,
            error_code="INVALID_INPUT", error_message="line 7: customer_id holds a control "
            "character", retry_count=0, logged_at=START))  # fmt: skip
        c.execute(update(verification_runs).values(invalid_input_count=1))
    client, csrf = as_role("operator")
    found = client.get(f"/api/cases?date={DAY}&code=INVALID_INPUT").json()["items"]
    assert [(k["customer_id"], k["outcome"], k["recovered"]) for k in found] == [
        ("(line 7)", None, False)
    ]
    landing = client.get(f"/cases?date={DAY}").text  # needs action
    assert "(line 7)" in landing
    runs = client.get("/api/runs").json()["items"]
    assert runs[0]["invalid_input"] == 1
    assert ">1</a></td></tr>" in client.get("/runs").text  # the Bad lines column, linked
    case = client.get(f"/cases/{found[0]['id']}").text
    assert "line 7: customer_id holds a control character" in case
    done = client.post(
        f"/cases/{found[0]['id']}/resolve", data={"notes": "fixed the file", "csrf_token": csrf}
    )
    assert done.status_code == 303


def test_below_minimum_shows_the_largest_shortfall_first_with_separators(
    engine: Engine, as_role: Login
) -> None:
    with engine.begin() as c:
        row = c.execute(
            select(verification_results).where(verification_results.c.customer_id == "F1")
        ).one()
        values = {k: v for k, v in row._mapping.items() if k != "id"}
        values |= {"customer_id": "F9", "balance": Decimal(5), "min_balance": Decimal(1_000_000)}
        c.execute(insert(verification_results).values(values))
    client, _ = as_role("viewer")
    items = client.get(f"/api/fails?date={DAY}").json()["items"]
    assert [i["customer_id"] for i in items] == ["F9", "F0", "F1"]
    page = client.get(f"/fails?date={DAY}").text
    assert ">999,995.00<" in page and ">1,000,000.00<" in page and ">87.50<" in page


def test_a_cases_alert_link_opens_that_message(engine: Engine, as_role: Login) -> None:
    client, _ = as_role("viewer")
    [message] = client.get("/api/alerts").json()["items"]
    with engine.begin() as c:
        run = c.execute(select(verification_runs.c.id)).scalars().first()
        c.execute(insert(alerts).values(
            business_date=DAY, run_id=run, attempts=4, failed_at=START, created_at=START,
            customer_id="T1", error_code="TIMEOUT", message_id=message["id"]))  # fmt: skip
    case_id = _case_id(client, "T1")
    assert (
        f'href="/alerts?message={message["id"]}#message-{message["id"]}"'
        in client.get(f"/cases/{case_id}").text
    )
    page = client.get(f"/alerts?message={message['id']}").text
    assert (
        f'class="card alert-message focus" data-testid="alert-message" id="message-{message["id"]}"'
        in page
    )


def test_error_pages_say_what_is_wrong_in_words(as_role: Login) -> None:
    client, _ = as_role("viewer")
    page = client.get("/cases?outcome=bogus")
    assert page.status_code == 422
    assert "expected one of: all, action, unavailable, recovered" in page.text
    assert "^(" not in page.text and "Value error" not in page.text
    dated = client.get("/cases?date=2026-02-30").text
    assert "day is out of range for month" in dated and "Value error" not in dated


def test_each_trend_chart_has_a_table_a_screen_reader_can_read(as_role: Login) -> None:
    client, _ = as_role("viewer")
    page = client.get(f"/trends?date={DAY}").text
    assert page.count('role="img"') == 2 and 'aria-describedby="chart-day-figures"' in page
    assert 'data-testid="chart-hour-table"' in page
    assert f'<tr><td>{DAY} 06:00</td><td>TIMEOUT</td><td class="num">4</td></tr>' in page
