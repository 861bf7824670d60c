"""An operator's and a viewer's session in real headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, delete

from balmon.storage.schema import sessions
from tests.dashboard.browser import live_server
from tests.dashboard.seed import DAY, PASSWORD

pytestmark = pytest.mark.browser
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def _login(page: Page, base_url: str, user: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/login?next=%2F")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot; with BALMON_TEST_UPDATE_SCREENSHOTS=1 it replaces docs/img's.

    (BALMON_TEST_ survives the fixture that hides the developer's BALMON_* variables.)
    """
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    if os.environ.get("BALMON_TEST_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        path.replace(DOCS_IMG / f"{name}.png")


def test_operator_sees_counts_filters_opens_and_resolves(
    browser: Browser, base_url: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/?date={DAY}")
    expect(page.get_by_test_id("count-pass")).to_have_text("6")
    expect(page.get_by_test_id("count-fail")).to_have_text("2")
    expect(page.get_by_test_id("count-unavailable")).to_have_text("3")
    page.get_by_role("link", name="Errors", exact=True).click()
    page.locator("select[name=code]").select_option("TIMEOUT")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.errors tbody tr")).to_have_count(4)
    expect(page.get_by_text("4 found")).to_be_visible()
    page.locator("table.errors tbody tr a").first.click()
    expect(page.get_by_test_id("customer")).to_have_text("T1")
    expect(page.get_by_text("Suggested action:")).to_be_visible()
    page.get_by_label("Notes").fill("Bank restarted the balance API at 06:40")
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_test_id("status")).to_have_text("resolved")
    expect(page.locator("ul.history")).to_contain_text(
        "operator resolved: Bank restarted the balance API at 06:40"
    )
    page.close()


def test_a_viewer_cannot_resolve(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    _login(page, base_url, "viewer")
    page.goto(f"{base_url}/errors?code=TIMEOUT")
    page.locator("table.errors tbody tr a").first.click()
    expect(page.get_by_test_id("status")).to_have_text("open")
    expect(page.get_by_role("button", name="Mark resolved")).to_have_count(0)
    error_id = page.url.rsplit("/", 1)[-1]
    response = page.request.post(f"{base_url}/api/errors/{error_id}/resolve", data={"notes": "x"})
    assert response.status == 403
    page.close()


def test_every_page_renders_with_its_chart(browser: Browser, base_url: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base_url}/login")
    _shot(page, tmp_path, "login")
    _login(page, base_url, "admin")
    for name, path in [
        ("overview", f"/?date={DAY}"),
        ("errors", f"/errors?date={DAY}"),
        ("trends", f"/trends?date={DAY}"),
        ("top-customers", f"/top-customers?date={DAY}"),
        ("runs", "/runs"),
        ("codes", "/codes"),
        ("alerts", "/alerts"),
        ("fails", f"/fails?date={DAY}"),
    ]:
        page.goto(base_url + path)
        expect(page.locator("h1")).to_be_visible()
        _shot(page, tmp_path, name)
    page.goto(f"{base_url}/trends?date={DAY}")
    assert page.evaluate(
        "() => window.Chart !== undefined && Chart.getChart('chart-day') !== undefined"
    )
    page.goto(f"{base_url}/errors?code=TIMEOUT")
    page.locator("table.errors tbody tr a").first.click()
    expect(page.locator("pre.trace")).to_contain_text("secret internals")
    _shot(page, tmp_path, "error-detail")
    assert errors == []
    page.close()


def test_a_session_expiring_while_typing_a_note_loses_nothing(
    browser: Browser, base_url: str, engine: Engine
) -> None:
    page = browser.new_page()
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/errors/1")
    note = "Checked with the bank: the account was migrated overnight"
    page.get_by_label("Notes").fill(note)
    with engine.begin() as c:  # the session expires while the operator types
        c.execute(delete(sessions))
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_label("User name")).to_be_visible()
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/errors/1")  # back where the work was, not a 405
    expect(page.get_by_label("Notes")).to_have_value(note)
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_test_id("status")).to_have_text("resolved")
    page.goto(f"{base_url}/errors/2")
    expect(page.get_by_label("Notes")).to_have_value("")  # a draft belongs to its own form
    page.close()


def test_dates_are_iso_8601_whatever_the_browsers_locale(browser: Browser, base_url: str) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _login(page, base_url, "viewer")
    for path in (f"/?date={DAY}", "/errors", "/trends", "/top-customers"):
        page.goto(f"{base_url}{path}")
        field = page.locator("input[name=date]").first
        assert field.get_attribute("type") == "text"  # a date input would show 11/27/2026
        assert field.get_attribute("placeholder") == "YYYY-MM-DD"
    page.goto(f"{base_url}/?date={DAY}")
    field = page.locator("form.datepick input[name=date]")
    expect(field).to_have_value(str(DAY))
    field.fill("11/27/2026")
    assert field.evaluate("f => f.checkValidity()") is False
    context.close()


