"""The simulated core-banking Balance API (aiohttp), with per-customer fault injection."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiohttp import web

from balmon.banksim.faults import Fault, FaultPlan
from balmon.banksim.population import Population

_JSON = "application/json"
_HANG_LIMIT = 3600.0


@dataclass(frozen=True)
class SimulatorConfig:
    population: Population
    plan: FaultPlan
    token: str | None = None
    trickle_interval: float = 1.0
    # Seconds every balance request waits before it is answered (a bank's own latency).
    latency: float = 0.0


@dataclass
class SimulatorState:
    """What the bank saw: requests per customer (faulty ones included)."""

    requests: Counter[str] = field(default_factory=Counter)
    total_requests: int = 0


# How old a `stale` answer's snapshot is: older than any date a demo or a test runs.
STALE_AGE = timedelta(days=400)
# What a `jump` answer makes of the customer's balance: a thousand times it, and more.
JUMP_TIMES, JUMP_PLUS = 1000, Decimal("50000.00")


def _body(
    customer_id: str,
    balance: str | None,
    *,
    currency: str = "USD",
    as_of: datetime | None = None,
) -> str:
    value = "null" if balance is None else f'"{balance}"'
    when = (as_of or datetime.now(UTC)).isoformat(timespec="seconds")
    return (
        f'{{"customer_id": {json.dumps(customer_id)}, "balance": {value}, '
        f'"currency": "{currency}", "as_of": "{when}"}}'
    )


class BankSimulator:
    """Request handlers; one instance per running server."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.state = SimulatorState()

    async def balance(self, request: web.Request) -> web.StreamResponse:
        customer_id = request.match_info["customer_id"]
        self.state.requests[customer_id] += 1
        self.state.total_requests += 1
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        if (
            self.config.token
            and request.headers.get("Authorization") != f"Bearer {self.config.token}"
        ):
            return web.json_response({"error": "unauthorized"}, status=401)
        if customer_id not in self.config.population:
            return web.json_response({"error": "not found"}, status=404)
        fault = self.config.plan.fault_for(customer_id)
        if fault is None:
            return self._ok(customer_id)
        return await self._faulty(request, customer_id, fault)

    def _ok(self, customer_id: str, balance: Decimal | None = None) -> web.Response:
        value = balance if balance is not None else self.config.population.balance(customer_id)
        return web.Response(text=_body(customer_id, str(value)), content_type=_JSON)

    async def _faulty(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        if fault.kind in _WAITING:
            return await _WAITING[fault.kind](self, request, customer_id, fault)
        return _IMMEDIATE[fault.kind](self, customer_id, fault)

    async def _hang(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        # Wait for the client to give up; never answer.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _HANG_LIMIT
        while loop.time() < deadline and request.transport and not request.transport.is_closing():
            await asyncio.sleep(0.05)
        return web.Response(status=504)

    async def _trickle(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": _JSON})
        await response.prepare(request)
        body = _body(customer_id, str(self.config.population.balance(customer_id))).encode()
        try:
            for index in range(len(body)):
                await response.write(body[index : index + 1])
                await asyncio.sleep(self.config.trickle_interval)
        except (ConnectionResetError, RuntimeError):
            pass  # the client gave up, as it should
        return response

    async def _reset(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def _slow(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        await asyncio.sleep(fault.arg or 0.0)
        return self._ok(customer_id)

    async def _flaky(
        self, request: web.Request, customer_id: str, fault: Fault
    ) -> web.StreamResponse:
        if self.state.requests[customer_id] <= int(fault.arg or 0):
            return web.json_response({"error": "temporarily unavailable"}, status=503)
        return self._ok(customer_id)

    def _status(self, customer_id: str, fault: Fault) -> web.Response:
        status = int(fault.arg or 500)
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return web.json_response({"error": f"simulated {status}"}, status=status, headers=headers)

    def _missing(self, customer_id: str, fault: Fault) -> web.Response:
        return web.json_response({"error": "not found"}, status=404)

    def _malformed(self, customer_id: str, fault: Fault) -> web.Response:
        return web.Response(
            text=f'{{"customer_id": "{customer_id}", "balance": ', content_type=_JSON
        )

    def _html(self, customer_id: str, fault: Fault) -> web.Response:
        return web.Response(
            text="<html><body><h1>Service error</h1></body></html>", content_type="text/html"
        )

    def _wrong_id(self, customer_id: str, fault: Fault) -> web.Response:
        return web.Response(text=_body(customer_id + "X", "10.00"), content_type=_JSON)

    def _null(self, customer_id: str, fault: Fault) -> web.Response:
        return web.Response(text=_body(customer_id, None), content_type=_JSON)

    def _negative(self, customer_id: str, fault: Fault) -> web.Response:
        return self._ok(customer_id, -self.config.population.balance(customer_id) - Decimal("0.01"))

    def _stale(self, customer_id: str, fault: Fault) -> web.Response:
        balance = str(self.config.population.balance(customer_id))
        as_of = datetime.now(UTC) - STALE_AGE
        return web.Response(text=_body(customer_id, balance, as_of=as_of), content_type=_JSON)

    def _currency(self, customer_id: str, fault: Fault) -> web.Response:
        balance = str(self.config.population.balance(customer_id))
        return web.Response(text=_body(customer_id, balance, currency="EUR"), content_type=_JSON)

    def _jump(self, customer_id: str, fault: Fault) -> web.Response:
        return self._ok(
            customer_id, self.config.population.balance(customer_id) * JUMP_TIMES + JUMP_PLUS
        )

    def _zero(self, customer_id: str, fault: Fault) -> web.Response:
        return web.Response(text=_body(customer_id, "0.00"), content_type=_JSON)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"total_requests": self.state.total_requests})


_WAITING = {
    "timeout": BankSimulator._hang,
    "trickle": BankSimulator._trickle,
    "reset": BankSimulator._reset,
    "slow": BankSimulator._slow,
    "flaky": BankSimulator._flaky,
}
_IMMEDIATE = {
    "status": BankSimulator._status,
    "missing": BankSimulator._missing,
    "malformed": BankSimulator._malformed,
    "html": BankSimulator._html,
    "wrong-id": BankSimulator._wrong_id,
    "null": BankSimulator._null,
    "negative": BankSimulator._negative,
    "stale": BankSimulator._stale,
    "stale_feed": BankSimulator._stale,
    "currency": BankSimulator._currency,
    "jump": BankSimulator._jump,
    "zero": BankSimulator._zero,
}


def build_app(simulator: BankSimulator) -> web.Application:
    """The aiohttp application serving the Balance API contract."""
    app = web.Application()
    app.router.add_get("/customers/{customer_id}/balance", simulator.balance)
    app.router.add_get("/_sim/stats", simulator.stats)
    return app
