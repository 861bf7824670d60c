"""No false alarm on 100,000 clean rows on each database: every value survives its round trip
through the database with the hash it was written with (ties of the sixth decimal place,
many digits, negative amounts, microseconds, accents)."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from balmon.audit import Chain, Segment, seal
from balmon.audit.verify import verify
from balmon.storage.schema import verification_results, verification_runs
from tests.conftest import on_backends

ROWS, SEGMENTS = 100_000, 10
DAY = date(2026, 11, 27)
START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
AMOUNTS = [
    Decimal("0.0000005"), Decimal("-0.0000005"), Decimal("5.123456789"), Decimal("-12.5"),
    Decimal("999999999999.999999"), Decimal("0"), Decimal("1E+3"), Decimal("0.1"),
    Decimal("-0.00"), Decimal("-0.0000004"),  # zeros with a sign: the columns drop it
]  # fmt: skip


def _rows(rng: random.Random, run_id: int, first: int, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(first, first + n):
        unavailable = i % 17 == 0
        rows.append(
            {
                "run_id": run_id,
                "business_date": DAY,
                "customer_id": f"Ç{i:07d}",
                "status": "UNAVAILABLE" if unavailable else rng.choice(["PASS", "FAIL"]),
                "balance": None if unavailable else rng.choice(AMOUNTS),
                "min_balance": rng.choice(AMOUNTS),
                "error_code": "TIMEOUT" if unavailable else None,
                "attempts": 4 if unavailable else 1,
                "checked_at": START + timedelta(microseconds=rng.randrange(10**10)),
            }
        )
    return rows


@on_backends()
def test_a_hundred_thousand_clean_rows_raise_no_false_alarm(engine: Engine) -> None:
    rng = random.Random(11)
    now = datetime.now(UTC)
    with engine.begin() as c:
        key = c.execute(
            insert(verification_runs).values(
                business_date=DAY, status="completed", started_at=START, finished_at=now
            )
        ).inserted_primary_key
    assert key is not None
    run_id = int(key[0])
    per = ROWS // SEGMENTS
    for n in range(SEGMENTS):
        chain = Chain("verification_results", f"r{run_id}.volume{n}")
        rows = _rows(rng, run_id, n * per, per)
        with engine.begin() as c:
            tail = (0, "")
            for i in range(0, per, 5_000):  # several commits per segment, as the writer does
                tail = chain.stamp(rows[i : i + 5_000])
                c.execute(insert(verification_results), rows[i : i + 5_000])
                chain.advance(tail)
            segment = Segment("verification_results", chain.segment, run_id, DAY, *tail)
            seal(c, segment, by="test", now=now)
    began = time.perf_counter()
    with engine.connect() as c:
        report = verify(c)
    took = time.perf_counter() - began
    print(f"\nverify: {report.rows:,} rows on {engine.dialect.name} in {took:.2f}s")
    assert report.findings == [] and report.rows == ROWS and report.segments == SEGMENTS
