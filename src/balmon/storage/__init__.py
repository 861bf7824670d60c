"""Storage: the schema, engines for every backend, and migrations."""

from __future__ import annotations

from balmon.storage.database import make_engine, normalize_url
from balmon.storage.migrate import ensure_schema, upgrade

__all__ = ["ensure_schema", "make_engine", "normalize_url", "upgrade"]
