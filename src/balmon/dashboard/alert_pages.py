"""The Alerts page: what balmon sent or holds, per channel, with the cases each is about."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from balmon.alerts import outbox
from balmon.dashboard import models
from balmon.dashboard.api import Viewer, engine_of
from balmon.dashboard.pages import page
from balmon.dashboard.params import Page

api_router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
page_router = APIRouter()
PAGE_SIZE = 50


def _delivery(row: Any) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "updated_at": row.updated_at.isoformat(),
    }


def _messages(request: Request, page_no: int, size: int) -> tuple[list[dict[str, Any]], int]:
    with engine_of(request).connect() as c:
        rows, total = outbox.messages(c, limit=size, offset=(page_no - 1) * size)
        ids = [r.id for r in rows]
        deliveries = outbox.deliveries_of_messages(c, ids)
        customers = outbox.customers_of_messages(c, ids)
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "created_at": r.created_at.isoformat(),
            "business_date": r.business_date.isoformat() if r.business_date else None,
            "run_id": r.run_id,
            "error_code": r.error_code,
            "severity": r.severity,
            "customers": r.customers_count,
            "title": r.title,
            "body": r.body,
            "about": [
                {"customer_id": a.customer_id, "business_date": a.business_date.isoformat()}
                for a in customers[r.id]
            ],
            "deliveries": [_delivery(d) for d in deliveries[r.id]],
        }
        for r in rows
    ]
    return items, total


@api_router.get("/alerts", response_model=models.Messages)
def alerts_api(
    request: Request,
    who: Viewer,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> dict[str, Any]:
    """Messages, newest first, with each channel's delivery and the customers they name."""
    items, total = _messages(request, page, page_size)
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@page_router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    who: Viewer,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    message: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    if message is not None:  # the page that holds this message (a case links to it)
        with engine_of(request).connect() as c:
            page_no = outbox.newer_messages(c, message) // PAGE_SIZE + 1
    items, total = _messages(request, page_no, PAGE_SIZE)
    return page(
        request,
        "alerts.html",
        who,
        items=items,
        total=total,
        page_no=page_no,
        focus=message,
        pages=max(1, -(-total // PAGE_SIZE)),
        active="alerts",
    )
