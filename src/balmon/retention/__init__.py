"""Retention: archive and delete what is past its limit, keep what is held (`docs/audit.md`)."""

from balmon.retention.apply import Applied, apply
from balmon.retention.policy import Policy

__all__ = ["Applied", "Policy", "apply"]
