"""A distributed run's progress (chunks, customers, per worker) on the Runs page, in the JSON
API and in /metrics, while it runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from balmon.dashboard.auth import Role, create_token
from balmon.storage.schema import run_chunks, verification_runs

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def _distributed_run(engine: Engine) -> int:
    with engine.begin() as c:
        run_id = int(
            c.execute(
                insert(verification_runs).values(
                    business_date=date(2026, 11, 29), status="running", started_at=NOW
                )
            ).inserted_primary_key[0]
        )
        c.execute(
            insert(run_chunks),
            [
                {"run_id": run_id, "seq": 0, "customers": "[]", "size": 500, "status": "done",
                 "worker": "node-a:101", "deliveries": 1},
                {"run_id": run_id, "seq": 1, "customers": "[]", "size": 500, "status": "done",
                 "worker": "node-b:202", "deliveries": 2},
                {"run_id": run_id, "seq": 2, "customers": "[]", "size": 500, "status": "running",
                 "worker": "node-a:101", "deliveries": 1},
                {"run_id": run_id, "seq": 3, "customers": "[]", "size": 200, "status": "pending",
                 "worker": None, "deliveries": 0},
            ],
        )  # fmt: skip
    return run_id


def test_the_runs_page_and_api_show_a_distributed_runs_chunks(
    engine: Engine, as_role: Callable[[str], tuple[TestClient, str]]
) -> None:
    run_id = _distributed_run(engine)
    client, _ = as_role("viewer")
    page = client.get("/runs").text
    assert "distributed: 2/4 chunks done, 1,000/1,700 customers" in page
    assert "by worker: node-a:101 1 node-b:202 1" in page
    [item] = [r for r in client.get("/api/runs").json()["items"] if r["id"] == run_id]
    assert item["chunks"] == {
        "chunks": 4,
        "by_status": {"done": 2, "running": 1, "pending": 1},
        "customers": 1700,
        "customers_done": 1000,
        "by_worker": {"node-a:101": 1, "node-b:202": 1},
    }


def test_metrics_show_a_running_distributed_runs_chunks(
    engine: Engine, anonymous: TestClient
) -> None:
    run_id = _distributed_run(engine)
    token = create_token(engine, "prometheus", Role.VIEWER, datetime.now(UTC))
    text = anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    run = f'run_id="{run_id}"'
    assert f'balmon_distributed_run_chunks{{{run},status="done"}} 2.0' in text
    assert f'balmon_distributed_run_chunks{{{run},status="pending"}} 1.0' in text
    assert f'balmon_distributed_run_customers{{{run},state="done"}} 1000.0' in text
    assert f'balmon_distributed_run_worker_chunks_done{{{run},worker="node-b:202"}} 1.0' in text
