"""Build settings and customer files for engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from balmon.config import Settings, load_settings


def fast_settings(db_url: str, **sections: dict[str, Any]) -> Settings:
    """Settings with delays scaled down 100x so retries take milliseconds, not seconds."""
    base: dict[str, dict[str, Any]] = {
        "database": {"url": db_url},
        "source": {"url": "http://127.0.0.1:9", "timeout_seconds": 2.0},
        "retry": {"delays_seconds": [0.05, 0.1, 0.2]},
        "engine": {"concurrency": 8, "commit_interval_seconds": 0.05, "heartbeat_seconds": 0.2},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return load_settings(None, **base)


def write_customers(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text(
        "customer_id,min_balance\n" + "".join(f"{cid},{mb}\n" for cid, mb in rows), encoding="utf-8"
    )
    return path
