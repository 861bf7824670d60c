"""The monitoring dashboard: pages and JSON API for the operations team."""

from __future__ import annotations

from balmon.dashboard.app import create_app
from balmon.dashboard.auth import Role, ensure_demo_user

__all__ = ["Role", "create_app", "ensure_demo_user"]
