"""Where an alert is sent from: grouping, the durable outbox and delivery through Apprise.

Alert rows are created outside this package, at two places:

- a customer that ends UNAVAILABLE: `engine/worker.py` hands an `AlertRecord` to
  `engine/writer.py`, which inserts the `alerts` row in the same transaction as the customer's
  result (one row per date, customer and code: a re-run never alerts twice);
- a business date that missed its deadline or whose run failed: `scheduling/alarms.py` adds
  one message straight to the outbox (`outbox.add_message`).

From there on everything is here. `pipeline.AlertPipeline` groups `alerts` rows into
`alert_messages` (`outbox.group`: one message per run and code), with one `alert_deliveries`
row per message and channel, and delivers them through `channels` (Apprise), retrying with a
backoff; `content` decides what each message says, `outbox` holds every query on the three
tables. Before grouping, alerts a silence covers (`triage/silences.py`) are held back and
recorded with it; a regression (`triage/cases.py`) is named on its customer's line.
"""

from __future__ import annotations

from balmon.alerts.channels import AppriseNotifier, Channel, Notifier, parse_channels
from balmon.alerts.pipeline import AlertPipeline, DeliveryReport, RunFacts

__all__ = [
    "AlertPipeline",
    "AppriseNotifier",
    "Channel",
    "DeliveryReport",
    "Notifier",
    "RunFacts",
    "parse_channels",
]