def test_the_navigation_fits_a_phone_screen(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    _login(page, base_url, "viewer")
    width = page.evaluate("() => document.documentElement.clientWidth")
    for name in ("Overview", "Errors", "Trends", "Top customers", "Runs", "Error codes"):
        link = page.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, name
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    for path in ("/", "/errors", "/errors/1", "/runs", "/codes", "/top-customers"):
        page.goto(f"{base_url}{path}")
        # Wide tables scroll inside themselves; the page itself never scrolls sideways.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, path
    page.close()


def test_an_operator_clears_the_days_cases_from_the_work_queue(
    browser: Browser, base_url: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base_url}/login")
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/cases")  # the landing page: what to do next
    page.goto(f"{base_url}/cases?date={DAY}")
    rows = page.get_by_test_id("case-row")
    expect(rows).to_have_count(3)  # needs action: the recovered case is one tab away
    expect(page.get_by_test_id("queue-tabs")).to_contain_text("Needs action 3")
    expect(rows.first).to_contain_text("T1")
    _shot(page, tmp_path, "queue")
    rows.first.get_by_role("link").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("UNAVAILABLE (TIMEOUT)")
    _shot(page, tmp_path, "case")
    page.get_by_label("Notes").fill("Bank restarted the balance API at 06:40")
    page.get_by_role("button", name="Resolve case").click()
    expect(page.get_by_test_id("status")).to_have_text("resolved")
    page.get_by_test_id("next-case").get_by_role("link").click()  # straight to the next one
    expect(page.get_by_test_id("status")).to_have_text("open")
    page.goto(f"{base_url}/cases?date={DAY}")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="All").click()
    expect(rows).to_have_count(3)
    page.get_by_test_id("bulk-step").click()  # an explicit step that shows what it closes
    expect(page.get_by_test_id("bulk-preview").locator("tbody tr")).to_have_count(3)
    page.get_by_label("Notes for all 3").fill("Known data problems, fixed upstream")
    page.get_by_role("button", name="Resolve 3 cases").click()
    expect(page.get_by_test_id("flash")).to_have_text("3 cases resolved")
    expect(rows).to_have_count(0)
    page.close()


def test_the_trend_charts_draw_every_day_and_hour_of_their_window(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page()
    _login(page, base_url, "viewer")
    page.goto(f"{base_url}/trends?date={DAY}")
    expect(page.locator("#chart-day")).to_have_attribute("data-drawn-periods", "14")
    expect(page.locator("#chart-hour")).to_have_attribute("data-drawn-periods", "24")
    page.close()


def _submit_status(page: Page, form: Any) -> int:
    with page.expect_navigation() as navigation:
        form.evaluate("f => f.requestSubmit()")
    response = navigation.value
    assert response is not None
    return response.status


def test_every_filter_form_works_as_it_loads_and_with_its_dates_emptied(
    browser: Browser, base_url: str
) -> None:
    """Pressed as an operator meets them: no field touched, then with the date fields cleared.
    (Tests that fill every field missed that the default form was a 422.)"""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, base_url, "admin")
    pressed: list[tuple[str, int, str, int]] = []
    for path in ["/", "/cases", "/errors", "/trends", "/top-customers", "/fails", "/alerts"]:
        page.goto(base_url + path)
        count = page.locator("form[method=get]").count()
        for index in range(count):
            for emptied in (False, True):
                page.goto(base_url + path)
                form = page.locator("form[method=get]").nth(index)
                if emptied:
                    for field in form.locator("input[placeholder='YYYY-MM-DD']").all():
                        field.fill("")
                status = _submit_status(page, form)
                pressed.append((path, index, "emptied" if emptied else "as loaded", status))
    page.close()
    assert len(pressed) >= 10
    assert [p for p in pressed if p[3] != 200] == []


def test_the_second_operator_to_resolve_a_case_is_told_and_keeps_the_draft(
    browser: Browser, base_url: str
) -> None:
    first = browser.new_context().new_page()
    second = browser.new_context().new_page()
    _login(first, base_url, "operator")
    _login(second, base_url, "admin")
    first.goto(f"{base_url}/cases?date={DAY}&customer_id=T1")
    first.locator("table a", has_text="T1").first.click()
    case_url = first.url
    second.goto(case_url)
    second.get_by_label("Notes").fill("Core banking restarted at 06:10; balances fine since.")
    first.get_by_label("Notes").fill("Bank fixed the timeout")
    first.once("dialog", lambda d: d.accept())
    first.get_by_role("button", name="Resolve case").click()
    expect(first.get_by_test_id("status")).to_have_text("resolved")
    expect(first.locator(".flash.good")).to_contain_text("resolved (4 attempts)")
    second.once("dialog", lambda d: d.accept())
    second.get_by_role("button", name="Resolve case").click()
    expect(second.get_by_test_id("conflict")).to_contain_text("operator resolved this at")
    expect(second.get_by_test_id("draft")).to_have_value(
        "Core banking restarted at 06:10; balances fine since."
    )


