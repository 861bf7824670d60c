"""Retention and the compliance report at volume: seed hashed and sealed results and failed
attempts for old business dates, then time `retention apply --dry-run`, the real
application, `audit verify` afterwards, restoring the archive into a fresh SQLite file, and
the compliance report over the same dates.

    .venv/bin/python bench/retention_bench.py [--db URL] [--dates 10] [--customers 20000]

Results go to docs/benchmarks.md by hand. The database must be empty (a fresh SQLite file is
made when --db is not given; for PostgreSQL create one first).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from balmon.audit import Chain, Segment, seal
from balmon.audit.verify import snapshot, verify
from balmon.compliance.report import Format, build
from balmon.config import load_settings
from balmon.config.settings import RetentionSettings
from balmon.retention import apply
from balmon.retention.restore import restore
from balmon.storage import make_engine, upgrade
from balmon.storage.schema import error_logs, verification_results, verification_runs

NOW = datetime.now(UTC)
FIRST = NOW.date() - timedelta(days=400)


def _seed(engine: Any, dates: int, customers: int) -> int:
    rng = random.Random(7)
    written = 0
    for n in range(dates):
        day = FIRST + timedelta(days=n)
        start = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        with engine.begin() as c:
            run_id = c.execute(
                insert(verification_runs).values(
                    business_date=day,
                    status="completed",
                    started_at=start,
                    finished_at=start,
                    total=customers,
                )
            ).inserted_primary_key[0]
            results, attempts = [], []
            for i in range(customers):
                failed = i % 10 == 0
                results.append(
                    {
                        "run_id": run_id,
                        "business_date": day,
                        "customer_id": f"C{i:07d}",
                        "status": "UNAVAILABLE" if failed else "PASS",
                        "balance": None if failed else Decimal(rng.randrange(10**8)) / 100,
                        "min_balance": Decimal("0"),
                        "error_code": "TIMEOUT" if failed else None,
                        "attempts": 4 if failed else 1,
                        "checked_at": start,
                    }
                )
                for attempt in range(4 if failed else 0):
                    attempts.append(
                        {
                            "run_id": run_id,
                            "business_date": day,
                            "customer_id": f"C{i:07d}",
                            "error_code": "TIMEOUT",
                            "error_message": "no answer in 30 s",
                            "retry_count": attempt,
                            "stack_trace": None,
                            "source_line": None,
                            "logged_at": start + timedelta(seconds=attempt),
                        }
                    )
            for table, rows in (("verification_results", results), ("error_logs", attempts)):
                chain = Chain(table, f"r{run_id}.bench")
                target = verification_results if table == "verification_results" else error_logs
                for i in range(0, len(rows), 5000):
                    tail = chain.stamp(rows[i : i + 5000])
                    c.execute(insert(target), rows[i : i + 5000])
                    chain.advance(tail)
                seal(c, Segment(table, chain.segment, run_id, day, chain.seq, chain.head),
                     by="bench", now=NOW)  # fmt: skip
                written += len(rows)
    return written


def _timed(label: str, work: Any) -> Any:
    began = time.perf_counter()
    result = work()
    print(f"{label:<34} {time.perf_counter() - began:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db")
    parser.add_argument("--dates", type=int, default=10)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="balmon-retention-bench-"))
    url = args.db or f"sqlite:///{scratch / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rows = _timed("seed (hash, insert, seal)", lambda: _seed(engine, args.dates, args.customers))
    print(f"rows: {rows:,} audit rows over {args.dates} dates on {engine.dialect.name}")
    settings = load_settings(None, database={"url": url})
    last = FIRST + timedelta(days=args.dates - 1)
    for fmt in (Format.HTML, Format.PDF):
        made = _timed(
            f"report {fmt.value} over the dates",
            lambda fmt=fmt: build(engine, settings, start=FIRST, end=last, format=fmt, now=NOW),
        )
        print(f"  {len(made.body):,} bytes")
    keep = RetentionSettings(keep_days=90, archive_dir=scratch / "archive")
    dry = _timed(
        "retention apply --dry-run", lambda: apply(engine, keep, now=NOW, actor="b", dry_run=True)
    )
    done = _timed("retention apply", lambda: apply(engine, keep, now=NOW, actor="bench"))
    assert done.rows() == dry.rows()
    archived = sum(done.rows().values())
    size = sum(p.stat().st_size for p in (scratch / "archive").rglob("*") if p.is_file())
    print(f"  archived {archived:,} rows into {size / 1e6:.1f} MB")

    def verified() -> Any:
        with snapshot(engine) as c:
            return verify(c)

    report = _timed("audit verify after retention", verified)
    assert report.intact, report.findings[:3]
    assert done.directory is not None
    target = make_engine(f"sqlite:///{scratch / 'restored.db'}")
    _timed("retention restore into SQLite", lambda: restore(done.directory, target, now=NOW))
    print(f"scratch: {scratch}")


if __name__ == "__main__":
    main()
