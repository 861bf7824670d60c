"""One logging setup for every command: JSON lines with the run's context, to stderr and
optionally to a file that logrotate may move (the handler reopens it).

Context fields (run_id, business_date, correlation_id, ...) bound with `bind` are added to
every line logged in that context, including lines of tasks started from it; `extra=` adds
per-line fields (customer_id, error_code, attempt). Everything logged through the standard
library ends up here, uvicorn's error and access lines included.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from balmon.config.settings import LoggingSettings
from balmon.errors.traces import safe_trace

# Attributes every LogRecord has; anything else came in through `extra=` and is ours.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("balmon_log_context", default=_EMPTY)
# Third-party loggers whose lines are useful at INFO; the rest log WARNING and above.
_OURS = "_balmon_handler"
_CHATTY = {"uvicorn.access": logging.INFO, "uvicorn.error": logging.INFO}


class JsonLines(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message, context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(_context.get())
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            data["exc"] = safe_trace(record.exc_info[1])
        return json.dumps(data, default=str)


def bind(**fields: Any) -> None:
    """Add fields to every line logged from here on in this context (task)."""
    _context.set(MappingProxyType({**_context.get(), **fields}))


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """`bind` for the duration of a block."""
    token = _context.set(MappingProxyType({**_context.get(), **fields}))
    try:
        yield
    finally:
        _context.reset(token)


def _handlers(target: Path | None) -> list[logging.Handler]:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if target is not None:
        # WatchedFileHandler reopens the file when logrotate moves it (no copytruncate needed).
        handlers = [logging.handlers.WatchedFileHandler(target, encoding="utf-8")]
    return handlers


def configure(settings: LoggingSettings, *, file: Path | None = None) -> None:
    """Send every log line, as JSON, to `file` (or the configured file, or stderr)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    for handler in _handlers(file or settings.file):
        handler.setFormatter(JsonLines())
        setattr(handler, _OURS, True)  # replaced by the next configure, others are left alone
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("balmon").setLevel(settings.level)
    for name, level in _CHATTY.items():
        chatty = logging.getLogger(name)
        chatty.handlers.clear()
        chatty.propagate = True
        chatty.setLevel(level)
