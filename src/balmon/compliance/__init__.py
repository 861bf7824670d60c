"""The compliance report: a period's runs, outcomes, errors, resolutions, alerts, retention
and the audit trail's verification, as HTML, CSV or PDF (`docs/audit.md`)."""
