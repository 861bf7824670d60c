"""The outbox's own queries: grouping, routing, claiming deliveries, counting and listing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from balmon import limits
from balmon.alerts import outbox
from balmon.alerts.channels import parse_channels
from balmon.alerts.content import Rendered
from balmon.config.settings import AlertSettings
from balmon.errors import GroupTaken
from balmon.storage.schema import alert_deliveries, alert_messages, alerts
from balmon.storage.states import DeliveryStatus
from balmon.triage import silences
from tests.conftest import on_backends
from tests.engine.seed import DAY, add_run

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
CHANNELS = parse_channels(
    [SecretStr("json://127.0.0.1:9/a?tag=pager"), SecretStr("json://127.0.0.1:9/b?tag=mail")]
)


def _alerts(engine: Engine, run_id: int, rows: list[tuple[str, str, int]]) -> None:
    """Ungrouped alerts: (customer, code, seconds after T0 it was created)."""
    with engine.begin() as c:
        c.execute(
            insert(alerts),
            [
                {
                    "business_date": DAY,
                    "customer_id": cid,
                    "error_code": code,
                    "run_id": run_id,
                    "attempts": 4,
                    "failed_at": T0 + timedelta(seconds=after),
                    "created_at": T0 + timedelta(seconds=after),
                }
                for cid, code, after in rows
            ],
        )


def _settings(**extra: object) -> AlertSettings:
    return AlertSettings.model_validate({"max_customers_per_message": 2, **extra})


def _group_all(engine: Engine, settings: AlertSettings, run_id: int) -> list[int]:
    with engine.connect() as c:
        keys = outbox.ready_groups(c, older_than=None, run_id=run_id)
    ids = []
    for key in keys:
        with engine.begin() as c:
            ids.append(outbox.group(c, key, settings=settings, channels=CHANNELS, now=T0))
    return ids


@on_backends()
def test_one_message_per_run_and_code_with_a_pending_delivery_per_routed_channel(
    engine: Engine,
) -> None:
    run_id = add_run(engine, [])
    _alerts(engine, run_id, [("C1", "TIMEOUT", 0), ("C2", "TIMEOUT", 1), ("C3", "TIMEOUT", 2)])
    _alerts(engine, run_id, [("N1", "NULL_BALANCE", 3)])
    settings = _settings(routes={"HIGH": ["pager"]})
    ids = _group_all(engine, settings, run_id)
    with engine.connect() as c:
        messages = {
            m.error_code: m for m in c.execute(select(alert_messages).order_by(alert_messages.c.id))
        }
        deliveries = c.execute(select(alert_deliveries)).all()
        ungrouped = c.scalar(select(alerts.c.id).where(alerts.c.message_id.is_(None)))
    assert len(ids) == 2 and ungrouped is None
    timeout = messages["TIMEOUT"]
    assert timeout.customers_count == 3 and timeout.severity == "HIGH"
    assert "C1" in timeout.body and "C2" in timeout.body and "C3" not in timeout.body
    assert "...and 1 more" in timeout.body  # listed up to max_customers_per_message
    routed = {(d.message_id, d.channel) for d in deliveries}
    pager, mail = CHANNELS[0].name, CHANNELS[1].name
    assert routed == {
        (timeout.id, pager),  # HIGH goes to the pager only
        (messages["NULL_BALANCE"].id, pager),  # no route for LOW: every channel
        (messages["NULL_BALANCE"].id, mail),
    }
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}


def test_a_group_is_ready_only_once_its_first_alert_is_old_enough(engine: Engine) -> None:
    run_id = add_run(engine, [])
    _alerts(
        engine, run_id, [("C1", "TIMEOUT", 0), ("C2", "TIMEOUT", 50), ("N1", "NULL_BALANCE", 40)]
    )
    with engine.connect() as c:
        ready = outbox.ready_groups(c, older_than=T0 + timedelta(seconds=30), run_id=run_id)
        other_run = outbox.ready_groups(c, older_than=None, run_id=run_id + 1)
    assert [k.error_code for k in ready] == ["TIMEOUT"]
    assert other_run == []


def test_a_group_another_process_already_sent_makes_no_empty_message(engine: Engine) -> None:
    run_id = add_run(engine, [])
    _alerts(engine, run_id, [("C1", "TIMEOUT", 0), ("C2", "TIMEOUT", 1)])
    with engine.connect() as c:
        [key] = outbox.ready_groups(c, older_than=None, run_id=run_id)
    with engine.begin() as c:  # the other process groups the key first
        outbox.group(c, key, settings=_settings(), channels=CHANNELS, now=T0)
    with pytest.raises(GroupTaken), engine.begin() as c:
        outbox.group(c, key, settings=_settings(), channels=CHANNELS, now=T0)
    with engine.connect() as c:
        counts = [m.customers_count for m in c.execute(select(alert_messages))]
    assert counts == [2]


def test_a_delivery_is_claimed_once_per_attempt_and_settled(engine: Engine) -> None:
    with engine.begin() as c:
        message_id = outbox.add_message(
            c, Rendered("t", "b", "s"), kind="test", now=T0, count=0, channels=CHANNELS[:1]
        )
    with engine.begin() as c:
        [row] = outbox.pending(c, T0, [message_id])
        assert outbox.claim(c, row, T0)
        assert not outbox.claim(c, row, T0)  # another process was first
        outbox.settle(c, row.id, status=DeliveryStatus.SENT, error=None, now=T0)
    with engine.connect() as c:
        [done] = outbox.deliveries_of(c, message_id)
        assert outbox.pending(c, T0) == []
        assert outbox.delivery_counts(c) == {DeliveryStatus.SENT: 1}
    assert done.attempts == 1 and done.sent_at == T0


def test_counts_listing_and_pending_age_for_the_operators(engine: Engine) -> None:
    run_id = add_run(engine, [])
    _alerts(engine, run_id, [("C1", "TIMEOUT", 0)])
    _group_all(engine, _settings(), run_id)
    with engine.begin() as c:
        outbox.add_message(
            c, Rendered("t", "b", "s"), kind="test", now=T0 + timedelta(hours=1), count=0,
            channels=CHANNELS,
        )  # fmt: skip
        [first, *_] = outbox.pending(c, T0)
        outbox.settle(c, first.id, status=DeliveryStatus.FAILED, error="gone", now=T0)
    with engine.connect() as c:
        assert outbox.delivery_counts(c, run_id) == {DeliveryStatus.FAILED: 1, "pending": 1}
        assert outbox.delivery_counts(c) == {"failed": 1, "pending": 3}
        assert outbox.pending_on(c, DAY) == 1
        assert outbox.pending_on(c, date(2026, 11, 28)) == 0
        assert outbox.oldest_pending(c) == (3, T0)
        everything = outbox.listing(c, pending_only=False, limit=10)
        waiting = outbox.listing(c, pending_only=True, limit=10)
        newest = outbox.listing(c, pending_only=False, limit=1)
    assert len(everything) == 4 and len(waiting) == 3
    assert {r.status for r in waiting} == {"pending"}
    assert newest[0].kind == "test"  # newest message first


def test_a_long_title_is_cut_visibly_to_its_column(engine: Engine) -> None:
    with engine.begin() as c:
        message_id = outbox.add_message(
            c, Rendered("x" * 400, "b", "s"), kind="test", now=T0, count=0, channels=[]
        )
        title = c.scalar(select(alert_messages.c.title).where(alert_messages.c.id == message_id))
    assert len(title) == limits.TITLE and title.endswith("...")


def test_an_alert_a_silence_covers_never_joins_a_message(engine: Engine) -> None:
    run_id = add_run(engine, [])
    _alerts(engine, run_id, [("C1", "TIMEOUT", 0)])
    with engine.connect() as c:
        [key] = outbox.ready_groups(c, older_than=None, run_id=run_id)
    # The silence arrives after the groups were read (another process's hold-back missed it).
    silences.add(engine, silences.NewSilence("C1", None, "known"), actor="ops", now=T0)
    with pytest.raises(GroupTaken), engine.begin() as c:
        outbox.group(c, key, settings=_settings(), channels=CHANNELS, now=T0 + timedelta(1))
    with engine.connect() as c:
        assert c.execute(select(alert_messages)).all() == []


@on_backends()
def test_only_alerts_a_silence_covers_are_counted_as_held_back(engine: Engine) -> None:
    """The hold-back used to count every waiting alert as held (and log "alerts held back by
    silences") when no silence covered any: MIN over no silence is still a row."""
    run_id = add_run(engine, [])
    _alerts(engine, run_id, [("C1", "TIMEOUT", 0), ("C2", "TIMEOUT", 0)])
    with engine.begin() as c:
        assert outbox.hold_silenced(c, T0) == 0
    silences.add(engine, silences.NewSilence("C1", None, "known"), actor="ops", now=T0)
    with engine.begin() as c:
        assert outbox.hold_silenced(c, T0 + timedelta(seconds=1)) == 1
    with engine.connect() as c:
        held = dict(c.execute(select(alerts.c.customer_id, alerts.c.silence_id)).all())
    assert held["C1"] is not None and held["C2"] is None
