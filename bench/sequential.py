"""The story's own algorithm, as its pseudocode writes it, for the backoff benchmark's
baseline: one customer after another, each retried in place with `sleep(5)`, `sleep(10)`.

    def retrieve_customer_balance_with_retry(customer_id, max_retries=3):
        retry_delays = [5, 10, 20]
        for attempt in range(max_retries):
            try:
                balance = api_call_get_balance(customer_id)
                ...
            except ...:
                log_error(customer_id, code, attempt + 1)
                if attempt < max_retries - 1:
                    sleep(retry_delays[attempt])
                else:
                    alert_operations(code, customer_id)
                    return None

Run over the whole input it would take hours (every sleep holds up every customer after
it), so it is measured on a sample: the requests are made for real, one at a time, against
the same server with the same faults; the sleeps are added up instead of slept (they are
exact: `sleep(5)` takes 5 s). The total is extrapolated as (requests' time + sleeps) times
input size / sample size."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

RETRY_DELAYS = [5, 10, 20]
MAX_RETRIES = 3


@dataclass
class SequentialSample:
    customers: int
    request_seconds: float = 0.0
    slept_seconds: float = 0.0
    requests: int = 0
    alerts: int = 0

    def extrapolate(self, total_customers: int) -> float:
        return (self.request_seconds + self.slept_seconds) * total_customers / self.customers


def _api_call_get_balance(base: str, customer_id: str, timeout: float) -> Decimal | None:
    url = f"{base}/customers/{customer_id}/balance"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.loads(response.read(), parse_float=Decimal)
    balance = body.get("balance")
    return None if balance is None else Decimal(str(balance))


def run_sample(base: str, customer_ids: list[str], *, timeout: float = 30.0) -> SequentialSample:
    """The pseudocode over `customer_ids`, its sleeps counted, not slept."""
    sample = SequentialSample(customers=len(customer_ids))
    for customer_id in customer_ids:
        for attempt in range(MAX_RETRIES):
            started = time.perf_counter()
            sample.requests += 1
            try:
                answered = _api_call_get_balance(base, customer_id, timeout) is not None
            except (OSError, urllib.error.HTTPError, ValueError):
                answered = False  # TIMEOUT, API_ERROR, ... (map_exception_to_code)
            finally:
                sample.request_seconds += time.perf_counter() - started
            if answered:
                break
            # log_error(customer_id, code, attempt + 1): a log line, not timed
            if attempt < MAX_RETRIES - 1:
                sample.slept_seconds += RETRY_DELAYS[attempt]
            else:
                sample.alerts += 1  # alert_operations(code, customer_id)
    return sample
