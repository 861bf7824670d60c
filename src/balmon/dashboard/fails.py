"""The FAIL list: customers below their minimum balance on a business date, the result the
whole verification exists for; as a page, JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from balmon.compliance.as_csv import spreadsheet_cell
from balmon.dashboard import models
from balmon.dashboard.api import Viewer, default_day, engine_of
from balmon.dashboard.pages import page
from balmon.dashboard.params import AnyDay, CustomerId, Page
from balmon.engine.results import fails_of_date

api_router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
page_router = APIRouter()
PageSize = Annotated[int, Query(ge=1, le=500)]
COLUMNS = (
    "customer_id", "balance", "min_balance", "shortfall", "currency", "checked_at", "run_id",
)  # fmt: skip


def _item(row: Any) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "balance": str(row.balance),
        "min_balance": str(row.min_balance),
        "shortfall": str(row.min_balance - row.balance),
        "currency": row.currency,
        "checked_at": row.checked_at.isoformat(),
        "run_id": row.run_id,
    }


def _page(request: Request, day: Any, customer_id: str | None, page_no: int, size: int) -> Any:
    with engine_of(request).connect() as c:
        rows, total = fails_of_date(
            c, day, customer_id=customer_id or None, limit=size, offset=(page_no - 1) * size
        )
    return [_item(r) for r in rows], total


@api_router.get("/fails", response_model=models.Fails)
def fails(
    request: Request,
    who: Viewer,
    date: AnyDay = None,
    customer_id: CustomerId | None = None,
    page: Page = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    """The date's FAIL customers (latest result), by customer id."""
    day = default_day(request, date)
    items, total = _page(request, day, customer_id, page, page_size)
    return {"date": day.isoformat(), "items": items, "total": total}


@api_router.get(
    "/fails.csv",
    response_class=StreamingResponse,
    responses=models.csv_file("The FAIL list as CSV"),
)
def fails_csv(
    request: Request, who: Viewer, date: AnyDay = None, customer_id: CustomerId | None = None
) -> StreamingResponse:
    day = default_day(request, date)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["business_date", *COLUMNS])
        with engine_of(request).connect() as c:
            found, _ = fails_of_date(c, day, customer_id=customer_id or None)
        for row in found:
            item = _item(row)
            writer.writerow([day.isoformat(), *(spreadsheet_cell(item[k]) for k in COLUMNS)])
        yield buffer.getvalue()

    name = f"balmon-fails-{day.isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(rows(), media_type="text/csv", headers=headers)


@page_router.get("/fails", response_class=HTMLResponse)
def fails_page(
    request: Request,
    who: Viewer,
    date: AnyDay = None,
    customer_id: CustomerId | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    day = default_day(request, date)
    items, total = _page(request, day, customer_id, page_no, 100)
    return page(
        request,
        "fails.html",
        who,
        day=day,
        items=items,
        total=total,
        customer_id=customer_id or "",
        page_no=page_no,
        pages=max(1, -(-total // 100)),
        active="fails",
    )
