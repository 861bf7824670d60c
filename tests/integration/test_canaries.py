"""Canaries (issue 12): an IBAN, a card number, a balance, a bearer token, database and
alert-channel passwords and a person's name, planted in what the bank answers (bodies,
headers, a status line, exception texts), in the customer file and in the configuration;
then everything balmon writes is searched for them: the database, the log, stdout and
stderr of every command, alert payloads and delivery errors, every dashboard page and API
answer (as an admin, who sees stack traces), the compliance report and retention's archive.
None may appear."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from balmon import limits
from balmon.aio import run as run_loop
from balmon.config import load_settings
from balmon.dashboard import auth
from balmon.dashboard.app import create_app
from balmon.storage import make_engine
from balmon.storage.schema import error_logs, metadata
from tests.alerts.receivers import free_port, webhook_server
from tests.conftest import on_backends
from tests.dashboard.conftest import login_data

pytestmark = pytest.mark.slow

IBAN = "DE89370400440532013000"
CARD = "4111111111111111"
BALANCE = "987654.321"
TOKEN = "tok-CANARY-7f3a9c"
DB_PASSWORD = "pw-CANARY-5b1e"
ALERT_PASSWORD = "alert-CANARY-2d4f"
NAME = "Zebulon Canarywick"
CANARIES = [IBAN, CARD, BALANCE, TOKEN, DB_PASSWORD, ALERT_PASSWORD, NAME]
# Ninety days back and more, so retention archives the run.
DAY = (datetime.now(UTC) - timedelta(days=120)).date()


def _secrets(request: web.Request) -> str:
    echoed = request.headers.get("Authorization", "")
    return f"account {IBAN} card {CARD} holder {NAME} balance {BALANCE} auth {echoed}"


def _status_line(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.write(f"HTTP/1.1 2x0 {IBAN} {NAME}\r\n\r\n".encode())
    request.transport.close()
    return web.Response()


def _answer(cid: str, leak: str) -> web.StreamResponse:
    """What a hostile or careless bank sends, per customer id."""
    headers = {"X-Debug": leak[:200]}
    json_body = web.json_response
    answers = {
        "OK": lambda: json_body({"customer_id": cid, "balance": "10.00"}),
        "ERROR500": lambda: json_body({"error": leak}, status=500, headers=headers),
        "ERROR200": lambda: json_body({"error": leak}, headers=headers),
        "TRUNCATED": lambda: web.Response(
            body=f'{{"balance": 1, "note": "{leak}', content_type="application/json"
        ),
        "ENCODED": lambda: web.Response(body=b"{}", headers={"Content-Encoding": CARD}),
        "NEGATIVE": lambda: json_body({"customer_id": cid, "balance": f"-{BALANCE}"}),
        "HUGE": lambda: json_body({"customer_id": cid, "balance": f"{BALANCE}e30"}),
        "OTHERID": lambda: json_body({"customer_id": CARD, "balance": BALANCE}),
        "TYPED": lambda: json_body({"customer_id": cid, "balance": {"iban": IBAN, "name": NAME}}),
        "THROTTLED": lambda: json_body({"error": leak}, status=429, headers={"Retry-After": IBAN}),
    }
    return answers.get(cid, lambda: json_body({"error": "unknown"}, status=404))()


async def _balance(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["cid"]
    if cid == "STATUSLINE":
        return _status_line(request)
    return _answer(cid, _secrets(request))


@contextmanager
def hostile_bank() -> Iterator[str]:
    port = free_port()
    ready = threading.Event()
    stop: list[object] = []

    def serve() -> None:
        async def main() -> None:
            import asyncio

            app = web.Application()
            app.router.add_get("/customers/{cid}/balance", _balance)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            done = asyncio.Event()
            stop.append((asyncio.get_running_loop(), done))
            ready.set()
            await done.wait()
            await runner.cleanup()

        run_loop(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop, done = stop[0]  # type: ignore[misc]
        loop.call_soon_threadsafe(done.set)
        thread.join(10)


CUSTOMERS = [
    "OK", "ERROR500", "ERROR200", "TRUNCATED", "ENCODED", "NEGATIVE", "HUGE", "OTHERID",
    "TYPED", "THROTTLED", "STATUSLINE",
]  # fmt: skip


def _customer_file(path: Path) -> Path:
    lines = ["customer_id,min_balance,holder"]
    lines += [f"{cid},1,{NAME}" for cid in CUSTOMERS]
    lines += [
        f'"{NAME},{IBAN}',  # a quote never closed
        f"BADMIN,{IBAN},{NAME}",  # a minimum that is not a number
        f"CARDMIN,{CARD}x,{NAME}",
        f"TOOMANY,1,{NAME},{CARD}",  # a field more than the header
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _balmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balmon", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _database_text(db: Engine) -> str:
    """Every row of every table, every column, as text."""
    parts = []
    with db.connect() as c:
        for table in metadata.sorted_tables:
            for row in c.execute(select(table)):
                parts.append(f"{table.name}: {tuple(row)}")
    return "\n".join(parts)


def _dashboard_text(url: str, db: Engine) -> str:
    settings = load_settings(None, database={"url": url})
    auth.add_user(db, "auditor", "correct horse battery", auth.Role.ADMIN, datetime.now(UTC))
    app = create_app(settings=settings, engine=db)
    day = DAY.isoformat()
    query = f"date={day}&from={day}&to={day}"
    with db.connect() as c:
        error_ids = list(c.scalars(select(error_logs.c.id)))
    pages = ["/", "/trends", "/top-customers", "/errors", "/codes", "/runs", "/cases", "/fails"]
    pages += ["/alerts", "/report", "/metrics", "/api/summary", "/api/errors", "/api/trends"]
    pages += ["/api/top-customers", "/api/runs", "/api/cases", "/api/fails", "/api/alerts"]
    pages += ["/api/errors.csv", "/api/fails.csv", "/api/silences"]
    pages += [f"/errors/{i}" for i in error_ids] + [f"/api/errors/{i}" for i in error_ids]
    texts = []
    with TestClient(app, follow_redirects=False) as client:
        login = login_data(client, username="auditor", password="correct horse battery", next="/")
        assert client.post("/login", data=login).status_code == 303
        with db.connect() as c:
            case_ids = list(c.execute(select(metadata.tables["cases"].c.id)).scalars())
        pages += [f"/cases/{i}" for i in case_ids] + [f"/api/cases/{i}" for i in case_ids]
        for fmt in ("html", "csv"):
            pages.append(f"/report/file?format={fmt}")
        for page in pages:
            answer = client.get(page + ("&" if "?" in page else "?") + query)
            assert answer.status_code == 200, (page, answer.status_code, answer.text[:300])
            texts.append(f"{page}: {answer.text}")
    return "\n".join(texts)


def _hits(where: str, text: str) -> list[str]:
    found = []
    for canary in CANARIES:
        for match in re.finditer(re.escape(canary), text):
            context = text[max(0, match.start() - 80) : match.end() + 40].replace("\n", " ")
            found.append(f"{canary} in {where}: ...{context}...")
    return found


@on_backends("postgresql")
def test_no_planted_secret_appears_in_anything_balmon_writes(
    fresh_url: str, tmp_path: Path
) -> None:
    url = make_url(fresh_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    customers = _customer_file(tmp_path / "customers.csv")
    written: dict[str, str] = {}
    with hostile_bank() as bank_url, webhook_server() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
        env.update(
            BALMON_DATABASE__URL=url,
            BALMON_SOURCE__URL=bank_url,
            BALMON_SOURCE__TOKEN=TOKEN,
            BALMON_SOURCE__TIMEOUT_SECONDS="5",
            BALMON_RETRY__DELAYS_SECONDS="[0.01, 0.01, 0.01]",
            BALMON_ALERTS__URLS=json.dumps(
                [
                    f"json://ops:{ALERT_PASSWORD}@127.0.0.1:{hook.port}/ops",
                    f"json://ops:{ALERT_PASSWORD}@127.0.0.1:9/dead",  # refused: a delivery error
                ]
            ),
            BALMON_ALERTS__GROUP_WAIT_SECONDS="0",
            BALMON_ALERTS__DELIVERY_ATTEMPTS="1",
            BALMON_LOGGING__FILE=str(tmp_path / "balmon.log"),
            BALMON_LOGGING__LEVEL="DEBUG",
            BALMON_RETENTION__ARCHIVE_DIR=str(tmp_path / "archive"),
        )
        commands = {
            "run": ["run", "--date", DAY.isoformat(), "--customers", str(customers), "--json"],
            "config check": ["config", "check"],
            "alerts list": ["alerts", "list"],
            "audit verify": ["audit", "verify"],
            "report csv": ["report", "--from", DAY.isoformat(), "--to", DAY.isoformat(),
                           "--format", "csv"],
            "report html": ["report", "--from", DAY.isoformat(), "--to", DAY.isoformat()],
        }  # fmt: skip
        for name, args in commands.items():
            done = _balmon(env, *args)
            written[f"{name} (stdout, exit {done.returncode})"] = done.stdout
            written[f"{name} (stderr)"] = done.stderr
        assert '"unavailable": 10' in written["run (stdout, exit 0)"], written
        written["alert payloads"] = json.dumps(hook.posts)
        assert hook.posts, "no alert reached the webhook"
    db = make_engine(url)
    try:
        with db.connect() as c:
            messages = list(c.scalars(select(error_logs.c.error_message)))
        # A fixed shape: one line, bounded, nothing of the bank's between control characters.
        assert len(messages) > 20
        assert all(m.isprintable() and len(m) <= limits.MESSAGE for m in messages), messages
        written["database"] = _database_text(db)
        written["dashboard"] = _dashboard_text(url, db)
        # Retention shortened after the run (a run for a date it would delete is refused).
        shorter = {**env, "BALMON_RETENTION__KEEP_DAYS": "90"}
        applied = _balmon(shorter, "retention", "apply", "--by", "auditor")
        assert applied.returncode == 0, applied.stderr
        written["retention (stdout)"], written["retention (stderr)"] = (
            applied.stdout,
            applied.stderr,
        )
        archives = sorted((tmp_path / "archive").rglob("*"))
        assert any(p.suffix == ".gz" for p in archives), archives
        for path in archives:
            if path.is_file():
                raw = path.read_bytes()
                written[str(path)] = (
                    gzip.decompress(raw) if path.suffix == ".gz" else raw
                ).decode()
    finally:
        db.dispose()
    written["log file"] = (tmp_path / "balmon.log").read_text(encoding="utf-8")
    hits = [hit for where, text in written.items() for hit in _hits(where, text)]
    assert hits == [], "\n".join(hits)
