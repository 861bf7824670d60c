"""Regenerate docs/img/*.png: a few days of simulated runs, then each dashboard page in Chromium.

.venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dashboard.browser import ARGS, CHROMIUM, live_server  # noqa: E402

from balmon.banksim import (  # noqa: E402
    FaultPlan,
    Population,
    SimulatorConfig,
    SimulatorThread,
    write_customers_csv,
)
from balmon.cli.run import run_verification  # noqa: E402
from balmon.config import load_settings  # noqa: E402
from balmon.dashboard import create_app  # noqa: E402
from balmon.dashboard.auth import Role, add_user  # noqa: E402
from balmon.engine import RunRequest  # noqa: E402
from balmon.storage import make_engine  # noqa: E402

PAGES = [
    ("overview", "/"),
    ("errors", "/errors"),
    ("trends", "/trends"),
    ("top-customers", "/top-customers"),
    ("runs", "/runs"),
    ("codes", "/codes"),
]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="balmon-shots-"))
    customers = write_customers_csv(work / "customers.csv", 3000)
    url = f"sqlite:///{work / 'balmon.db'}"
    today = date.today()
    for days_ago, rate in ((3, 0.04), (2, 0.12), (1, 0.06), (0, 0.08)):
        config = SimulatorConfig(
            Population(generated=3000, seed=days_ago),
            FaultPlan({}, rate, seed=days_ago),
            trickle_interval=0.05,
        )
        with SimulatorThread(config) as sim:
            settings = load_settings(
                None,
                database={"url": url},
                source={"url": sim.url, "timeout_seconds": 0.3},
                retry={"delays_seconds": [0.05, 0.1, 0.2]},
                alerts={"group_wait_seconds": 0.1},
                logging={"file": work / "balmon.log"},
            )
            run_verification(
                settings, RunRequest(today - timedelta(days=days_ago), "normal", customers)
            )
    engine = make_engine(url)
    add_user(engine, "ops", "screenshots-only", Role.ADMIN, datetime.now(UTC))
    app = create_app(
        settings=load_settings(None, database={"url": url}),
        engine=engine,
    )
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with live_server(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        page.goto(f"{base}/login")
        page.screenshot(path=str(out / "login.png"))
        page.fill("input[name=username]", "ops")
        page.fill("input[name=password]", "screenshots-only")
        page.click("button[type=submit]")
        for name, path in PAGES:
            page.goto(base + path)
            page.wait_for_timeout(300)
            page.screenshot(
                path=str(out / f"{name}.png"), full_page=name not in ("errors", "codes")
            )
        page.goto(f"{base}/errors?code=TIMEOUT")
        page.locator("table.errors tbody tr a").first.click()
        page.screenshot(path=str(out / "error-detail.png"), full_page=True)
        browser.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
