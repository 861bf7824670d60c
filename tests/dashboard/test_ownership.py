"""Owning a case: acknowledge, assign, comment, one case or a filter's worth; each action in
the case's history, append-only and inside the audit chain (issues 24 and 22)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DatabaseError

from balmon.audit.verify import verify
from balmon.storage.schema import case_events
from tests.dashboard.seed import DAY

Login = Callable[[str], tuple[TestClient, str]]


def _case(client: TestClient, customer: str) -> dict:
    body = client.get(f"/api/cases?date={DAY}&customer_id={customer}&resolved=all").json()
    return body["items"][0]


def _post(client: TestClient, csrf: str, path: str, body: object = None) -> object:
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf})


def test_a_viewer_can_neither_acknowledge_nor_assign_nor_comment(as_role: Login) -> None:
    viewer, csrf = as_role("viewer")
    case_id = _case(viewer, "T1")["id"]
    for path, body in (
        (f"/api/cases/{case_id}/ack", None),
        (f"/api/cases/{case_id}/assign", {"owner": "viewer"}),
        (f"/api/cases/{case_id}/comments", {"notes": "x"}),
        (f"/api/cases/ack?date={DAY}", None),
    ):
        assert _post(viewer, csrf, path, body).status_code == 403, path


def test_acknowledge_assign_and_comment_one_case(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    case_id = _case(operator, "T1")["id"]
    first = _post(operator, csrf, f"/api/cases/{case_id}/ack", {"notes": "on it"})
    assert first.json() == {"id": case_id, "changed": True}
    again = _post(operator, csrf, f"/api/cases/{case_id}/ack")
    assert again.status_code == 200 and again.json()["changed"] is False
    assigned = _post(operator, csrf, f"/api/cases/{case_id}/assign", {"owner": "admin"})
    assert assigned.json() == {"id": case_id, "changed": True}
    unknown = _post(operator, csrf, f"/api/cases/{case_id}/assign", {"owner": "nobody"})
    assert unknown.status_code == 422
    assert _post(operator, csrf, "/api/cases/99999/ack").status_code == 404
    item = operator.get(f"/api/cases/{case_id}").json()
    assert (item["owner"], item["acknowledged"], item["acknowledged_by"]) == (
        "admin", True, "operator"
    )  # fmt: skip
    assert item["acknowledged_at"] and item["escalations"] == 0
    assert [(e["action"], e["owner"], e["notes"], e["actor"]) for e in item["events"]] == [
        ("acknowledged", None, "on it", "operator"),
        ("assigned", "admin", None, "operator"),
    ]
    unassigned = _post(operator, csrf, f"/api/cases/{case_id}/assign", {"owner": None})
    assert unassigned.json()["changed"] is True
    assert operator.get(f"/api/cases/{case_id}").json()["owner"] is None


def test_a_resolved_case_takes_comments_but_no_owner(as_role: Login) -> None:
    """Issue 22: a resolved record is not resolved again (409); a new note is a comment."""
    operator, csrf = as_role("operator")
    case_id = _case(operator, "N1")["id"]
    done = _post(operator, csrf, f"/api/cases/{case_id}/resolve", {"notes": "fixed upstream"})
    assert done.status_code == 200
    assert _post(operator, csrf, f"/api/cases/{case_id}/resolve", {"notes": "x"}).status_code == 409
    assert _post(operator, csrf, f"/api/cases/{case_id}/ack").status_code == 409
    assigned = _post(operator, csrf, f"/api/cases/{case_id}/assign", {"owner": "admin"})
    assert assigned.status_code == 409
    note = _post(operator, csrf, f"/api/cases/{case_id}/comments", {"notes": "bank confirmed"})
    assert note.json() == {"id": case_id, "changed": True}
    blank = _post(operator, csrf, f"/api/cases/{case_id}/comments", {"notes": "  "})
    assert blank.status_code == 422
    item = operator.get(f"/api/cases/{case_id}").json()
    assert item["resolution_notes"] == "fixed upstream"  # the resolution is not replaced
    assert [(e["action"], e["notes"]) for e in item["events"]] == [("comment", "bank confirmed")]


def test_the_queue_filters_by_owner_and_acknowledgement(as_role: Login) -> None:
    admin, csrf = as_role("admin")
    t1 = _case(admin, "T1")["id"]
    _post(admin, csrf, f"/api/cases/{t1}/assign", {"owner": "admin"})
    _post(admin, csrf, f"/api/cases/{t1}/ack")

    def customers(query: str) -> set[str]:
        items = admin.get(f"/api/cases?date={DAY}&resolved=all&{query}").json()["items"]
        return {i["customer_id"] for i in items}

    everyone = customers("")
    assert customers("owner=me") == {"T1"} == customers("owner=admin")
    assert customers("owner=none") == everyone - {"T1"}
    assert customers("owner=operator") == set()
    assert customers("acknowledged=true") == {"T1"}
    assert customers("acknowledged=false") == everyone - {"T1"}
    assert customers("owner=&acknowledged=") == everyone  # empty fields mean any


def test_bulk_acknowledge_and_assign_state_their_count(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    open_cases = operator.get(f"/api/cases?date={DAY}").json()["total"]
    assert _post(operator, csrf, "/api/cases/ack").status_code == 422  # no date, no customer
    acked = _post(operator, csrf, f"/api/cases/ack?date={DAY}", {"notes": "morning round"})
    assert acked.json() == {"changed": open_cases}
    assert _post(operator, csrf, f"/api/cases/ack?date={DAY}").json() == {"changed": 0}
    bulk = _post(operator, csrf, f"/api/cases/assign?date={DAY}", {"owner": "operator"})
    assert bulk.json() == {"changed": open_cases}
    refused = _post(operator, csrf, f"/api/cases/assign?date={DAY}", {"owner": "ghost"})
    assert refused.status_code == 422
    mine = operator.get(f"/api/cases?date={DAY}&owner=me").json()["total"]
    assert mine == open_cases


def test_the_history_is_append_only_and_inside_the_audit_chain(
    engine: Engine, as_role: Login
) -> None:
    operator, csrf = as_role("operator")
    case_id = _case(operator, "T1")["id"]
    _post(operator, csrf, f"/api/cases/{case_id}/ack", {"notes": "on it"})
    _post(operator, csrf, f"/api/cases/{case_id}/comments", {"notes": "called the bank"})
    with engine.connect() as c:
        rows = c.execute(select(case_events)).all()
        report = verify(c)
    assert len(rows) == 2 and all(r.chain_hash for r in rows)
    # (The seeded attempts were written without hashes; the case's history was not.)
    assert [f for f in report.findings if f.table == "case_events"] == []
    assert report.segments == 2  # one sealed segment per action
    with pytest.raises(DatabaseError), engine.begin() as c:
        c.execute(update(case_events).values(notes="nothing happened"))
    with pytest.raises(DatabaseError), engine.begin() as c:
        c.execute(case_events.delete())
    # A database owner who drops the triggers is still found out.
    with engine.begin() as c:
        c.execute(text("DROP TRIGGER case_events_frozen"))
        c.execute(update(case_events).where(case_events.c.action == "comment").values(notes="x"))
    with engine.connect() as c:
        report = verify(c)
    found = [f.problem for f in report.findings if f.table == "case_events"]
    assert found[:1] == ["changed"]


def test_the_overview_says_how_long_problems_stay_open(as_role: Login) -> None:
    operator, csrf = as_role("operator")
    page = operator.get(f"/?date={DAY}").text
    assert 'data-testid="open-times"' in page and 'data-testid="ack-median">—<' in page
    case_id = _case(operator, "T1")["id"]
    _post(operator, csrf, f"/api/cases/{case_id}/ack")
    page = operator.get(f"/?date={DAY}").text
    median = page.split('data-testid="ack-median">')[1].split("<")[0]
    assert median.endswith(" h") and float(median.removesuffix(" h")) > 0
