"""Where an alert is sent from: grouping, the durable outbox and delivery through Apprise."""

from __future__ import annotations

from balmon.alerts.channels import AppriseNotifier, Channel, DeliveryError, Notifier, parse_channels
from balmon.alerts.pipeline import AlertPipeline, FlushReport

__all__ = [
    "AlertPipeline",
    "AppriseNotifier",
    "Channel",
    "DeliveryError",
    "FlushReport",
    "Notifier",
    "parse_channels",
]
