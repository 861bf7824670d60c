"""`balmon demo` as a new user runs it: a day's run, then the dashboard, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.alerts.receivers import free_port

pytestmark = pytest.mark.slow


def _api(port: int, token: str, path: str, body: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_a_run_started_from_the_demo_dashboard_fetches_from_the_simulated_bank(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env["BALMON_DASHBOARD__PORT"] = str(port)
    balmon = [sys.executable, "-m", "balmon"]
    with (tmp_path / "demo.err").open("w") as err, (tmp_path / "demo.out").open("w") as out:
        demo = subprocess.Popen(
            [*balmon, "demo", "--customers", "300"], cwd=tmp_path, env=env, stdout=out, stderr=err
        )
    try:
        token = ""
        deadline = time.monotonic() + 90
        while _api(port, token, "/healthz")[0] != 200:
            assert time.monotonic() < deadline and demo.poll() is None, "the demo did not serve"
            time.sleep(0.2)
        created = subprocess.run(
            [*balmon, "tokens", "create", "ops", "--role", "admin"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        # With no channel configured the demo's alerts land in the dashboard's own inbox.
        messages = json.loads(_api(port, token, "/api/alerts")[1])["items"]
        inbox = [d for m in messages for d in m["deliveries"] if d["channel"].startswith("inbox")]
        assert inbox and all(d["status"] == "sent" for d in inbox)
        status, body = _api(port, token, "/api/runs", {"date": "2026-11-20"})
        assert status == 202 and json.loads(body)["state"] == "running", body
        while True:
            runs = json.loads(_api(port, token, "/api/runs")[1])["items"]
            latest = next(r for r in runs if r["business_date"] == "2026-11-20")
            if latest["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert latest["status"] == "completed" and latest["total"] == 300
    assert latest["pass"] + latest["fail"] > 250  # the bank answered (8% have faults)
    assert demo.returncode == 143
    assert (tmp_path / "demo.err").read_text().strip().splitlines()[
        -1
    ] == "balmon: stopped by SIGTERM"
