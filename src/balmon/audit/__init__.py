"""The tamper-evident audit trail: hash chains over the audit tables, their seals, the
anchor digest, and verifying all of it (`docs/audit.md`)."""

from balmon.audit.chain import Chain, Segment, run_segment
from balmon.audit.seals import seal, seal_resolutions, seal_rows, seal_run

__all__ = [
    "Chain",
    "Segment",
    "run_segment",
    "seal",
    "seal_resolutions",
    "seal_rows",
    "seal_run",
]
