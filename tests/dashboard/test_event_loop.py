"""One loop, one job: no database call of the web process runs on the event loop that
serves HTTP. Every query is watched; one made from the loop's own thread fails the test."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.dashboard.test_api import _api_routes


def _on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _get_paths(app: FastAPI) -> list[str]:
    paths = [
        re.sub(r"\{[^}]+\}", "1", route.path)
        for route in _api_routes(list(app.routes))
        if "GET" in route.methods
    ]
    return [*sorted(set(paths)), "/no-such-page", "/cases?severity=bogus", "/api/cases?x=1"]


def test_no_database_call_runs_on_the_event_loop(
    app: FastAPI, engine: Engine, as_role: Callable[[str], tuple[TestClient, str]]
) -> None:
    on_loop: list[str] = []

    def watch(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if _on_the_loop():
            on_loop.append(statement.split("\n")[0][:80])

    event.listen(engine, "before_cursor_execute", watch)
    try:
        client, csrf = as_role("admin")
        anonymous = TestClient(app, follow_redirects=False)
        paths = _get_paths(app)
        for path in paths:
            client.get(path)
            anonymous.get(path)
        client.post("/api/runs", json={"date": "2026-11-27"}, headers={"X-CSRF-Token": csrf})
        client.post("/runs", data={"date": "2026-11-27", "csrf_token": csrf})
        client.post("/api/cases/1/resolve", json={"notes": "x"}, headers={"X-CSRF-Token": "no"})
        client.post("/logout", data={"csrf_token": csrf})
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert len(paths) > 20
    assert on_loop == []
