"""Run the simulator: in the current loop, in a background thread, or as the CLI's server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

from aiohttp import web

from balmon.aio import new_event_loop
from balmon.banksim.faults import FaultPlan, read_faults
from balmon.banksim.population import Population
from balmon.banksim.server import BankSimulator, SimulatorConfig, SimulatorState, build_app


def config_from_options(
    *,
    customers_file: Path | None,
    generate: int | None,
    faults_file: Path | None,
    fault_rate: float,
    seed: int = 42,
    token: str | None = None,
    trickle_interval: float = 1.0,
    latency: float = 0.0,
) -> SimulatorConfig:
    """Build a configuration from the CLI's options; ValueError with one clear line when bad."""
    if (customers_file is None) == (generate is None):
        raise ValueError("give exactly one of --customers FILE or --generate N")
    if not 0 <= latency <= 60:
        raise ValueError("--latency must be between 0 and 60 seconds")
    if customers_file is not None:
        population = Population.from_file(customers_file, seed)
    else:
        population = Population(generated=generate or 0, seed=seed)
    explicit = read_faults(faults_file) if faults_file else {}
    plan = FaultPlan(explicit, fault_rate, seed)
    return SimulatorConfig(
        population, plan, token=token, trickle_interval=trickle_interval, latency=latency
    )


class RunningSimulator:
    def __init__(self, simulator: BankSimulator, url: str) -> None:
        self.url = url
        self.state: SimulatorState = simulator.state


async def _start(
    config: SimulatorConfig, host: str, port: int
) -> tuple[web.AppRunner, RunningSimulator]:
    simulator = BankSimulator(config)
    runner = web.AppRunner(build_app(simulator), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, RunningSimulator(simulator, f"http://{host}:{bound}")


async def _shutdown(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # Handlers of hanging faults may outlive the server; end them before the loop closes.
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


@asynccontextmanager
async def running_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Serve in the current event loop for the duration of the block."""
    runner, running = await _start(config, host, port)
    try:
        yield running
    finally:
        await runner.cleanup()


class SimulatorThread:
    """Serve from a daemon thread with its own event loop (for sync tests and the demo)."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config, self._host, self._port = config, host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bank-sim", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.state = SimulatorState()

    def start(self) -> SimulatorThread:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            _start(self._config, self._host, self._port), self._loop
        )
        self._runner, running = future.result(timeout=10)
        self.url, self.state = running.url, running.state
        return self

    def stop(self) -> None:
        if self._runner is not None:
            stopping = _shutdown(self._runner)
            asyncio.run_coroutine_threadsafe(stopping, self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(config: SimulatorConfig, host: str, port: int) -> None:
    """Serve until interrupted (the `balmon bank-sim` command)."""
    simulator = BankSimulator(config)
    print(
        f"bank simulator: {len(config.population):,} customers at http://{host}:{port}", flush=True
    )
    web.run_app(
        build_app(simulator),
        host=host,
        port=port,
        access_log=None,
        print=None,
        backlog=1024,
        loop=new_event_loop(),
    )
