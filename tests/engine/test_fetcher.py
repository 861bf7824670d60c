"""A fetcher process's pipe to the run's writer: records of one outcome travel together."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime
from decimal import Decimal

from balmon.engine import fetcher
from balmon.engine.records import AlertRecord, ResultRecord
from balmon.engine.worker import Tally
from balmon.errors import ErrorCode
from balmon.storage.states import Status

AT = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_a_result_and_its_alert_are_sent_in_one_message() -> None:
    """The worker adds an UNAVAILABLE result, then its alert. Sent apart, a fetcher killed
    in between would leave a result whose alert is never raised: the resumed run skips the
    customer, who has a result."""
    fetcher_end, parent_end = multiprocessing.Pipe()
    sink = fetcher._PipeSink(fetcher_end, Tally())
    result = ResultRecord("C1", Status.UNAVAILABLE, None, Decimal(0), ErrorCode.TIMEOUT, 4, AT)
    alert = AlertRecord("C1", ErrorCode.TIMEOUT, 4, AT)

    async def unavailable() -> None:
        for n in range(fetcher._SEND_AT - 1):
            sink.add_result(ResultRecord(f"P{n}", Status.PASS, Decimal(1), Decimal(0), None, 1, AT))
        sink.add_result(result)  # the batch is full here
        sink.add_alert(alert)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(unavailable())
    kind, rows = parent_end.recv()
    assert kind == "rows"
    assert rows.results[-1] == result and rows.alerts == [alert]
