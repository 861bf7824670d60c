"""Structured logging: one JSON object per line, with the run's fields, to a file or stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from balmon.config.settings import LoggingSettings

# Attributes every LogRecord has; anything else came in through `extra=` and is ours.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonLines(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure(settings: LoggingSettings, *, file: Path | None = None) -> None:
    """Send balmon's logs as JSON lines to `file` (or the configured file, or stderr)."""
    target = file or settings.file
    handler: logging.Handler = (
        logging.FileHandler(target, encoding="utf-8")
        if target
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonLines())
    root = logging.getLogger("balmon")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.level)
    root.propagate = False
