"""Several processes flushing one outbox deliver each message once: real `balmon alerts flush`
processes, started together, on every database, against a slow real webhook."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, select

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
    """A second flusher neither lists nor claims a delivery another is sending (the first
    one's attempt count no longer matches, or it does and the lease still holds); once the
    lease has run out (its flusher died mid-send) the delivery is sent again."""
    t0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    channels = parse_channels([SecretStr("json://127.0.0.1:9/a")])
    with engine.begin() as c:
        message_id = outbox.add_message(
            c, Rendered("t", "b", "s"), kind="test", now=t0, count=0, channels=channels
        )
    with engine.begin() as c:
        [row] = outbox.pending(c, t0, [message_id])
        assert outbox.claim(c, row.id, row.attempts, t0)
    later = t0 + timedelta(seconds=1)
    with engine.begin() as c:
        assert outbox.pending(c, later) == []
        assert not outbox.claim(c, row.id, row.attempts + 1, later)
    expired = t0 + outbox.CLAIM + timedelta(seconds=1)
    with engine.begin() as c:
        [again] = outbox.pending(c, expired)
        assert again.attempts == 1
        assert outbox.claim(c, again.id, again.attempts, expired)
        outbox.settle(c, again.id, status=DeliveryStatus.SENT, error=None, now=expired)
    with engine.connect() as c:
        [done] = outbox.deliveries_of(c, message_id)
    assert (done.status, done.attempts, done.claimed_until) == (DeliveryStatus.SENT, 2, None)
