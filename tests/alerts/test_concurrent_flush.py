"""Several processes flushing one outbox deliver each message once: real `balmon alerts flush`
processes, started together, on every database, against a slow real webhook."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, select, update

from balmon.alerts import outbox
from balmon.alerts.channels import parse_channels
from balmon.alerts.content import Rendered
from balmon.storage.schema import alert_deliveries
from balmon.storage.states import DeliveryStatus
from tests.alerts.receivers import webhook_server
from tests.conftest import on_backends

MESSAGES = 12


def _flush(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "balmon", "alerts", "flush"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@on_backends()
def test_three_flushes_started_together_deliver_each_message_once(
    engine: Engine, fresh_url: str, tmp_path: Path
) -> None:
    with webhook_server() as hook:
        hook.delay = 0.2  # a send outlasts a flusher's start-up: the claims overlap
        url = f"json://127.0.0.1:{hook.port}/"
        channels = parse_channels([SecretStr(url)])
        now = datetime.now(UTC)
        with engine.begin() as c:
            for n in range(MESSAGES):
                outbox.add_message(
                    c,
                    Rendered(f"m{n}", "body", "s"),
                    kind="test",
                    now=now,
                    count=0,
                    channels=channels,
                )
        env = {
            **os.environ,
            "BALMON_DATABASE__URL": fresh_url,
            "BALMON_ALERTS__URLS": f'["{url}"]',
        }
        flushes = [_flush(env, tmp_path / f"flush{n}.log") for n in range(3)]
        codes = [p.wait(timeout=120) for p in flushes]
    logs = [(tmp_path / f"flush{n}.log").read_text() for n in range(3)]
    assert codes == [0, 0, 0], logs
    received = Counter(post["title"] for post in hook.posts)
    assert received == {f"m{n}": 1 for n in range(MESSAGES)}
    with engine.connect() as c:
        rows = c.execute(select(alert_deliveries)).all()
    assert {(r.status, r.attempts, r.claimed_until) for r in rows} == {
        (DeliveryStatus.SENT, 1, None)
    }


def test_a_claimed_delivery_is_left_to_its_flusher_until_the_lease_runs_out(
    engine: Engine,
) -> None:
    """A second flusher neither lists nor claims a delivery another is sending; once the lease
    has run out (its flusher, elsewhere, died mid-send) the delivery is sent again."""
    t0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    message_id = _one_message(engine, t0)
    with engine.begin() as c:
        [row] = outbox.pending(c, t0, [message_id])
        assert outbox.claim(c, row, t0)
        c.execute(update(alert_deliveries).values(claimed_by="another-host:4242"))
    later = t0 + timedelta(seconds=1)
    with engine.begin() as c:
        assert outbox.pending(c, later) == []
        assert not outbox.claim(c, row, later)  # its attempt count moved on meanwhile
    expired = t0 + outbox.CLAIM + timedelta(seconds=1)
    with engine.begin() as c:
        [again] = outbox.pending(c, expired)
        assert again.attempts == 1
        assert outbox.claim(c, again, expired)
        outbox.settle(c, again.id, status=DeliveryStatus.SENT, error=None, now=expired)
    with engine.connect() as c:
        [done] = outbox.deliveries_of(c, message_id)
    assert (done.status, done.attempts, done.claimed_until, done.claimed_by) == (
        DeliveryStatus.SENT,
        2,
        None,
        None,
    )


def test_a_claim_whose_flusher_died_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    """Killed mid-send (the crash point DELIVERING_ALERT): a flusher on the same host sees the
    claim's pid is gone and sends the delivery now, not ten minutes later."""
    t0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    message_id = _one_message(engine, t0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with engine.begin() as c:
        [row] = outbox.pending(c, t0, [message_id])
        assert outbox.claim(c, row, t0)
        c.execute(update(alert_deliveries).values(claimed_by=f"{socket.gethostname()}:{dead.pid}"))
    soon = t0 + timedelta(seconds=1)
    with engine.begin() as c:
        [orphan] = outbox.pending(c, soon, [message_id])
        assert outbox.claim(c, orphan, soon)
    with engine.connect() as c:
        [taken] = outbox.deliveries_of(c, message_id)
    assert (taken.attempts, taken.claimed_by) == (2, outbox.claimer())


def _one_message(engine: Engine, now: datetime) -> int:
    channels = parse_channels([SecretStr("json://127.0.0.1:9/a")])
    with engine.begin() as c:
        return outbox.add_message(
            c, Rendered("t", "b", "s"), kind="test", now=now, count=0, channels=channels
        )