PAGES = ["/", "/cases", "/errors", "/trends", "/top-customers", "/runs", "/codes", "/alerts"]
PAGES += ["/fails", "/silences", "/report", "/errors/1", "/cases/1"]


def test_every_page_has_no_serious_accessibility_violation(browser: Browser, base_url: str) -> None:
    """axe-core (WCAG 2.1 A and AA rules) on every page as an admin sees it, and the login."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    found: list[str] = []

    def check(path: str) -> None:
        result = axe.run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
        for violation in result.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"]][:3]
                found.append(f"{path}: {violation['id']} ({violation['impact']}) {targets}")

    page.goto(f"{base_url}/login")
    check("/login")
    _login(page, base_url, "admin")
    for path in PAGES:
        page.goto(base_url + path + ("?date=" + str(DAY) if "?" not in path else ""))
        check(path)
    page.close()
    assert found == [], "\n".join(found)


def test_the_work_queue_fits_a_phone_without_sideways_scrolling(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/cases?date={DAY}&outcome=all")
    table = page.locator("table.cases")
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for heading in ("Customer", "Code", "Severity", "Status"):
        expect(table.get_by_role("columnheader", name=heading, exact=True)).to_be_visible()
    expect(table.get_by_role("columnheader", name="First seen (UTC)")).to_be_hidden()
    page.close()


def test_the_data_quality_filter_and_the_day_alarms_as_an_operator_meets_them(
    browser: Browser, base_url: str, engine: Engine
) -> None:
    """The queue's form pressed as it loads, then with "only data quality" chosen; the
    Overview's alarm section (issue 23)."""
    from tests.dashboard.test_data_quality import _flag_and_alarm

    _flag_and_alarm(engine)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/cases?date={DAY}&outcome=all")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="T1", exact=True)).to_be_visible()
    page.get_by_label("Data quality").select_option("true")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        f"{base_url}/cases?date={DAY}&outcome=all&code=&severity=&customer_id=&resolved=false"
        "&regression=all&owner=&acknowledged=all&quality=true"
    )
    expect(page.get_by_role("link", name="J1", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="T1", exact=True)).to_have_count(0)
    expect(page.get_by_text("PASS, flagged")).to_be_visible()
    page.goto(f"{base_url}/?date={DAY}")
    alarms = page.get_by_test_id("quality-alarms")
    expect(alarms).to_contain_text("STALE_FEED")
    expect(alarms).to_contain_text("90 STALE_BALANCE alerts in this one message")


def test_an_operator_acknowledges_assigns_and_notes_a_case_from_its_page(
    browser: Browser, base_url: str
) -> None:
    """Issue 24's buttons next to Resolve, pressed as the page loads; then issue 22's note on
    the resolved case, which goes to the history and leaves the resolution as it was."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/cases?date={DAY}&customer_id=T1&resolved=all")
    page.get_by_role("link", name="T1", exact=True).click()
    expect(page.get_by_test_id("owner")).to_have_text("nobody")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_test_id("acknowledged")).to_contain_text("by operator")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_test_id("owner")).to_have_text("operator")
    page.get_by_label("Assign to").select_option("admin")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("owner")).to_have_text("admin")
    events = page.get_by_test_id("case-event")
    expect(events).to_have_count(3)
    expect(events.nth(2)).to_contain_text("assigned it to admin")
    page.get_by_role("button", name="Add note").click()  # empty: the browser asks for text
    expect(page.get_by_test_id("case-event")).to_have_count(3)
    page.get_by_label("Notes").fill("bank restarted the service")
    page.get_by_role("button", name="Resolve case").click()
    expect(page.get_by_test_id("status")).to_have_text("resolved")
    expect(page.get_by_test_id("ownership")).to_have_count(0)
    page.get_by_label("A note on the resolved case").fill("bank confirmed the cause")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_test_id("case-event").last).to_contain_text("noted: bank confirmed")
    expect(page.get_by_test_id("history")).to_contain_text("bank restarted the service")


def test_an_operator_acknowledges_and_takes_a_days_cases_from_the_work_queue(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, base_url, "operator")
    page.goto(f"{base_url}/cases?date={DAY}")
    bulk = page.get_by_test_id("bulk-own")
    button = bulk.get_by_role("button", name="Acknowledge the")
    count = button.inner_text().split()[2]
    button.click()
    expect(page.get_by_text(f"{count} cases acknowledged")).to_be_visible()
    page.get_by_test_id("bulk-own").get_by_role("button", name="Assign them").click()
    expect(page.get_by_text(f"{count} cases assigned to operator")).to_be_visible()
    page.get_by_label("Owner").select_option("me")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(int(count))
