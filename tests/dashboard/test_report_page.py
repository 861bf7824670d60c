"""The compliance report on the dashboard: admins only, the same file `balmon report` writes;
and the download in real headless Chromium."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from tests.dashboard.browser import live_server
from tests.dashboard.seed import DAY, PASSWORD

Client = Callable[[str], tuple[TestClient, str]]
PERIOD = {"from": str(DAY - timedelta(days=1)), "to": str(DAY)}


def test_only_admins_get_the_report(as_role: Client) -> None:
    for role in ("viewer", "operator"):
        client, _ = as_role(role)
        assert client.get("/report").status_code == 403
        assert client.get("/report/file", params=PERIOD).status_code == 403
        assert 'href="/report"' not in client.get("/codes").text
    admin, _ = as_role("admin")
    assert 'href="/report"' in admin.get("/codes").text
    assert "Compliance report" in admin.get("/report").text


def test_the_report_file_in_each_format(as_role: Client) -> None:
    admin, _ = as_role("admin")
    made = admin.get("/report/file", params={**PERIOD, "format": "csv"})
    assert made.status_code == 200 and made.headers["content-type"].startswith("text/csv")
    assert made.headers["content-disposition"] == (
        f'attachment; filename="balmon-report-{PERIOD["from"]}-to-{PERIOD["to"]}.csv"'
    )
    rows = {tuple(r) for r in csv.reader(io.StringIO(made.text))}
    # The seeded date: 6 PASS, 2 FAIL, 3 UNAVAILABLE (tests/dashboard/seed.py).
    assert ("summary", "PASS", "Value", "6") in rows and ("summary", "FAIL", "Value", "2") in rows
    assert ("summary", "UNAVAILABLE", "Value", "3") in rows
    html = admin.get("/report/file", params={**PERIOD, "format": "html"})
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    pdf = admin.get("/report/file", params={**PERIOD, "format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    for params, status in (
        ({"from": PERIOD["to"], "to": PERIOD["from"]}, 422),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422),
        ({**PERIOD, "format": "docx"}, 422),
        ({"from": "yesterday", "to": PERIOD["to"]}, 422),
    ):
        assert admin.get("/report/file", params=params).status_code == status, params


@pytest.mark.browser
def test_an_admin_downloads_the_pdf_in_a_browser(
    browser: Browser, app: FastAPI, tmp_path: Path
) -> None:
    with live_server(app) as base_url:
        page = browser.new_page(accept_downloads=True)
        page.goto(f"{base_url}/login?next=%2Freport")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Compliance report")).to_be_visible()
        page.locator("input[name=from]").fill(PERIOD["from"])
        page.locator("input[name=to]").fill(PERIOD["to"])
        page.locator("select[name=format]").select_option("pdf")
        page.get_by_role("button", name="Build the report").click()
        # Built in the background: the page says so, then links the file when it is ready.
        expect(page.get_by_test_id("report-download")).to_be_visible(timeout=60_000)
        with page.expect_download() as download:
            page.get_by_test_id("report-download").click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
    assert path.name.endswith(".pdf")
    document = pdfium.PdfDocument(path)
    try:
        assert len(document) >= 2
        text = " ".join(document[0].get_textpage().get_text_range().split())
        assert "Customers verified 11" in text
    finally:
        document.close()


def _wait_ready(client: TestClient, location: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = client.get(location).text
        if 'data-testid="report-download"' in shown or "could not be built" in shown:
            return shown
        assert "Building the report" in shown and 'http-equiv="refresh"' in shown
        time.sleep(0.2)
    raise AssertionError("the report was not built in time")


def test_the_page_builds_the_report_in_the_background_for_its_admin_only(
    as_role: Client,
) -> None:
    admin, csrf = as_role("admin")
    started = admin.post("/report/jobs", data={**PERIOD, "format": "csv", "csrf_token": csrf})
    assert started.status_code == 303
    location = started.headers["location"]
    shown = _wait_ready(admin, location)
    assert "Ready after" in shown
    made = admin.get(f"{location}/file")
    assert made.status_code == 200 and made.headers["content-type"].startswith("text/csv")
    assert made.headers["content-disposition"] == (
        f'attachment; filename="balmon-report-{PERIOD["from"]}-to-{PERIOD["to"]}.csv"'
    )
    rows = {tuple(r) for r in csv.reader(io.StringIO(made.text))}
    assert ("summary", "PASS", "Value", "6") in rows
    other, _ = as_role("admin")  # a second admin session of the same user sees it too
    assert other.get(location).status_code == 200
    viewer, viewer_csrf = as_role("viewer")
    assert viewer.get(location).status_code == 403
    assert (
        viewer.post("/report/jobs", data={**PERIOD, "csrf_token": viewer_csrf}).status_code == 403
    )
    assert admin.get("/report/jobs/nosuchjob").status_code == 404
    backwards = {"from": PERIOD["to"], "to": PERIOD["from"], "csrf_token": csrf}
    assert admin.post("/report/jobs", data=backwards).status_code == 422
