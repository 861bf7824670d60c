"""A seeded dashboard app behind FastAPI's TestClient, and logged-in clients per role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from balmon.config import load_settings
from balmon.dashboard.app import create_app
from balmon.scheduling.launcher import Launch, LaunchState
from tests.dashboard.browser import ARGS, CHROMIUM, require_chromium
from tests.dashboard.seed import PASSWORD, seed_day


class RecordingStarter:
    """A run starter that records the dates and answers with a fixed outcome."""

    def __init__(self) -> None:
        self.dates: list[date] = []
        self.state = LaunchState.RUNNING

    async def start(self, day: date) -> Launch:
        self.dates.append(day)
        return Launch(day, self.state, 7, None if self.state is LaunchState.RUNNING else "no")


@pytest.fixture
def started_runs() -> RecordingStarter:
    return RecordingStarter()


@pytest.fixture
def app(engine: Engine, started_runs: RecordingStarter) -> FastAPI:
    seed_day(engine)
    settings = load_settings(None, database={"url": str(engine.url)})
    return create_app(settings=settings, engine=engine, run_starter=started_runs)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def login_data(client: TestClient, **fields: str) -> dict[str, str]:
    """The login form's fields as a browser sends them: `fields` plus the form's login CSRF
    token (the form sets the matching cookie on `client`)."""
    form = client.get("/login")
    match = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert match, form.text
    return {**fields, "login_csrf": match.group(1)}


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    data = login_data(client, username=name, password=password, next="/")
    response = client.post("/login", data=data)
    assert response.status_code == 303, response.text
    page = client.get("/codes")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


@pytest.fixture
def as_role(app: FastAPI) -> Iterator[Callable[[str], tuple[TestClient, str]]]:
    clients: list[TestClient] = []

    def make(role: str) -> tuple[TestClient, str]:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client, log_in(client, role)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (browser downloads do not work here)."""
    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()
