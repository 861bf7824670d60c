"""Storage: the schema, engines for every backend, and migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from balmon import lazy

if TYPE_CHECKING:
    from balmon.storage.database import engine_for, make_engine, normalize_url
    from balmon.storage.migrate import ensure_schema, upgrade

__all__ = ["engine_for", "ensure_schema", "make_engine", "normalize_url", "upgrade"]

# Loaded when first used: `storage.states` (the outcome names) is needed where no database
# is, in a fetcher process, without SQLAlchemy's engines and Alembic.
_HOME = {
    "ensure_schema": "migrate",
    "upgrade": "migrate",
    "engine_for": "database",
    "make_engine": "database",
    "normalize_url": "database",
}


__getattr__ = lazy.members(__name__, _HOME)
