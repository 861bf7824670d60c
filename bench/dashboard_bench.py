"""p95 latency of every dashboard page and API call with 1,000,000 error_logs rows.

Seeds 30 business dates (1M failed attempts: failing customer-days with 1 to 4 attempts each,
300k results) into a fresh SQLite file or a fresh
PostgreSQL database, then times each call in-process through the ASGI app. Run by hand:

    .venv/bin/python bench/dashboard_bench.py --db sqlite
    .venv/bin/python bench/dashboard_bench.py --db postgresql
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from balmon.config import load_settings  # noqa: E402
from balmon.dashboard.app import create_app  # noqa: E402
from balmon.dashboard.auth import Role, create_token  # noqa: E402
from balmon.storage import make_engine, upgrade  # noqa: E402
from balmon.storage.database import normalize_url  # noqa: E402
from balmon.storage.schema import verification_runs  # noqa: E402

DAYS, ERRORS, RESULTS_PER_DAY, CUSTOMERS = 30, 1_000_000, 10_000, 200_000
ERROR_COLUMNS = (
    "error_logs (run_id, business_date, customer_id, error_code, error_message, retry_count, "
    "logged_at)"
)
RESULT_COLUMNS = (
    "verification_results (run_id, business_date, customer_id, status, error_code, attempts, "
    "checked_at)"
)
SEVEN = " VALUES (?,?,?,?,?,?,?)"
LAST = date(2026, 11, 27)
CODE_WEIGHTS = {
    "API_ERROR": 30,
    "TIMEOUT": 20,
    "MISSING_DATA": 15,
    "NETWORK_ERROR": 12,
    "INVALID_RESPONSE": 10,
    "NULL_BALANCE": 5,
    "NEGATIVE_BALANCE": 5,
    "INVALID_INPUT": 2,
    "INTERNAL_ERROR": 1,
}


def fresh_database(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='balmon-dash-')}/bench.db"
    name = f"balmon_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        normalize_url("postgresql://postgres@127.0.0.1/test"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    return f"postgresql://postgres@127.0.0.1/{name}"


def error_rows(runs: dict[date, int]) -> list[tuple[object, ...]]:
    """Failed customer-days with their 1 to 4 attempts (retry_count 0..3), as a run logs them."""
    rng = random.Random(7)
    codes, weights = list(CODE_WEIGHTS), list(CODE_WEIGHTS.values())
    rows: list[tuple[object, ...]] = []
    n = 0
    while len(rows) < ERRORS:
        day = LAST - timedelta(days=n % DAYS)
        n += 1
        at = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(7200)
        )
        customer, code = f"C{rng.randrange(CUSTOMERS):07d}", rng.choices(codes, weights)[0]
        for attempt in range(min(rng.choice((1, 2, 3, 4, 4, 4)), ERRORS - len(rows))):
            when = at + timedelta(seconds=5 * attempt)
            rows.append((runs[day], day, customer, code, "simulated failure", attempt, when))
    return rows


def seed(engine: Engine) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC)
    with engine.begin() as c:
        runs = {}
        for i in range(DAYS):
            day = LAST - timedelta(days=i)
            start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
            key = c.execute(
                insert(verification_runs).values(
                    business_date=day,
                    status="completed",
                    started_at=start,
                    finished_at=start + timedelta(minutes=40),
                )
            ).inserted_primary_key
            runs[day] = int(key[0])  # type: ignore[index]
    rows = error_rows(runs)
    results = [
        (
            runs[day],
            day,
            f"C{n:07d}",
            "PASS" if n % 10 else "UNAVAILABLE",
            None if n % 10 else "TIMEOUT",
            1,
            now,
        )
        for day in runs
        for n in range(RESULTS_PER_DAY)
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            _copy(
                cursor,
                ERROR_COLUMNS,
                rows,
            )
            _copy(
                cursor,
                RESULT_COLUMNS,
                results,
            )
        else:
            naive = [(*r[:6], r[6].replace(tzinfo=None)) for r in rows]
            cursor.executemany(
                "INSERT INTO " + ERROR_COLUMNS + SEVEN,
                naive,
            )
            cursor.executemany(
                "INSERT INTO " + RESULT_COLUMNS + SEVEN,
                [(*r[:6], r[6].replace(tzinfo=None)) for r in results],
            )
        raw.commit()
    finally:
        raw.close()
    # A bulk load is not vacuumed yet; autovacuum does that to a live table. Without it
    # PostgreSQL cannot use index-only scans, which production would.
    maintenance = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(maintenance))
    print(
        f"seeded {len(rows):,} error_logs and {len(results):,} results "
        f"in {time.perf_counter() - started:.0f}s"
    )


def _copy(cursor: object, target: str, rows: list[tuple[object, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join(
                "\\N"
                if v is None
                else (
                    v.astimezone(UTC).replace(tzinfo=None).isoformat()
                    if isinstance(v, datetime)
                    else str(v)
                )
                for v in row
            )
            + "\n"
        )
    buffer.seek(0)
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:  # type: ignore[attr-defined]
        copy.write(buffer.read())


def calls(error_id: int, case_id: int) -> list[str]:
    d, week, fortnight = (
        LAST.isoformat(),
        (LAST - timedelta(days=6)).isoformat(),
        (LAST - timedelta(days=13)).isoformat(),
    )
    return [
        f"/api/summary?date={d}",
        "/api/errors",
        f"/api/errors?date={d}",
        "/api/errors?code=TIMEOUT",
        "/api/errors?customer_id=C0004242",
        f"/api/errors?date={d}&code=API_ERROR&sort=logged_at&page=40",
        "/api/errors?severity=LOW&resolved=false",
        f"/api/errors/{error_id}",
        f"/api/trends?granularity=day&from={fortnight}&to={d}",
        f"/api/trends?granularity=hour&from={d}&to={d}",
        f"/api/top-customers?n=10&from={week}&to={d}",
        "/api/runs",
        "/metrics",
        f"/?date={d}",
        "/errors",
        f"/errors?date={d}&code=TIMEOUT",
        f"/errors/{error_id}",
        f"/trends?date={d}",
        f"/top-customers?date={d}",
        "/runs",
        "/codes",
        f"/api/cases?date={d}",
        f"/api/cases?date={d}&outcome=recovered&page=20",
        f"/api/cases?from={week}&to={d}&severity=HIGH",
        "/api/cases?customer_id=C0004242&resolved=all",
        f"/api/cases/{case_id}",
        f"/cases?date={d}",
        f"/cases/{case_id}",
    ]


def _middle_case(engine: Engine) -> int:
    """A case that exists (PostgreSQL's ids have gaps: its upserts draw from the sequence)."""
    with engine.connect() as c:
        ids = c.execute(text("SELECT min(id), max(id) FROM cases")).one()
        found = c.scalar(text("SELECT min(id) FROM cases WHERE id >= :m"), {"m": sum(ids) // 2})
    return int(found)


def measure(engine: Engine, repeat: int) -> dict[str, tuple[float, float]]:
    """Per call, (p50, p95) in milliseconds; printed as measured."""
    measured: dict[str, tuple[float, float]] = {}
    settings = load_settings(None)
    token = create_token(engine, f"bench-{uuid.uuid4().hex[:6]}", Role.ADMIN, datetime.now(UTC))
    app = create_app(settings=settings, engine=engine)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        print(f"{'call':<62} {'p50 ms':>8} {'p95 ms':>8}")
        for path in calls(error_id=123_456, case_id=_middle_case(engine)):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            p95 = times[max(0, round(0.95 * len(times)) - 1)]
            flag = "" if p95 <= 300 else "  > 300 ms"
            print(f"{path:<62} {statistics.median(times):8.1f} {p95:8.1f}{flag}")
            measured[path] = (statistics.median(times), p95)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", metavar="URL", help="measure an already seeded database")
    args = parser.parse_args()
    engine = make_engine(args.reuse or fresh_database(args.db))
    if not args.reuse:
        upgrade(engine)
        seed(engine)
    measure(engine, args.repeat)


if __name__ == "__main__":
    main()
